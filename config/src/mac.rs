//! Ethernet addresses: [`MacAddr`] (`02:00:00:00:00:01`) and [`EthPeer`], the `--eth-peer N,MAC`
//! argument.
//!
//! Never panics on user input.

use std::fmt;
use std::str::FromStr;

use crate::parse::{deserialize_from_str, ParseError};

/// A 48-bit Ethernet address. Parses six `:`-separated pairs of hex digits (either case);
/// displays them in uppercase, as DPDK prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// The address from its six octets, first on the wire first.
    pub const fn new(octets: [u8; 6]) -> Self {
        Self(octets)
    }

    /// The six octets, first on the wire first.
    pub const fn octets(self) -> [u8; 6] {
        self.0
    }
}

impl FromStr for MacAddr {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        let bad = || {
            ParseError::new(
                "MAC address",
                s,
                "expected six hex octets like 02:00:00:00:00:01",
            )
        };
        let mut octets = [0u8; 6];
        let mut parts = s.split(':');
        for octet in &mut octets {
            let part = parts.next().ok_or_else(bad)?;
            if part.len() != 2 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad());
            }
            *octet = u8::from_str_radix(part, 16).map_err(|_| bad())?;
        }
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(Self(octets))
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02X}:{b:02X}:{c:02X}:{d:02X}:{e:02X}:{g:02X}")
    }
}

impl serde::Serialize for MacAddr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for MacAddr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_from_str(d, "a MAC address string like \"02:00:00:00:00:01\"")
    }
}

/// One `--eth-peer N,XX:XX:XX:XX:XX:XX`: the destination MAC that `mac` forwarding writes for
/// packets sent out of port `N`. The app inserts it into
/// [`ForwardingConfig::eth_peer`](crate::ForwardingConfig::eth_peer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EthPeer {
    /// Port index, the position in the `[[port]]` list.
    pub port: u16,
    /// The peer's address.
    pub mac: MacAddr,
}

impl FromStr for EthPeer {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        let (port, mac) = s.split_once(',').ok_or_else(|| {
            ParseError::new("eth peer", s, "expected PORT,MAC like 0,02:00:00:00:00:01")
        })?;
        let port = port.trim().parse().map_err(|_| {
            ParseError::new(
                "eth peer",
                s,
                "the port must be an integer between 0 and 65535",
            )
        })?;
        let mac = mac.trim().parse()?;
        Ok(Self { port, mac })
    }
}

impl fmt::Display for EthPeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},{}", self.port, self.mac)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_round_trip() {
        let mac: MacAddr = "02:00:00:0a:Bc:ff".parse().unwrap();
        assert_eq!(mac.octets(), [0x02, 0, 0, 0x0a, 0xbc, 0xff]);
        assert_eq!(mac.to_string(), "02:00:00:0A:BC:FF");
        assert_eq!(mac.to_string().parse::<MacAddr>(), Ok(mac));
    }

    #[test]
    fn mac_rejects_malformed() {
        for bad in [
            "",
            "02:00:00:00:00",
            "02:00:00:00:00:01:02",
            "02:00:00:00:00:1",
            "02:00:00:00:00:001",
            "02-00-00-00-00-01",
            "02:00:00:00:00:0g",
            "+2:00:00:00:00:01",
            "02:00:00:00:00:01:",
        ] {
            let e = bad.parse::<MacAddr>().unwrap_err();
            assert_eq!(e.input(), bad);
            assert!(e.to_string().contains("02:00:00:00:00:01"), "{e}");
        }
    }

    #[test]
    fn eth_peer_parses_cli_form() {
        let p: EthPeer = "1,02:00:00:00:00:02".parse().unwrap();
        assert_eq!(p.port, 1);
        assert_eq!(p.mac, MacAddr::new([2, 0, 0, 0, 0, 2]));
        assert_eq!(p.to_string(), "1,02:00:00:00:00:02");
        assert!("x,02:00:00:00:00:02".parse::<EthPeer>().is_err());
        assert!("02:00:00:00:00:02".parse::<EthPeer>().is_err());
        assert!("70000,02:00:00:00:00:02".parse::<EthPeer>().is_err());
        let e = "0,02:00".parse::<EthPeer>().unwrap_err();
        assert_eq!(e.what(), "MAC address");
    }
}
