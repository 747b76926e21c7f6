//! Text normalisation, language detection and hashed n-gram features.
//!
//! Features are hashed into a fixed-size space (the "hashing trick") so the model needs no vocabulary and
//! an unseen word costs nothing. Chinese has no spaces, so CJK runs give character 1-, 2- and 3-grams;
//! Latin text gives word unigrams and bigrams plus character 3-grams of each word, which absorb typos.

/// The language a message is written in, as far as replies and follow-up questions are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Language {
    /// Simplified Chinese.
    Chinese,
    /// English (also the fallback for any Latin-script text).
    English,
}

impl Language {
    /// The short code used in the knowledge base (`zh`, `en`).
    pub fn code(self) -> &'static str {
        match self {
            Language::Chinese => "zh",
            Language::English => "en",
        }
    }
}

impl std::fmt::Display for Language {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Language::Chinese => "Chinese",
            Language::English => "English",
        })
    }
}

/// Share of CJK characters among letters at or above which a message counts as Chinese.
pub const CHINESE_RATIO_MIN: f32 = 0.3;

/// True for CJK unified ideographs (the basic block, extension A and compatibility ideographs).
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0xF900..=0xFAFF)
}

/// Folds full-width ASCII forms and the ideographic space to ASCII, and lowercases.
pub fn normalize_char(c: char) -> char {
    let code = c as u32;
    let folded = match code {
        0xFF01..=0xFF5E => char::from_u32(code - 0xFEE0).unwrap_or(c),
        0x3000 => ' ',
        _ => c,
    };
    if folded.is_ascii() {
        folded.to_ascii_lowercase()
    } else {
        folded.to_lowercase().next().unwrap_or(folded)
    }
}

/// The normalised form of `text` (see [`normalize_char`]).
pub fn normalize(text: &str) -> String {
    text.chars().map(normalize_char).collect()
}

/// Detects the language by the ratio of CJK characters to all letters; no letters at all means English.
pub fn detect_language(text: &str) -> Language {
    let (mut cjk, mut letters) = (0u32, 0u32);
    for c in text.chars() {
        if is_cjk(c) {
            cjk += 1;
            letters += 1;
        } else if c.is_alphabetic() {
            letters += 1;
        }
    }
    if letters > 0 && cjk as f32 / letters as f32 >= CHINESE_RATIO_MIN {
        Language::Chinese
    } else {
        Language::English
    }
}

/// One token of a normalised message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token<'a> {
    /// A run of CJK ideographs.
    Cjk(&'a str),
    /// A Latin word (letters, digits folded to `0`, apostrophes dropped).
    Word(&'a str),
}

/// Splits normalised text into CJK runs and Latin words; punctuation separates tokens and is dropped.
fn tokens(normalized: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut start = None::<(usize, bool)>;
    for (i, c) in normalized.char_indices() {
        let kind = if is_cjk(c) {
            Some(true)
        } else if c.is_alphanumeric() {
            Some(false)
        } else {
            None
        };
        match (start, kind) {
            (Some((_, cjk)), Some(k)) if cjk == k => {}
            (Some((s, cjk)), _) => {
                out.push(make_token(&normalized[s..i], cjk));
                start = kind.map(|k| (i, k));
            }
            (None, Some(k)) => start = Some((i, k)),
            (None, None) => {}
        }
    }
    if let Some((s, cjk)) = start {
        out.push(make_token(&normalized[s..], cjk));
    }
    out
}

fn make_token(s: &str, cjk: bool) -> Token<'_> {
    if cjk {
        Token::Cjk(s)
    } else {
        Token::Word(s)
    }
}

/// FNV-1a over a salt and a sequence of characters; digits all hash alike so numbers generalise.
fn hash_chars(salt: u64, chars: impl Iterator<Item = char>) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for c in chars {
        let c = if c.is_ascii_digit() { '0' } else { c };
        h ^= u64::from(c as u32);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    // Final avalanche so low bits (used for the bucket) depend on every input bit.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

/// Salts keep feature families apart in the shared hash space.
const SALT_CJK: u64 = 1;
const SALT_WORD: u64 = 2;
const SALT_BIGRAM: u64 = 3;
const SALT_TRIGRAM: u64 = 4;

/// What a hashed feature is, for the minimum-evidence rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureKind {
    /// A single CJK character: too ambiguous to count as known text on its own.
    CjkChar,
    /// A CJK 2- or 3-gram: a word or part of one.
    CjkPhrase,
    /// A Latin word.
    Word,
    /// Two consecutive Latin words.
    WordPair,
    /// A character 3-gram of a Latin word: absorbs typos, but not evidence on its own.
    WordPiece,
}

impl FeatureKind {
    /// Whether a known feature of this kind is evidence that the text was understood (a phrase or a word,
    /// not a character or a piece of one).
    pub fn is_evidence(self) -> bool {
        matches!(
            self,
            FeatureKind::CjkPhrase | FeatureKind::Word | FeatureKind::WordPair
        )
    }
}

/// Calls `visit(kind, hash, weight)` for every n-gram feature of `text` before bucketing and merging, so a
/// caller can both build the feature vector and look features up by their full 64-bit hash.
pub fn visit_features(text: &str, mut visit: impl FnMut(FeatureKind, u64, f32)) {
    let normalized = normalize(text);
    let toks = tokens(&normalized);
    let mut previous_word: Option<&str> = None;
    for tok in &toks {
        match *tok {
            Token::Cjk(run) => {
                previous_word = None;
                let chars: Vec<char> = run.chars().collect();
                for n in 1..=3usize {
                    let (kind, weight) = if n == 1 {
                        (FeatureKind::CjkChar, 0.5)
                    } else {
                        (FeatureKind::CjkPhrase, 1.0)
                    };
                    for window in chars.windows(n) {
                        visit(kind, hash_chars(SALT_CJK, window.iter().copied()), weight);
                    }
                }
            }
            Token::Word(word) => {
                visit(FeatureKind::Word, hash_chars(SALT_WORD, word.chars()), 1.0);
                if let Some(prev) = previous_word {
                    let pair = prev.chars().chain(std::iter::once(' ')).chain(word.chars());
                    visit(FeatureKind::WordPair, hash_chars(SALT_BIGRAM, pair), 1.0);
                }
                let padded: Vec<char> = std::iter::once('<')
                    .chain(word.chars())
                    .chain(std::iter::once('>'))
                    .collect();
                for window in padded.windows(3) {
                    let hash = hash_chars(SALT_TRIGRAM, window.iter().copied());
                    visit(FeatureKind::WordPiece, hash, 0.4);
                }
                previous_word = Some(word);
            }
        }
    }
}

/// The bucket of a feature hash in a space of `buckets` (a power of two).
pub fn bucket_of(hash: u64, buckets: u32) -> u32 {
    (hash & u64::from(buckets - 1)) as u32
}

/// Writes the hashed, L2-normalised feature vector of `text` into `out` as sorted `(bucket, weight)` pairs.
///
/// `buckets` must be a power of two. `out` is cleared first; reusing it avoids an allocation per message.
pub fn features(text: &str, buckets: u32, out: &mut Vec<(u32, f32)>) {
    assert!(
        buckets.is_power_of_two(),
        "feature buckets must be a power of two"
    );
    out.clear();
    visit_features(text, |_, hash, weight| {
        out.push((bucket_of(hash, buckets), weight));
    });
    merge_and_normalize(out);
}

/// Sorts by bucket, sums duplicates, damps repeated counts with `sqrt` and scales to unit length.
pub fn merge_and_normalize(out: &mut Vec<(u32, f32)>) {
    out.sort_unstable_by_key(|&(bucket, _)| bucket);
    let mut write = 0usize;
    for read in 0..out.len() {
        if write > 0 && out[write - 1].0 == out[read].0 {
            out[write - 1].1 += out[read].1;
        } else {
            out[write] = out[read];
            write += 1;
        }
    }
    out.truncate(write);
    let mut norm = 0.0f32;
    for entry in out.iter_mut() {
        entry.1 = entry.1.sqrt();
        norm += entry.1 * entry.1;
    }
    if norm > 0.0 {
        let scale = 1.0 / norm.sqrt();
        for entry in out.iter_mut() {
            entry.1 *= scale;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_folds_and_lowercases() {
        assert_eq!(normalize("ＲＥＦＵＮＤ　１２３"), "refund 123");
        assert_eq!(normalize("BV1xx"), "bv1xx");
    }

    #[test]
    fn language_by_cjk_ratio() {
        assert_eq!(detect_language("我要退款"), Language::Chinese);
        assert_eq!(detect_language("I want a refund"), Language::English);
        assert_eq!(detect_language("BV号是多少"), Language::Chinese);
        assert_eq!(detect_language("12345"), Language::English);
    }

    #[test]
    fn features_are_sorted_unique_and_unit_length() {
        let mut out = Vec::new();
        features("退款退款 refund my order please", 1 << 12, &mut out);
        assert!(!out.is_empty());
        assert!(out.windows(2).all(|w| w[0].0 < w[1].0));
        let norm: f32 = out.iter().map(|(_, w)| w * w).sum();
        assert!((norm - 1.0).abs() < 1e-4);
        features("!!!", 1 << 12, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn digits_generalise() {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        features("order 123456", 1 << 16, &mut a);
        features("order 987654", 1 << 16, &mut b);
        assert_eq!(a, b);
    }
}
