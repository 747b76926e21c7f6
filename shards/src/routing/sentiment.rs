//! Bilingual lexicon sentiment: a score in `[-1, 1]` for every message.
//!
//! A lexicon is crude but predictable, instant and explainable, which is what a handoff trigger needs: an
//! angry customer ("投诉", "骗子", "refund now!!!", all caps) must reach a human fast, and an operator must
//! be able to see why. Chinese terms match as substrings; English terms match whole words or phrases.

use super::text::{is_cjk, normalize};

/// Score at or below which a message counts as strongly negative and forces a human.
pub const STRONGLY_NEGATIVE_MAX: f32 = -0.6;

/// Chinese terms and their weights (negative is angry or unhappy).
const ZH_TERMS: &[(&str, f32)] = &[
    ("投诉", -1.0),
    ("骗子", -1.4),
    ("骗钱", -1.4),
    ("诈骗", -1.2),
    ("垃圾", -1.0),
    ("坑人", -1.0),
    ("坑钱", -1.0),
    ("黑心", -1.0),
    ("无语", -0.5),
    ("气死", -1.0),
    ("生气", -0.7),
    ("愤怒", -1.0),
    ("恶心", -0.9),
    ("滚", -0.8),
    ("妈的", -1.4),
    ("他妈", -1.4),
    ("傻逼", -1.6),
    ("sb", -1.0),
    ("卧槽", -0.6),
    ("什么破", -0.8),
    ("破平台", -1.0),
    ("太差", -0.8),
    ("差劲", -0.8),
    ("失望", -0.7),
    ("离谱", -0.6),
    ("受不了", -0.6),
    ("搞什么", -0.7),
    ("马上", -0.3),
    ("立刻", -0.3),
    ("赶紧", -0.4),
    ("报警", -1.2),
    ("起诉", -1.2),
    ("曝光", -1.0),
    ("12315", -1.2),
    ("工商", -0.8),
    ("消协", -1.0),
    ("退钱", -0.5),
    ("还钱", -0.7),
    ("不满意", -0.7),
    ("烦", -0.4),
    ("着急", -0.4),
    ("急", -0.2),
    ("谢谢", 0.6),
    ("感谢", 0.7),
    ("多谢", 0.6),
    ("辛苦", 0.4),
    ("好评", 0.8),
    ("满意", 0.6),
    ("太好了", 0.8),
    ("点赞", 0.5),
    ("厉害", 0.4),
    ("喜欢", 0.4),
];

/// English words or phrases and their weights.
const EN_TERMS: &[(&str, f32)] = &[
    ("complaint", -0.8),
    ("complain", -0.8),
    ("scam", -1.4),
    ("scammer", -1.4),
    ("scammers", -1.4),
    ("fraud", -1.2),
    ("rip off", -1.2),
    ("ripoff", -1.2),
    ("stole", -1.0),
    ("steal", -1.0),
    ("thieves", -1.4),
    ("garbage", -1.0),
    ("trash", -0.9),
    ("useless", -0.9),
    ("terrible", -0.9),
    ("awful", -0.9),
    ("worst", -1.0),
    ("horrible", -0.9),
    ("ridiculous", -0.8),
    ("pathetic", -1.0),
    ("disgusting", -1.0),
    ("angry", -0.8),
    ("furious", -1.2),
    ("pissed", -1.2),
    ("fed up", -0.9),
    ("sick of", -0.9),
    ("unacceptable", -1.0),
    ("disappointed", -0.7),
    ("annoyed", -0.6),
    ("frustrated", -0.7),
    ("wtf", -1.0),
    ("damn", -0.8),
    ("fuck", -1.6),
    ("fucking", -1.6),
    ("shit", -1.2),
    ("crap", -0.8),
    ("idiots", -1.2),
    ("lawyer", -1.0),
    ("sue", -1.0),
    ("lawsuit", -1.2),
    ("report you", -0.9),
    ("chargeback", -0.7),
    ("now", -0.2),
    ("immediately", -0.4),
    ("asap", -0.3),
    ("thanks", 0.6),
    ("thank you", 0.7),
    ("thx", 0.5),
    ("great", 0.5),
    ("awesome", 0.6),
    ("love", 0.5),
    ("perfect", 0.6),
    ("appreciate", 0.6),
    ("helpful", 0.5),
];

/// Weight of a run of two or more `!` or `?` (full-width included), a sign of exasperation.
const REPEATED_PUNCTUATION_WEIGHT: f32 = -0.5;
/// Weight when most Latin letters are upper case (shouting), for messages with enough letters.
const SHOUTING_WEIGHT: f32 = -0.6;
/// Fewest Latin letters for the shouting rule to apply ("OK" is not shouting).
const SHOUTING_LETTERS_MIN: usize = 6;

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
    for &(term, weight) in ZH_TERMS {
        if term.chars().any(is_cjk) || term.chars().all(|c| c.is_ascii_digit()) {
            if normalized.contains(term) {
                total += weight;
                cues.push(term);
            }
        } else if contains_word(&normalized, term) {
            total += weight;
            cues.push(term);
        }
    }
    for &(term, weight) in EN_TERMS {
        if contains_word(&normalized, term) {
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
    Sentiment {
        score: (0.8 * total).tanh().clamp(-1.0, 1.0),
        cues,
    }
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
