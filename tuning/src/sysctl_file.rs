//! A parser for the `sysctl.conf(5)` / `sysctl.d(5)` file format.
//!
//! The format is line based: blank lines and lines whose first non-blank character is `#` or `;` are
//! comments; every other line is `key = value`. The key may be written with dots (`net.core.somaxconn`)
//! or slashes (`net/core/somaxconn`); a leading `-` means "ignore a failure to set it" and is accepted and
//! dropped. The value is the rest of the line, trimmed; multi-value settings such as `net.ipv4.tcp_mem`
//! keep their inner whitespace verbatim so a value read from `/proc/sys` (tab separated) can be written back
//! byte for byte.

use std::fmt;

/// Longest key we accept, in bytes; real keys are well under 100.
pub const KEY_BYTES_MAX: usize = 256;

/// One `key = value` line of a sysctl file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysctlSetting {
    /// The dotted key, e.g. `net.core.somaxconn`.
    pub key: String,
    /// The value exactly as written, trimmed at both ends.
    pub value: SysctlValue,
    /// The 1-based line the setting came from, for error messages.
    pub line: usize,
}

/// A sysctl value: one or more whitespace-separated fields, kept as the raw text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysctlValue {
    raw: String,
}

impl SysctlValue {
    /// Wraps `raw` (leading and trailing whitespace, including a final newline, is dropped).
    pub fn new(raw: &str) -> Self {
        Self {
            raw: raw.trim().to_string(),
        }
    }

    /// A value made of numeric fields joined by single spaces.
    pub fn from_numbers(fields: &[i64]) -> Self {
        let text: Vec<String> = fields.iter().map(|n| n.to_string()).collect();
        Self {
            raw: text.join(" "),
        }
    }

    /// The value as written (inner whitespace preserved).
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The whitespace-separated fields.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.raw.split_whitespace()
    }

    /// Every field parsed as an integer, or `None` if any field is not one (e.g. `bbr`).
    pub fn numbers(&self) -> Option<Vec<i64>> {
        self.fields()
            .map(|field| field.parse::<i64>().ok())
            .collect()
    }

    /// The fields joined by single spaces: the form used in tables, where tabs would break alignment.
    pub fn display(&self) -> String {
        self.fields().collect::<Vec<_>>().join(" ")
    }
}

impl fmt::Display for SysctlValue {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.display())
    }
}

/// Why a sysctl file failed to parse. In every case the file's author is at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A non-comment line without `=`.
    #[error("line {line}: expected `key = value`, found no `=`")]
    MissingEquals {
        /// The 1-based line number.
        line: usize,
    },
    /// The key is empty, too long, has an empty path segment, `..`, or a character outside `[A-Za-z0-9_.-/]`.
    #[error("line {line}: invalid key {key:?}")]
    InvalidKey {
        /// The 1-based line number.
        line: usize,
        /// The key as written.
        key: String,
    },
    /// `key =` with nothing after the `=`.
    #[error("line {line}: key {key} has an empty value")]
    EmptyValue {
        /// The 1-based line number.
        line: usize,
        /// The key.
        key: String,
    },
}

/// Parses a whole sysctl file, returning its settings in file order.
pub fn parse(text: &str) -> Result<Vec<SysctlSetting>, ParseError> {
    let mut settings = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if let Some(setting) = parse_line(line, index + 1)? {
            settings.push(setting);
        }
    }
    Ok(settings)
}

/// Parses one line; `Ok(None)` for blank lines and comments.
pub fn parse_line(line: &str, line_number: usize) -> Result<Option<SysctlSetting>, ParseError> {
    let trimmed = line.trim();
    if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
        return Ok(None);
    }
    let Some((key_text, value_text)) = trimmed.split_once('=') else {
        return Err(ParseError::MissingEquals { line: line_number });
    };
    let key_text = key_text.trim();
    let key_text = key_text.strip_prefix('-').unwrap_or(key_text);
    let key = normalize_key(key_text).ok_or_else(|| ParseError::InvalidKey {
        line: line_number,
        key: key_text.to_string(),
    })?;
    let value = SysctlValue::new(value_text);
    if value.raw().is_empty() {
        return Err(ParseError::EmptyValue {
            line: line_number,
            key,
        });
    }
    Ok(Some(SysctlSetting {
        key,
        value,
        line: line_number,
    }))
}

/// Validates a key and returns its dotted form, or `None` if it is not a safe sysctl key.
///
/// Slash form (`net/core/somaxconn`) is turned into dotted form. Keys that would escape the `/proc/sys`
/// root (`..`, empty segments) are rejected because they are later joined onto a directory.
pub fn normalize_key(key: &str) -> Option<String> {
    let valid_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/');
    if key.is_empty() || key.len() > KEY_BYTES_MAX || !key.chars().all(valid_char) {
        return None;
    }
    let separator = if key.contains('/') { '/' } else { '.' };
    if key.contains('/') && key.contains('.') {
        // A dot inside a slash-form key is part of a name (e.g. a VLAN interface `eth0.1`);
        // it cannot be represented in dotted form, so we do not accept it.
        return None;
    }
    let segments: Vec<&str> = key.split(separator).collect();
    if segments
        .iter()
        .any(|segment| segment.is_empty() || *segment == "..")
    {
        return None;
    }
    Some(segments.join("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_comments_blank_lines_and_settings() {
        let text =
            "# comment\n; also a comment\n\n  net.core.somaxconn = 4096  \nfs.file-max=100\n";
        let settings = parse(text).unwrap();
        assert_eq!(settings.len(), 2);
        assert_eq!(settings[0].key, "net.core.somaxconn");
        assert_eq!(settings[0].value.raw(), "4096");
        assert_eq!(settings[0].line, 4);
        assert_eq!(settings[1].key, "fs.file-max");
        assert_eq!(settings[1].value.numbers(), Some(vec![100]));
    }

    #[test]
    fn multi_value_keeps_inner_whitespace_and_splits_fields() {
        let settings = parse("net.ipv4.tcp_mem = 1\t2   3\n").unwrap();
        assert_eq!(settings[0].value.raw(), "1\t2   3");
        assert_eq!(settings[0].value.numbers(), Some(vec![1, 2, 3]));
        assert_eq!(settings[0].value.display(), "1 2 3");
    }

    #[test]
    fn slash_keys_and_ignore_prefix_are_normalized() {
        let settings = parse("-net/ipv4/tcp_tw_reuse = 1\n").unwrap();
        assert_eq!(settings[0].key, "net.ipv4.tcp_tw_reuse");
    }

    #[test]
    fn non_numeric_values_are_kept() {
        let settings = parse("net.core.default_qdisc = fq\n").unwrap();
        assert_eq!(settings[0].value.numbers(), None);
        assert_eq!(settings[0].value.raw(), "fq");
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(
            parse("a.b = 1\nnonsense\n"),
            Err(ParseError::MissingEquals { line: 2 })
        );
        assert_eq!(
            parse("net..core = 1\n"),
            Err(ParseError::InvalidKey {
                line: 1,
                key: "net..core".into()
            })
        );
        assert_eq!(
            parse("../etc = 1\n").unwrap_err(),
            ParseError::InvalidKey {
                line: 1,
                key: "../etc".into()
            }
        );
        assert_eq!(
            parse("a.b =   \n"),
            Err(ParseError::EmptyValue {
                line: 1,
                key: "a.b".into()
            })
        );
        assert!(matches!(
            parse("a b = 1"),
            Err(ParseError::InvalidKey { .. })
        ));
    }
}
