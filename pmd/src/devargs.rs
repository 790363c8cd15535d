//! DPDK-style device arguments: `net_vpmd_null0,size=64,copy=1`.
//!
//! The first token names the device instance (driver name + optional instance suffix);
//! the rest are `key=value` pairs. A driver reads them through [`DevargsReader`], which
//! rejects unknown and repeated keys and values that do not parse, naming the key and the
//! value, so a typo never silently falls back to a default.

use std::collections::BTreeSet;
use std::str::FromStr;

/// A parsed devargs string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Devargs {
    name: String,
    args: Vec<(String, String)>,
}

/// A devargs string or value the user got wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DevargsError {
    /// Nothing before the first comma.
    #[error("devargs '{0}': missing device name")]
    NoName(String),
    /// A token with no `=`.
    #[error("device {dev}: argument '{token}' is not key=value")]
    NotKeyValue {
        /// The device name.
        dev: String,
        /// The offending token.
        token: String,
    },
    /// No driver is registered under this name.
    #[error("device {dev}: unknown driver (known drivers: {known})")]
    UnknownDriver {
        /// The device name.
        dev: String,
        /// Comma-separated registered driver names.
        known: String,
    },
    /// A key the driver does not take.
    #[error("device {dev}: unknown key '{key}' (valid keys: {valid})")]
    UnknownKey {
        /// The device name.
        dev: String,
        /// The offending key.
        key: String,
        /// Comma-separated keys the driver takes.
        valid: String,
    },
    /// A key given twice.
    #[error("device {dev}: key '{key}' given more than once")]
    Duplicate {
        /// The device name.
        dev: String,
        /// The repeated key.
        key: String,
    },
    /// A value that does not parse or is out of range.
    #[error("device {dev}: bad value '{value}' for key '{key}': {reason}")]
    BadValue {
        /// The device name.
        dev: String,
        /// The key.
        key: String,
        /// The offending value.
        value: String,
        /// What the key accepts.
        reason: String,
    },
    /// A required key is absent.
    #[error("device {dev}: missing required key '{key}'")]
    Missing {
        /// The device name.
        dev: String,
        /// The required key.
        key: String,
    },
}

impl FromStr for Devargs {
    type Err = DevargsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut tokens = s.split(',');
        let name = tokens.next().unwrap_or("").trim();
        if name.is_empty() || name.contains('=') {
            return Err(DevargsError::NoName(s.to_string()));
        }
        let mut args = Vec::new();
        for token in tokens {
            let (k, v) = token
                .split_once('=')
                .filter(|(k, _)| !k.trim().is_empty())
                .ok_or_else(|| DevargsError::NotKeyValue {
                    dev: name.to_string(),
                    token: token.to_string(),
                })?;
            args.push((k.trim().to_string(), v.trim().to_string()));
        }
        Ok(Self {
            name: name.to_string(),
            args,
        })
    }
}

impl std::fmt::Display for Devargs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)?;
        for (k, v) in &self.args {
            write!(f, ",{k}={v}")?;
        }
        Ok(())
    }
}

impl Devargs {
    /// The device instance name (`net_vpmd_null0`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The driver part of the name: the instance name without its trailing digits.
    pub fn driver(&self) -> &str {
        self.name.trim_end_matches(|c: char| c.is_ascii_digit())
    }

    /// A reader that accepts only `valid` keys, each at most once.
    pub fn reader<'a>(&'a self, valid: &[&str]) -> Result<DevargsReader<'a>, DevargsError> {
        let mut seen = BTreeSet::new();
        for (k, _) in &self.args {
            if !valid.contains(&k.as_str()) {
                return Err(DevargsError::UnknownKey {
                    dev: self.name.clone(),
                    key: k.clone(),
                    valid: valid.join(", "),
                });
            }
            if !seen.insert(k.as_str()) {
                return Err(DevargsError::Duplicate {
                    dev: self.name.clone(),
                    key: k.clone(),
                });
            }
        }
        Ok(DevargsReader { args: self })
    }
}

/// Typed access to validated devargs.
#[derive(Debug)]
pub struct DevargsReader<'a> {
    args: &'a Devargs,
}

impl DevargsReader<'_> {
    /// The raw value of `key`, if given.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.args
            .args
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The raw value of a required key.
    pub fn require(&self, key: &str) -> Result<&str, DevargsError> {
        self.get(key).ok_or_else(|| DevargsError::Missing {
            dev: self.args.name.clone(),
            key: key.to_string(),
        })
    }

    /// An error for `key=value` with `reason`.
    pub fn bad(&self, key: &str, value: &str, reason: impl Into<String>) -> DevargsError {
        DevargsError::BadValue {
            dev: self.args.name.clone(),
            key: key.to_string(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    /// An unsigned integer in `range`, or `default` when absent.
    pub fn uint<T>(
        &self,
        key: &str,
        range: std::ops::RangeInclusive<T>,
        default: T,
    ) -> Result<T, DevargsError>
    where
        T: FromStr + PartialOrd + Copy + std::fmt::Display,
    {
        let Some(v) = self.get(key) else {
            return Ok(default);
        };
        let reason = || format!("expected an integer in {}..={}", range.start(), range.end());
        let n: T = v.parse().map_err(|_| self.bad(key, v, reason()))?;
        if !range.contains(&n) {
            return Err(self.bad(key, v, reason()));
        }
        Ok(n)
    }

    /// A boolean given as `0` or `1`, or `default` when absent.
    pub fn flag(&self, key: &str, default: bool) -> Result<bool, DevargsError> {
        match self.get(key) {
            None => Ok(default),
            Some("0") => Ok(false),
            Some("1") => Ok(true),
            Some(v) => Err(self.bad(key, v, "expected 0 or 1")),
        }
    }

    /// A MAC address `XX:XX:XX:XX:XX:XX`, or `None` when absent.
    pub fn mac(&self, key: &str) -> Result<Option<[u8; 6]>, DevargsError> {
        self.get(key)
            .map(|v| parse_mac(v).ok_or_else(|| self.bad(key, v, "expected XX:XX:XX:XX:XX:XX")))
            .transpose()
    }

    /// The port's MAC address: `key` if given, else vpmd's locally administered
    /// default for port `port`, `02:76:70:6d:<port>` ("vpm").
    pub fn port_mac(&self, key: &str, port: u16) -> Result<[u8; 6], DevargsError> {
        let [hi, lo] = port.to_be_bytes();
        Ok(self.mac(key)?.unwrap_or([0x02, 0x76, 0x70, 0x6d, hi, lo]))
    }
}

/// Parses `XX:XX:XX:XX:XX:XX` (two hex digits per byte), as devargs and xenstore write
/// MAC addresses.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut mac {
        let p = parts.next()?;
        if p.len() != 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_parse_strictly() {
        assert_eq!(
            parse_mac("00:16:3e:0a:0b:0c"),
            Some([0, 0x16, 0x3e, 10, 11, 12])
        );
        for bad in [
            "",
            "00:16:3e:0a:0b",
            "00:16:3e:0a:0b:0c:0d",
            "0:16:3e:0a:0b:0c",
            "zz:16:3e:0a:0b:0c",
        ] {
            assert_eq!(parse_mac(bad), None, "{bad}");
        }
    }

    #[test]
    fn parses_name_and_pairs() {
        let d: Devargs = "net_vpmd_null0,size=64, copy = 1".parse().unwrap();
        assert_eq!(d.name(), "net_vpmd_null0");
        assert_eq!(d.driver(), "net_vpmd_null");
        let r = d.reader(&["size", "copy"]).unwrap();
        assert_eq!(r.uint::<u16>("size", 14..=9000, 0).unwrap(), 64);
        assert!(r.flag("copy", false).unwrap());
        assert_eq!(d.to_string(), "net_vpmd_null0,size=64,copy=1");
    }

    #[test]
    fn rejects_malformed_strings() {
        assert!(matches!(
            "".parse::<Devargs>(),
            Err(DevargsError::NoName(_))
        ));
        assert!(matches!(
            ",size=1".parse::<Devargs>(),
            Err(DevargsError::NoName(_))
        ));
        let e = "net_vpmd_null0,size".parse::<Devargs>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "device net_vpmd_null0: argument 'size' is not key=value"
        );
    }

    #[test]
    fn unknown_duplicate_and_bad_values_name_the_key_and_value() {
        let d: Devargs = "net_vpmd_null0,sise=64".parse().unwrap();
        assert_eq!(
            d.reader(&["size"]).unwrap_err().to_string(),
            "device net_vpmd_null0: unknown key 'sise' (valid keys: size)"
        );
        let d: Devargs = "net_vpmd_null0,size=1,size=2".parse().unwrap();
        assert!(matches!(
            d.reader(&["size"]),
            Err(DevargsError::Duplicate { .. })
        ));
        let d: Devargs = "net_vpmd_null0,size=huge,copy=2".parse().unwrap();
        let r = d.reader(&["size", "copy"]).unwrap();
        assert_eq!(
            r.uint::<u16>("size", 14..=9000, 64).unwrap_err().to_string(),
            "device net_vpmd_null0: bad value 'huge' for key 'size': expected an integer in 14..=9000"
        );
        assert!(r
            .flag("copy", false)
            .unwrap_err()
            .to_string()
            .contains("'2'"));
        let d: Devargs = "net_vpmd_null0,size=10".parse().unwrap();
        let r = d.reader(&["size"]).unwrap();
        assert!(r.uint::<u16>("size", 14..=9000, 64).is_err());
        assert_eq!(
            r.require("iface").unwrap_err().to_string(),
            "device net_vpmd_null0: missing required key 'iface'"
        );
    }
}
