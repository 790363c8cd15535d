//! [`CoreList`]: the DPDK `-l` core list (`"0,1"`, `"0-3"`, `"1-3,8"`).
//!
//! Never panics on user input, and never allocates more than [`LCORE_MAX`] ids.

use std::fmt;
use std::str::FromStr;

use crate::parse::{deserialize_from_str, ParseError};

/// Core ids must be below this (DPDK's default `RTE_MAX_LCORE`, vpmd's `MAX_LCORES`).
pub const LCORE_MAX: u32 = 128;

/// A set of CPU ids, as DPDK's `-l`: comma-separated ids or inclusive `low-high` ranges.
///
/// Kept sorted and without duplicates; the first id is the main lcore, as in DPDK. Displays in
/// the compact form (`"0-3,8"`). Never empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CoreList {
    ids: Vec<u32>,
}

impl CoreList {
    /// For constants: `ids` must be ascending, unique, non-empty and below [`LCORE_MAX`].
    pub(crate) fn from_ids_unchecked(ids: Vec<u32>) -> Self {
        debug_assert!(!ids.is_empty() && ids.windows(2).all(|w| w[0] < w[1]));
        Self { ids }
    }

    /// The ids, ascending.
    pub fn ids(&self) -> &[u32] {
        &self.ids
    }

    /// How many cores are listed (at least one).
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Always false: a `CoreList` lists at least one core.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The main lcore: the lowest id.
    pub fn main(&self) -> u32 {
        self.ids.first().copied().unwrap_or(0)
    }

    /// The cores after the main lcore, which run forwarding streams.
    pub fn workers(&self) -> &[u32] {
        self.ids.get(1..).unwrap_or(&[])
    }
}

impl FromStr for CoreList {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        let err = |reason: String| ParseError::new("core list", s, reason);
        let id = |t: &str| -> Result<u32, ParseError> {
            let t = t.trim();
            match t.parse::<u32>() {
                Ok(n) if n < LCORE_MAX && !t.starts_with('+') => Ok(n),
                Ok(_) => Err(err(format!("core ids must be below {LCORE_MAX}"))),
                Err(_) => Err(err(format!(
                    "{t:?} is not a core id; expected ids or ranges like \"0,1\" or \"0-3\""
                ))),
            }
        };
        let mut present = [false; LCORE_MAX as usize];
        for item in s.split(',') {
            let (low, high) = match item.split_once('-') {
                Some((low, high)) => (id(low)?, id(high)?),
                None => {
                    let n = id(item)?;
                    (n, n)
                }
            };
            if low > high {
                return Err(err(format!("range {low}-{high} is reversed")));
            }
            for n in low..=high {
                present[n as usize] = true;
            }
        }
        let ids = (0..LCORE_MAX).filter(|&n| present[n as usize]).collect();
        Ok(Self { ids })
    }
}

impl fmt::Display for CoreList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.ids.as_slice();
        let mut first = true;
        while let Some(&low) = rest.first() {
            // Length of the run of consecutive ids starting at `low`.
            let run = rest
                .iter()
                .zip(low..)
                .take_while(|(&id, expected)| id == *expected)
                .count();
            let high = rest[run - 1];
            rest = &rest[run..];
            if !first {
                f.write_str(",")?;
            }
            first = false;
            match high - low {
                0 => write!(f, "{low}")?,
                1 => write!(f, "{low},{high}")?,
                _ => write!(f, "{low}-{high}")?,
            }
        }
        Ok(())
    }
}

impl serde::Serialize for CoreList {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for CoreList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_from_str(d, "a core list string like \"0,1\" or \"0-3\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(s: &str) -> Vec<u32> {
        s.parse::<CoreList>().unwrap().ids().to_vec()
    }

    #[test]
    fn parses_dpdk_forms() {
        assert_eq!(ids("0,1"), [0, 1]);
        assert_eq!(ids("0-3"), [0, 1, 2, 3]);
        assert_eq!(ids("8, 1-3"), [1, 2, 3, 8]);
        assert_eq!(ids("2,2,1-2"), [1, 2]);
        assert_eq!(ids("127"), [127]);
    }

    #[test]
    fn displays_compact() {
        for (input, shown) in [
            ("0,1", "0,1"),
            ("0-3", "0-3"),
            ("3,1,2,7,9-10", "1-3,7,9,10"),
            ("5", "5"),
        ] {
            let list: CoreList = input.parse().unwrap();
            assert_eq!(list.to_string(), shown);
            assert_eq!(shown.parse::<CoreList>().unwrap(), list);
        }
    }

    #[test]
    fn main_and_workers() {
        let list: CoreList = "4,2-3".parse().unwrap();
        assert_eq!(list.main(), 2);
        assert_eq!(list.workers(), [3, 4]);
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "", ",", "0,", "a", "0-", "-1", "3-1", "0-128", "128", "+1", "0x1", "0-1-2", "0..3",
        ] {
            let e = bad.parse::<CoreList>().unwrap_err();
            assert_eq!(e.input(), bad, "{e}");
        }
        let e = "3-1".parse::<CoreList>().unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"invalid core list "3-1": range 3-1 is reversed"#
        );
    }
}
