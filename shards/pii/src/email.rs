//! Email addresses: `local@domain` in ASCII.
//!
//! The local part is 1..=64 characters of `[A-Za-z0-9._%+-]` (leading dots are not part of it); the
//! domain is 2 or more dot-separated labels of `[A-Za-z0-9-]` (1..=63 characters, not starting or
//! ending with `-`), at most 253 characters, ending in an alphabetic top-level label of at least 2
//! letters. Trailing dots and hyphens (end of a sentence) are not part of the address. Full-width
//! `＠` and internationalised addresses are not detected.

/// Longest local part, bytes (RFC 5321).
pub const LOCAL_BYTES_MAX: usize = 64;
/// Longest domain, bytes (RFC 1035).
pub const DOMAIN_BYTES_MAX: usize = 253;

/// An address found in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FoundEmail {
    /// Byte offset of the first character of the local part.
    pub start: usize,
    /// Byte offset of the `@`.
    pub at: usize,
    /// Byte offset just past the domain.
    pub end: usize,
}

/// Whether `byte` may appear in a local part.
pub fn is_local_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn is_domain_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-')
}

/// The address whose local part starts at byte `start` (a local byte not preceded by one).
/// Returns `None` when the run of local bytes is not followed by `@` and a valid domain.
pub fn match_email(bytes: &[u8], start: usize) -> Option<FoundEmail> {
    let at = start
        + bytes[start..]
            .iter()
            .take_while(|&&b| is_local_byte(b))
            .count();
    if bytes.get(at) != Some(&b'@') {
        return None;
    }
    let start = start + bytes[start..at].iter().take_while(|&&b| b == b'.').count();
    if !(1..=LOCAL_BYTES_MAX).contains(&(at - start)) {
        return None;
    }
    let scanned = bytes[at + 1..]
        .iter()
        .take_while(|&&b| is_domain_byte(b))
        .count();
    let domain = bytes[at + 1..at + 1 + scanned]
        .iter()
        .rposition(|&b| b.is_ascii_alphanumeric())
        .map_or(&[][..], |last| &bytes[at + 1..at + 2 + last]);
    is_domain(domain).then_some(FoundEmail {
        start,
        at,
        end: at + 1 + domain.len(),
    })
}

fn is_domain(domain: &[u8]) -> bool {
    if domain.len() > DOMAIN_BYTES_MAX {
        return false;
    }
    let mut labels = 0;
    let mut last: &[u8] = &[];
    for label in domain.split(|&b| b == b'.') {
        let good = (1..=63).contains(&label.len())
            && label.first() != Some(&b'-')
            && label.last() != Some(&b'-');
        if !good {
            return false;
        }
        labels += 1;
        last = label;
    }
    labels >= 2 && last.len() >= 2 && last.iter().all(u8::is_ascii_alphabetic)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(text: &str) -> Option<&str> {
        match_email(text.as_bytes(), 0).map(|found| &text[found.start..found.end])
    }

    #[test]
    fn addresses_and_their_ends() {
        assert_eq!(
            find("a.b+tag@mail.example.com."),
            Some("a.b+tag@mail.example.com")
        );
        assert_eq!(find("..x@y.cn"), Some("x@y.cn"));
        assert_eq!(find("x@y-z.io-"), Some("x@y-z.io"));
        assert_eq!(find("x@y.com，谢谢"), Some("x@y.com"));
        assert_eq!(find("x@y"), None);
        assert_eq!(find("x@y.c0m"), None);
        assert_eq!(find("x@-y.com"), None);
        assert_eq!(find("x@y..com"), None);
        assert_eq!(find("x y@z.com"), None);
        assert_eq!(find(&format!("{}@y.com", "a".repeat(65))), None);
    }
}
