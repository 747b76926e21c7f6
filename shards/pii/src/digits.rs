//! Character classes of the number scanner and the collection of a run of digit groups.
//!
//! A *group* is a maximal run of digits (ASCII `0-9` or full-width `０-９`, mixed freely); a *run* is
//! groups joined by exactly one separator character (ASCII space, `-`, ideographic space U+3000 or
//! full-width hyphen U+FF0D). Because groups are maximal, a match made of whole groups can never be a
//! piece of a longer digit sequence.

/// Digits stored per group; longer groups are counted but cannot be part of any match (the longest
/// pattern, a 19-digit card, fits).
pub const GROUP_DIGITS_MAX: usize = 19;
/// Groups collected per run; the longest pattern (a 4-4-4-4-3 card) uses 5.
pub const GROUPS_MAX: usize = 6;

/// One maximal run of digits.
#[derive(Debug, Clone, Copy, Default)]
pub struct Group {
    /// Byte offset of the first digit.
    pub start: usize,
    /// Byte offset just past the last digit.
    pub end: usize,
    /// Number of digits (may exceed [`GROUP_DIGITS_MAX`]).
    pub len: usize,
    /// The first [`GROUP_DIGITS_MAX`] digit values.
    pub digits: [u8; GROUP_DIGITS_MAX],
}

impl Group {
    /// The digit values, or `None` when the group is longer than [`GROUP_DIGITS_MAX`].
    pub fn values(&self) -> Option<&[u8]> {
        (self.len <= GROUP_DIGITS_MAX).then(|| &self.digits[..self.len])
    }
}

/// Up to [`GROUPS_MAX`] groups joined by single separators.
#[derive(Debug, Clone, Copy, Default)]
pub struct Run {
    /// The groups; only the first `count` are meaningful.
    pub groups: [Group; GROUPS_MAX],
    /// How many groups were collected (at least 1).
    pub count: usize,
}

impl Run {
    /// The collected groups.
    pub fn groups(&self) -> &[Group] {
        &self.groups[..self.count]
    }
}

/// The digit at byte `index` and its width in bytes (1 for ASCII, 3 for full-width).
pub fn digit_at(bytes: &[u8], index: usize) -> Option<(u8, usize)> {
    match bytes.get(index..)? {
        [digit @ b'0'..=b'9', ..] => Some((digit - b'0', 1)),
        [0xEF, 0xBC, low @ 0x90..=0x99, ..] => Some((low - 0x90, 3)),
        _ => None,
    }
}

/// Whether the character just before byte `index` is a digit.
pub fn digit_before(bytes: &[u8], index: usize) -> bool {
    let ascii = index >= 1 && bytes[index - 1].is_ascii_digit();
    // In valid UTF-8 a 3-byte sequence ending at `index` that reads EF BC 9x is a whole character.
    ascii || (index >= 3 && matches!(bytes[index - 3..index], [0xEF, 0xBC, 0x90..=0x99]))
}

/// The width of a group separator at byte `index`, if there is one.
pub fn separator_at(bytes: &[u8], index: usize) -> Option<usize> {
    match bytes.get(index..)? {
        [b' ' | b'-', ..] => Some(1),
        [0xE3, 0x80, 0x80, ..] | [0xEF, 0xBC, 0x8D, ..] => Some(3),
        _ => None,
    }
}

/// The width of an `X` check character (`X`, `x`, `Ｘ`, `ｘ`) at byte `index`, if there is one.
pub fn check_x_at(bytes: &[u8], index: usize) -> Option<usize> {
    match bytes.get(index..)? {
        [b'X' | b'x', ..] => Some(1),
        [0xEF, 0xBC, 0xB8, ..] | [0xEF, 0xBD, 0x98, ..] => Some(3),
        _ => None,
    }
}

/// Collects the run starting at the digit at byte `start`.
pub fn collect_run(bytes: &[u8], start: usize) -> Run {
    let mut run = Run::default();
    let mut position = start;
    loop {
        let group = &mut run.groups[run.count];
        group.start = position;
        while let Some((value, width)) = digit_at(bytes, position) {
            if group.len < GROUP_DIGITS_MAX {
                group.digits[group.len] = value;
            }
            group.len += 1;
            position += width;
        }
        group.end = position;
        run.count += 1;
        if run.count == GROUPS_MAX {
            return run;
        }
        match separator_at(bytes, position) {
            Some(width) if digit_at(bytes, position + width).is_some() => position += width,
            _ => return run,
        }
    }
}

/// Byte offset after skipping `count` digits from the digit at `start`.
pub fn skip_digits(bytes: &[u8], start: usize, count: usize) -> usize {
    (0..count).fold(start, |position, _| {
        position + digit_at(bytes, position).map_or(1, |(_, width)| width)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_and_full_width_digits() {
        for (value, c) in ('0'..='9').enumerate() {
            assert_eq!(
                digit_at(c.to_string().as_bytes(), 0),
                Some((value as u8, 1))
            );
            let wide = char::from_u32(0xFF10 + value as u32).unwrap().to_string();
            assert_eq!(digit_at(wide.as_bytes(), 0), Some((value as u8, 3)));
            assert!(digit_before(wide.as_bytes(), 3));
        }
        assert_eq!(digit_at("Ａ".as_bytes(), 0), None);
        assert!(!digit_before("中1".as_bytes(), 3));
        assert_eq!(separator_at("　".as_bytes(), 0), Some(3));
        assert_eq!(separator_at("－".as_bytes(), 0), Some(3));
        assert_eq!(check_x_at("Ｘ".as_bytes(), 0), Some(3));
    }

    #[test]
    fn runs_stop_at_double_separators_and_cap_groups() {
        let text = "12 345-6  7".as_bytes();
        let run = collect_run(text, 0);
        let lens: Vec<usize> = run.groups().iter().map(|g| g.len).collect();
        assert_eq!(lens, [2, 3, 1]);
        let text = "1 2 3 4 5 6 7 8".as_bytes();
        assert_eq!(collect_run(text, 0).count, GROUPS_MAX);
        let long = "9".repeat(40);
        let run = collect_run(long.as_bytes(), 0);
        assert_eq!((run.groups[0].len, run.groups[0].values()), (40, None));
    }
}
