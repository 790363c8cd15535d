//! The loaders, [`Config::from_file`] and [`Config::from_toml_str`], and the translation of TOML
//! and serde errors into [`ConfigError`]s that name the file and the dotted key.
//!
//! serde's messages name a field but not where it sits, so the key path is recovered by finding
//! the key or value whose span in the spanned document holds the error's span.

use std::ops::Range;
use std::path::Path;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::{Config, ConfigError};

impl Config {
    /// Reads, parses and validates the file at `path`. Errors are prefixed with `path` as given.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::read(&origin, &e))?;
        Self::from_toml_str(&text, &origin)
    }

    /// Parses and validates TOML `text`; `origin` (usually the file name) prefixes errors.
    /// Missing sections and keys take their defaults, so `""` gives [`Config::default`].
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|e| decode_error(text, origin, &e))?;
        config.validate().map_err(|e| e.with_origin(origin))?;
        Ok(config)
    }
}

/// Turns a `toml::from_str` error into a syntax error (with a line) or a key error (with a path).
fn decode_error(text: &str, origin: &str, err: &toml::de::Error) -> ConfigError {
    let root = match DeTable::parse(text) {
        Ok(root) => root,
        Err(syntax) => {
            let (line, column) = line_column(text, syntax.span().map_or(0, |s| s.start));
            return ConfigError::Syntax {
                origin: origin.to_owned(),
                line,
                column,
                reason: syntax.message().to_owned(),
            };
        }
    };
    let message = err.message();
    let mut key = err
        .span()
        .and_then(|span| key_path_at(root.get_ref(), &span))
        .unwrap_or_default();
    let reason = if let Some(field) = backticked_after(message, "missing field ") {
        push_key(&mut key, field);
        "required key is missing".to_owned()
    } else if message.starts_with("unknown field ") {
        match message.split_once(", expected ") {
            Some((_, valid)) => format!("unknown key; expected {}", valid.replace('`', "")),
            None => "unknown key".to_owned(),
        }
    } else {
        plain_type_names(message)
    };
    if key.is_empty() {
        key.push_str("(top level)");
    }
    ConfigError::Key {
        origin: Some(origin.to_owned()),
        key,
        reason,
    }
}

/// The dotted path of the innermost key whose key or value span holds `span`'s start.
fn key_path_at(root: &DeTable<'_>, span: &Range<usize>) -> Option<String> {
    let mut best: Option<(usize, usize, String)> = None; // (depth, span length, path)
    visit_table(root, "", 0, &mut |path, depth, hit| {
        let better = match &best {
            None => true,
            Some((d, len, _)) => depth > *d || (depth == *d && hit.len() < *len),
        };
        if better && holds(&hit, span.start) {
            best = Some((depth, hit.len(), path.to_owned()));
        }
    });
    best.map(|(_, _, path)| path)
}

type Visit<'a> = dyn FnMut(&str, usize, Range<usize>) + 'a;

fn visit_table(table: &DeTable<'_>, prefix: &str, depth: usize, f: &mut Visit<'_>) {
    for (k, v) in table.iter() {
        let mut path = prefix.to_owned();
        push_key(&mut path, k.get_ref());
        f(&path, depth, k.span());
        visit_value(v, &path, depth, f);
    }
}

fn visit_value(v: &Spanned<DeValue<'_>>, path: &str, depth: usize, f: &mut Visit<'_>) {
    f(path, depth, v.span());
    match v.get_ref() {
        DeValue::Table(t) => visit_table(t, path, depth + 1, f),
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                visit_value(item, &format!("{path}[{i}]"), depth + 1, f);
            }
        }
        _ => {}
    }
}

fn holds(range: &Range<usize>, pos: usize) -> bool {
    range.contains(&pos) || (range.is_empty() && range.start == pos)
}

/// Appends `key` to a dotted path, quoting it unless it is a bare TOML key.
fn push_key(path: &mut String, key: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        path.push_str(key);
    } else {
        path.push_str(&format!("{key:?}"));
    }
}

/// `name` from "<prefix>`name`...".
fn backticked_after<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = message.strip_prefix(prefix)?.strip_prefix('`')?;
    rest.split_once('`').map(|(name, _)| name)
}

/// serde's "expected u32" etc. in TOML's words.
fn plain_type_names(message: &str) -> String {
    const WORDS: [(&str, &str); 7] = [
        ("expected u16", "expected an integer between 0 and 65535"),
        (
            "expected u32",
            "expected an integer between 0 and 4294967295",
        ),
        ("expected u64", "expected a non-negative integer"),
        ("expected a sequence", "expected an array"),
        ("expected a map", "expected a table"),
        ("expected struct ", "expected a table"),
        ("expected a borrowed string", "expected a string"),
    ];
    match WORDS.iter().find(|(serde, _)| message.contains(serde)) {
        Some((serde, toml)) => match message.split_once(serde) {
            // Drop the struct name after "expected struct ".
            Some((head, _)) if serde.ends_with(' ') => format!("{head}{toml}"),
            Some((head, tail)) => format!("{head}{toml}{tail}"),
            None => message.to_owned(),
        },
        None => message.to_owned(),
    }
}

/// 1-based line and character column of byte offset `pos`.
fn line_column(text: &str, pos: usize) -> (usize, usize) {
    let mut pos = pos.min(text.len());
    while !text.is_char_boundary(pos) {
        pos -= 1;
    }
    let before = &text[..pos];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |nl| nl + 1);
    (line, before[line_start..].chars().count() + 1)
}
