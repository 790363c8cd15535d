//! Values written as strings in the file and on the command line: [`ParseError`] and the serde glue
//! that routes a string through `FromStr`, so the file and clap reject the same inputs with the same
//! words.
//!
//! Never panics on user input.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

/// A string that is not a valid value of its kind (forwarding mode, MAC address, core list, ...).
///
/// Displays as `invalid <what> "<input>": <reason>`; works as a clap `value_parser` error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {input:?}: {reason}")]
pub struct ParseError {
    what: &'static str,
    input: String,
    reason: String,
}

impl ParseError {
    pub(crate) fn new(what: &'static str, input: &str, reason: impl Into<String>) -> Self {
        Self {
            what,
            input: input.to_owned(),
            reason: reason.into(),
        }
    }

    /// The kind of value that failed, e.g. `"forwarding mode"`.
    pub fn what(&self) -> &'static str {
        self.what
    }

    /// The rejected input, verbatim.
    pub fn input(&self) -> &str {
        &self.input
    }
}

/// Deserializes a `T: FromStr` from a TOML string; `expecting` finishes "invalid type: ..., expected".
pub(crate) fn deserialize_from_str<'de, D, T>(
    deserializer: D,
    expecting: &'static str,
) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: FromStr<Err = ParseError>,
{
    deserializer.deserialize_str(FromStrVisitor(expecting, PhantomData))
}

struct FromStrVisitor<T>(&'static str, PhantomData<T>);

impl<T: FromStr<Err = ParseError>> serde::de::Visitor<'_> for FromStrVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
        v.parse().map_err(E::custom)
    }
}
