//! What several test binaries read from vpmd-fwd's and testpmd's reports.

/// The number after `key` at its first place in `text` (e.g. `"TX-packets:"`).
pub fn field(text: &str, key: &str) -> u64 {
    let at = text
        .find(key)
        .unwrap_or_else(|| panic!("no {key} in {text}"));
    text[at + key.len()..]
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no number after {key} in {text}"))
}
