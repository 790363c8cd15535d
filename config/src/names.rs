//! The named choices of `vpmd-fwd`: [`ForwardMode`], [`PortTopology`] and [`HugepageMode`].
//!
//! Each is spelled in lowercase, the same in the file, on the command line (`FromStr`, for clap)
//! and in output (`Display`, serde). An unknown name is rejected with the list of valid ones.

use std::fmt;
use std::str::FromStr;

use crate::parse::{deserialize_from_str, ParseError};

macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident: $what:literal {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in documentation order.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)+];

            /// The name used in the file, on the command line and in output.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }

        impl FromStr for $name {
            type Err = ParseError;

            fn from_str(s: &str) -> Result<Self, ParseError> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(ParseError::new(
                        $what,
                        s,
                        format!("expected one of {}", [$($text),+].join(", ")),
                    )),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                deserialize_from_str(d, concat!("a ", $what, " name"))
            }
        }
    };
}

named_enum! {
    /// What each forwarding core does with a burst (testpmd `--forward-mode`).
    pub enum ForwardMode: "forwarding mode" {
        /// Forward packets unchanged.
        Io = "io",
        /// Rewrite the source MAC to the port's and the destination MAC to its `eth_peer`.
        Mac = "mac",
        /// Swap source and destination MAC.
        MacSwap = "macswap",
        /// Receive and free.
        RxOnly = "rxonly",
        /// Generate packets of `txpkts` segments and transmit; receive nothing.
        TxOnly = "txonly",
        /// Swap source and destination MAC, IPv4/IPv6 address and TCP/UDP port.
        FiveTupleSwap = "5tswap",
        /// Generate UDP/IPv4 packets over `flowgen_flows` destination addresses; free what
        /// arrives.
        FlowGen = "flowgen",
        /// Check and fill IPv4, TCP and UDP checksums in software, then forward.
        Csum = "csum",
        /// Answer ARP requests and ICMP echo requests; drop everything else.
        IcmpEcho = "icmpecho",
    }
}

named_enum! {
    /// How ports are paired into streams (testpmd `--port-topology`).
    pub enum PortTopology: "port topology" {
        /// 0 <-> 1, 2 <-> 3, ...
        Paired = "paired",
        /// 0 -> 1 -> 2 -> ... -> 0.
        Chained = "chained",
        /// Each port sends back out of itself.
        Loop = "loop",
    }
}

named_enum! {
    /// Whether the mempool is backed by 2 MiB hugepages.
    pub enum HugepageMode: "hugepage mode" {
        /// Hugepages if available, else normal pages with `MADV_HUGEPAGE` (logged).
        Auto = "auto",
        /// Normal pages only.
        Never = "never",
        /// Hugepages or fail.
        Require = "require",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for &m in ForwardMode::ALL {
            assert_eq!(m.to_string().parse::<ForwardMode>(), Ok(m));
        }
        for &t in PortTopology::ALL {
            assert_eq!(t.as_str().parse::<PortTopology>(), Ok(t));
        }
        for &h in HugepageMode::ALL {
            assert_eq!(h.as_str().parse::<HugepageMode>(), Ok(h));
        }
    }

    #[test]
    fn unknown_name_lists_valid_ones() {
        let e = "noisy".parse::<ForwardMode>().unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"invalid forwarding mode "noisy": expected one of io, mac, macswap, rxonly, txonly, 5tswap, flowgen, csum, icmpecho"#
        );
        let e = "IO".parse::<ForwardMode>().unwrap_err();
        assert_eq!(e.input(), "IO");
        let e = "ring".parse::<PortTopology>().unwrap_err();
        assert!(e
            .to_string()
            .ends_with("expected one of paired, chained, loop"));
        let e = "yes".parse::<HugepageMode>().unwrap_err();
        assert!(e
            .to_string()
            .ends_with("expected one of auto, never, require"));
    }
}
