//! SentencePiece's `nmt_nfkc` text normaliser, driven by the model's precompiled character map.
//!
//! The map is a darts-clone double-array trie over UTF-8 bytes followed by a table of NUL-terminated
//! replacements. At each position the longest key matching the input is replaced; an input with no key
//! is copied one UTF-8 character at a time. Around that: leading, trailing and repeated spaces are
//! dropped, every space becomes `▁` (U+2581), and one `▁` is put in front (the "dummy prefix"), exactly
//! as SentencePiece does, so token ids match the ones the encoder was trained with.

use super::EmbedError;

/// The word-boundary symbol SentencePiece writes for a space.
pub const SPACE_SYMBOL: &str = "\u{2581}";

/// The normaliser: the trie units and the replacement table.
#[derive(Debug, Clone, Default)]
pub struct Normalizer {
    /// Double-array units; empty when the model has no character map (then text is only re-spaced).
    units: Vec<u32>,
    /// NUL-terminated replacement strings, indexed by the trie's leaf values.
    replacements: Vec<u8>,
}

fn offset(unit: u32) -> usize {
    ((unit >> 10) << ((unit & 0x200) >> 6)) as usize
}

impl Normalizer {
    /// Parses a precompiled character map (`u32` trie size, the trie, the replacements).
    pub fn from_charsmap(charsmap: &[u8]) -> Result<Self, EmbedError> {
        if charsmap.is_empty() {
            return Ok(Normalizer::default());
        }
        let bad = |why: &str| EmbedError::Format {
            file: "sp.model".to_string(),
            why: format!("precompiled charsmap: {why}"),
        };
        let size_bytes = charsmap.get(..4).ok_or_else(|| bad("too short"))?;
        let trie_bytes =
            u32::from_le_bytes([size_bytes[0], size_bytes[1], size_bytes[2], size_bytes[3]])
                as usize;
        let trie = charsmap
            .get(4..4 + trie_bytes)
            .ok_or_else(|| bad("trie runs past the end"))?;
        if trie_bytes % 4 != 0 || trie_bytes == 0 {
            return Err(bad("trie size is not a positive multiple of 4"));
        }
        let units = trie
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Ok(Normalizer {
            units,
            replacements: charsmap[4 + trie_bytes..].to_vec(),
        })
    }

    /// The longest trie match at the start of `input`: `(replacement, bytes consumed)`, or `None`.
    fn longest_match(&self, input: &[u8]) -> Option<(&[u8], usize)> {
        let unit_at = |i: usize| self.units.get(i).copied();
        let mut node = offset(unit_at(0)?);
        let (mut best_length, mut best_value) = (0usize, 0usize);
        for (i, &c) in input.iter().enumerate() {
            node ^= usize::from(c);
            let unit = unit_at(node)?;
            if unit & 0x8000_00FF != u32::from(c) {
                break;
            }
            node ^= offset(unit);
            if unit & 0x100 != 0 {
                best_length = i + 1;
                best_value = (unit_at(node)? & 0x7FFF_FFFF) as usize;
            }
        }
        if best_length == 0 || best_value >= self.replacements.len() {
            return None;
        }
        let rest = &self.replacements[best_value..];
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        Some((&rest[..end], best_length))
    }

    /// The normalised prefix of `input` and how many bytes it consumed (at least one character).
    fn normalize_prefix<'a>(&'a self, input: &'a [u8]) -> (&'a [u8], usize) {
        if let Some(found) = self.longest_match(input) {
            return found;
        }
        let length = utf8_length(input);
        (&input[..length], length)
    }

    /// Normalises `text` the SentencePiece way (see the module documentation); empty when `text` has
    /// nothing but spaces.
    pub fn normalize(&self, text: &str) -> String {
        let raw = text.as_bytes();
        let mut position = 0usize;
        while position < raw.len() {
            let (piece, consumed) = self.normalize_prefix(&raw[position..]);
            if piece != b" " {
                break;
            }
            position += consumed;
        }
        if position >= raw.len() {
            return String::new();
        }
        let mut out: Vec<u8> = SPACE_SYMBOL.as_bytes().to_vec();
        let mut previous_space = true;
        while position < raw.len() {
            let (mut piece, consumed) = self.normalize_prefix(&raw[position..]);
            position += consumed;
            if previous_space {
                while let Some(rest) = piece.strip_prefix(b" ") {
                    piece = rest;
                }
            }
            if piece.is_empty() {
                continue;
            }
            for &byte in piece {
                if byte == b' ' {
                    out.extend_from_slice(SPACE_SYMBOL.as_bytes());
                } else {
                    out.push(byte);
                }
            }
            previous_space = piece.last() == Some(&b' ');
        }
        while out.ends_with(SPACE_SYMBOL.as_bytes()) {
            out.truncate(out.len() - SPACE_SYMBOL.len());
        }
        // Replacements come from the model file; a broken one must not panic the caller.
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// Length of the UTF-8 character at the start of `input` (1 for a malformed one).
fn utf8_length(input: &[u8]) -> usize {
    let first = input[0];
    let length = match first {
        0x00..=0x7F => 1,
        _ if first >> 5 == 0x6 => 2,
        _ if first >> 4 == 0xE => 3,
        _ if first >> 3 == 0x1E => 4,
        _ => 1,
    };
    let well_formed = (1..length).all(|k| input.get(k).is_some_and(|b| b & 0xC0 == 0x80));
    if well_formed {
        length
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_charsmap_only_spacing_changes() {
        let n = Normalizer::default();
        assert_eq!(n.normalize("  I want   a refund "), "▁I▁want▁a▁refund");
        assert_eq!(n.normalize("我要退款"), "▁我要退款");
        assert_eq!(n.normalize("   "), "");
        assert_eq!(n.normalize(""), "");
    }

    #[test]
    fn truncated_charsmaps_are_refused() {
        assert!(Normalizer::from_charsmap(&[8, 0, 0, 0, 1]).is_err());
        assert!(Normalizer::from_charsmap(&[3, 0, 0, 0, 1, 2, 3]).is_err());
    }
}
