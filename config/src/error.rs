//! [`ConfigError`]: why a configuration was rejected, naming the file and the dotted key.
//!
//! Displays as `<file>: <key.path>: <reason>`, `<file>: line <n>: invalid TOML: <reason>` or
//! `<file>: cannot read: <reason>`. Errors from [`Config::validate`](crate::Config::validate) on
//! a config that did not come from a file have no file part until
//! [`ConfigError::with_origin`] adds one.

use std::fmt;
use std::io;

/// A configuration that could not be read, parsed or accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{origin}: cannot read: {reason}")]
    Read {
        /// The file as named by the caller.
        origin: String,
        /// What the OS said, classified.
        kind: io::ErrorKind,
        /// What the OS said, without the `(os error N)` suffix.
        reason: String,
    },
    /// The text is not TOML.
    #[error("{origin}: line {line}: invalid TOML: {reason}")]
    Syntax {
        /// The file (or other origin) of the text.
        origin: String,
        /// 1-based line of the offending text.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
        /// The TOML parser's description.
        reason: String,
    },
    /// A key is unknown, has the wrong type, or its value is out of range.
    #[error("{}{key}: {reason}", OriginPrefix(origin.as_deref()))]
    Key {
        /// The file (or other origin), if known.
        origin: Option<String>,
        /// Dotted path as written in TOML, e.g. `forwarding.burst`, `port[1].devargs`,
        /// `forwarding.txpkts[0]`.
        key: String,
        /// What is wrong, quoting the offending value.
        reason: String,
    },
}

impl ConfigError {
    pub(crate) fn key(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Key {
            origin: None,
            key: key.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn read(origin: &str, err: &io::Error) -> Self {
        let reason = err.to_string();
        // `io::Error` appends " (os error N)" to OS errors; the kind already says it.
        let reason = match reason.rfind(" (os error ") {
            Some(at) if reason.ends_with(')') => reason[..at].to_owned(),
            _ => reason,
        };
        Self::Read {
            origin: origin.to_owned(),
            kind: err.kind(),
            reason,
        }
    }

    /// Names the file (or e.g. `"command line"`) the offending value came from, if the error does
    /// not name one yet.
    #[must_use]
    pub fn with_origin(mut self, new: &str) -> Self {
        if let Self::Key {
            origin: origin @ None,
            ..
        } = &mut self
        {
            *origin = Some(new.to_owned());
        }
        self
    }

    /// The file (or other origin) the error is about, if known.
    pub fn origin(&self) -> Option<&str> {
        match self {
            Self::Read { origin, .. } | Self::Syntax { origin, .. } => Some(origin),
            Self::Key { origin, .. } => origin.as_deref(),
        }
    }

    /// The dotted key path, for errors about one key (e.g. to map it back to a CLI flag).
    pub fn key_path(&self) -> Option<&str> {
        match self {
            Self::Key { key, .. } => Some(key),
            _ => None,
        }
    }
}

struct OriginPrefix<'a>(Option<&'a str>);

impl fmt::Display for OriginPrefix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(origin) => write!(f, "{origin}: "),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_forms() {
        let e = ConfigError::key("forwarding.burst", "must be between 1 and 512, got 0");
        assert_eq!(
            e.to_string(),
            "forwarding.burst: must be between 1 and 512, got 0"
        );
        let e = e.with_origin("fwd.toml").with_origin("ignored.toml");
        assert_eq!(
            e.to_string(),
            "fwd.toml: forwarding.burst: must be between 1 and 512, got 0"
        );
        assert_eq!(e.origin(), Some("fwd.toml"));
        assert_eq!(e.key_path(), Some("forwarding.burst"));

        let io = io::Error::from_raw_os_error(2);
        let e = ConfigError::read("missing.toml", &io);
        assert_eq!(
            e.to_string(),
            "missing.toml: cannot read: No such file or directory"
        );
        assert_eq!(e.key_path(), None);
    }
}
