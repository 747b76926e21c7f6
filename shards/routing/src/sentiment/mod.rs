//! Bilingual lexicon sentiment: a score in `[-1, 1]` for every message.
//!
//! A lexicon is crude but predictable, instant and explainable, which is what a handoff trigger needs: an
//! angry customer ("骗子", "refund now!!!", all caps, "你们到底管不管", "third time I'm asking") must
//! reach a human fast, and an operator must be able to see why. A calm customer must not be escalated for
//! the words their question is about.
//!
//! Matching reads words, not substrings:
//! - English terms (and Latin or digit terms anywhere) match on word boundaries: "sue" in "my friend
//!   Sue" is a name, and 12315 inside an order number is not the consumer hotline.
//! - Chinese terms match as dictionary words: an occurrence inside a longer dictionary word (one of
//!   [`lexicon::ZH_NEUTRAL_WORDS`] or a longer term) does not count, so 滚 in 滚动 (scrolling) and 烦 in
//!   麻烦 (please) are not anger.
//! - Reporting vocabulary ([`lexicon::Kind::Topic`]: 投诉, scam, complaint…) counts only when the message
//!   is not asking how to report or file something ("版权投诉怎么提交", "report a scam message").
//! - Anger without insults is read from cues: rhetorical 到底 and A-not-A questions, asking again ("third
//!   time"), waiting ("等了", "been waiting"), a phrase repeated three times in a row, `!!`, and shouting.
//!
//! # Layout
//!
//! - [`lexicon`]: the term tables, the neutral words and the reporting words.

pub mod lexicon;

use lexicon::{Kind, EN_REPORTING_WORDS, EN_TERMS, ZH_NEUTRAL_WORDS, ZH_REPORTING_WORDS, ZH_TERMS};

use super::text::{is_cjk, normalize};

/// Score at or below which a message counts as strongly negative and forces a human.
pub const STRONGLY_NEGATIVE_MAX: f32 = -0.6;

/// Weight of a run of two or more `!` or `?` (full-width included), a sign of exasperation.
const REPEATED_PUNCTUATION_WEIGHT: f32 = -0.5;
/// Weight when most Latin letters are upper case (shouting), for messages with enough letters.
const SHOUTING_WEIGHT: f32 = -0.6;
/// Fewest Latin letters for the shouting rule to apply ("OK" is not shouting).
const SHOUTING_LETTERS_MIN: usize = 6;
/// Weight of a phrase repeated three times in a row ("退款退款退款", "refund refund refund").
const REPETITION_WEIGHT: f32 = -0.9;
/// Consecutive copies that make a repetition.
const REPETITION_COPIES_MIN: usize = 3;
/// Longest repeated unit looked for, in characters (punctuation and spaces not counted).
const REPETITION_UNIT_CHARS_MAX: usize = 8;
/// Longest message the repetition rule scans, in characters; the rule is quadratic in the unit length only.
const REPETITION_TEXT_CHARS_MAX: usize = 500;

/// A message's sentiment with the terms that produced it, so a handoff can say why.
#[derive(Debug, Clone, PartialEq)]
pub struct Sentiment {
    /// The score in `[-1, 1]`; negative is unhappy.
    pub score: f32,
    /// Lexicon terms and cues found, for explanations (`"!!"`, `"CAPS"` for the non-lexical cues).
    pub cues: Vec<&'static str>,
}

impl Sentiment {
    /// Whether the score is at or below [`STRONGLY_NEGATIVE_MAX`].
    pub fn is_strongly_negative(&self) -> bool {
        self.score <= STRONGLY_NEGATIVE_MAX
    }
}

/// Scores `text`.
pub fn score(text: &str) -> Sentiment {
    let normalized = normalize(text);
    let mut cues = Vec::new();
    let mut total = 0.0f32;
    let reporting = is_reporting(&normalized);
    let terms = ZH_TERMS.iter().chain(EN_TERMS);
    for &(term, weight, kind) in terms {
        if kind == Kind::Topic && reporting {
            continue;
        }
        let found = if term.chars().any(is_cjk) {
            contains_dictionary_word(&normalized, term)
        } else {
            contains_word(&normalized, term)
        };
        if found {
            total += weight;
            cues.push(term);
        }
    }
    if has_repeated_punctuation(&normalized) {
        total += REPEATED_PUNCTUATION_WEIGHT;
        cues.push("!!");
    }
    if is_shouting(text) {
        total += SHOUTING_WEIGHT;
        cues.push("CAPS");
    }
    if has_repetition(&normalized) {
        total += REPETITION_WEIGHT;
        cues.push("REPEATED");
    }
    Sentiment {
        score: (0.8 * total).tanh().clamp(-1.0, 1.0),
        cues,
    }
}

/// Whether the message asks how to report or file something (see [`lexicon::EN_REPORTING_WORDS`]).
fn is_reporting(normalized: &str) -> bool {
    ZH_REPORTING_WORDS.iter().any(|w| normalized.contains(w))
        || EN_REPORTING_WORDS
            .iter()
            .any(|w| contains_word(normalized, w))
}

/// Whether `phrase` occurs in `text` bounded by non-alphanumeric characters on both sides.
fn contains_word(text: &str, phrase: &str) -> bool {
    text.match_indices(phrase).any(|(start, _)| {
        let before = text[..start].chars().next_back();
        let after = text[start + phrase.len()..].chars().next();
        let boundary = |c: Option<char>| c.is_none_or(|c| !c.is_ascii_alphanumeric());
        boundary(before) && boundary(after)
    })
}

/// Whether the Chinese `term` occurs in `text` other than inside a longer dictionary word: a neutral word
/// of [`ZH_NEUTRAL_WORDS`] or another, longer lexicon term (so 急 inside 着急 is counted once, as 着急).
fn contains_dictionary_word(text: &str, term: &str) -> bool {
    let longer = ZH_NEUTRAL_WORDS
        .iter()
        .copied()
        .chain(ZH_TERMS.iter().map(|&(t, _, _)| t))
        .filter(|w| w.len() > term.len() && w.contains(term));
    text.match_indices(term).any(|(start, _)| {
        let end = start + term.len();
        !longer.clone().any(|word| {
            text.match_indices(word)
                .any(|(s, w)| s <= start && end <= s + w.len())
        })
    })
}

/// Whether some unit of up to [`REPETITION_UNIT_CHARS_MAX`] characters appears [`REPETITION_COPIES_MIN`]
/// times in a row once punctuation and spaces are dropped. The unit must not itself repeat a shorter one
/// and, in Latin script, must have three letters or more, so laughter (哈哈哈, hahaha) and doubled
/// politeness (谢谢谢谢) are not repetition.
fn has_repetition(normalized: &str) -> bool {
    let letters: Vec<char> = normalized
        .chars()
        .filter(|c| c.is_alphanumeric())
        .take(REPETITION_TEXT_CHARS_MAX)
        .collect();
    (2..=REPETITION_UNIT_CHARS_MAX).any(|unit| {
        let span = unit * REPETITION_COPIES_MIN;
        if letters.len() < span {
            return false;
        }
        letters.windows(span).any(|w| {
            let first = &w[..unit];
            let latin_too_short = unit < 3 && !first.iter().copied().any(is_cjk);
            !latin_too_short
                && is_primitive(first)
                && (1..REPETITION_COPIES_MIN).all(|k| *first == w[k * unit..(k + 1) * unit])
        })
    })
}

/// Whether `unit` is not a shorter sequence repeated ("ab" yes, "abab" and "aa" no).
fn is_primitive(unit: &[char]) -> bool {
    (1..unit.len())
        .filter(|d| unit.len() % d == 0)
        .all(|d| unit.chunks(d).any(|c| c != &unit[..d]))
}

fn has_repeated_punctuation(normalized: &str) -> bool {
    let chars: Vec<char> = normalized.chars().collect();
    chars
        .windows(2)
        .any(|w| matches!(w[0], '!' | '?') && matches!(w[1], '!' | '?'))
}

fn is_shouting(text: &str) -> bool {
    let letters: Vec<char> = text.chars().filter(|c| c.is_ascii_alphabetic()).collect();
    let upper = letters.iter().filter(|c| c.is_ascii_uppercase()).count();
    letters.len() >= SHOUTING_LETTERS_MIN && upper * 10 >= letters.len() * 8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_boundaries() {
        assert!(contains_word("this is a scam", "scam"));
        assert!(!contains_word("scampi please", "scam"));
        assert!(contains_word("i am fed up.", "fed up"));
    }

    #[test]
    fn neutral_is_zero() {
        assert_eq!(score("how do I change my avatar").score, 0.0);
        assert_eq!(score("怎么修改头像").score, 0.0);
    }
}
