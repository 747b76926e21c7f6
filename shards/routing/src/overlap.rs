//! The near-duplicate guard between an evaluation set and the training utterances.
//!
//! A held-out message that repeats a training line up to punctuation, or contains one, measures memory,
//! not understanding. Texts are folded (normalised, punctuation and spacing dropped except one space
//! between Latin words) and compared by their character n-grams: two texts are near-duplicates when their
//! folded forms are equal, or when the n-grams of the shorter are almost all found in the longer (the
//! overlap coefficient `|A ∩ B| / min(|A|, |B|)`), which covers containment and light edits.

use std::collections::BTreeSet;

use super::text::{is_cjk, normalize};

/// Length of the character n-grams compared.
pub const NGRAM_CHARS: usize = 3;
/// Overlap coefficient at or above which two texts are near-duplicates.
pub const OVERLAP_MAX: f64 = 0.8;
/// Fewest n-grams the shorter text needs for the overlap rule; shorter texts are compared folded-equal
/// only, since a two-word line overlapping a long one is a shared phrase, not a copy.
pub const NGRAMS_MIN: usize = 6;

/// `text` normalised, with punctuation and symbols dropped and Latin words separated by one space.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in normalize(text).chars() {
        if is_cjk(c) {
            out.push(c);
            pending_space = false;
        } else if c.is_alphanumeric() {
            let previous_latin = out.chars().next_back().is_some_and(|p| !is_cjk(p));
            if pending_space && previous_latin {
                out.push(' ');
            }
            out.push(c);
            pending_space = false;
        } else if c != '\'' {
            pending_space = true;
        }
    }
    out
}

/// The set of character n-grams of a folded text.
fn ngrams(folded: &str) -> BTreeSet<&str> {
    let boundaries: Vec<usize> = folded
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(folded.len()))
        .collect();
    boundaries
        .windows(NGRAM_CHARS + 1)
        .map(|w| &folded[w[0]..w[NGRAM_CHARS]])
        .collect()
}

/// The overlap coefficient of the n-grams of two texts (0 when either has none).
pub fn overlap(a: &str, b: &str) -> f64 {
    let (a, b) = (fold(a), fold(b));
    let (a, b) = (ngrams(&a), ngrams(&b));
    let smaller = a.len().min(b.len());
    if smaller == 0 {
        return 0.0;
    }
    a.intersection(&b).count() as f64 / smaller as f64
}

/// Whether `a` and `b` are near-duplicates (see the module documentation).
pub fn is_near_duplicate(a: &str, b: &str) -> bool {
    let (fa, fb) = (fold(a), fold(b));
    if fa == fb {
        return !fa.is_empty();
    }
    let (na, nb) = (ngrams(&fa), ngrams(&fb));
    let smaller = na.len().min(nb.len());
    smaller >= NGRAMS_MIN && na.intersection(&nb).count() as f64 >= OVERLAP_MAX * smaller as f64
}

/// A held-out message and the training line it nearly duplicates.
#[derive(Debug, Clone, PartialEq)]
pub struct NearDuplicate {
    /// The evaluation message.
    pub message: String,
    /// The training line.
    pub training: String,
    /// Their overlap coefficient.
    pub overlap: f64,
}

/// Every pair of `messages` × `training` that are near-duplicates, in `messages` order.
pub fn near_duplicates<'a>(
    messages: impl IntoIterator<Item = &'a str>,
    training: &[&str],
) -> Vec<NearDuplicate> {
    let folded: Vec<String> = training.iter().map(|t| fold(t)).collect();
    let grams: Vec<BTreeSet<&str>> = folded.iter().map(|f| ngrams(f)).collect();
    let mut out = Vec::new();
    for message in messages {
        let fm = fold(message);
        let gm = ngrams(&fm);
        for (i, (ft, gt)) in folded.iter().zip(&grams).enumerate() {
            let smaller = gm.len().min(gt.len());
            let common = gm.intersection(gt).count();
            let equal = fm == *ft && !fm.is_empty();
            let close = smaller >= NGRAMS_MIN && common as f64 >= OVERLAP_MAX * smaller as f64;
            if equal || close {
                out.push(NearDuplicate {
                    message: message.to_string(),
                    training: training[i].to_string(),
                    overlap: if smaller == 0 {
                        1.0
                    } else {
                        common as f64 / smaller as f64
                    },
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_drops_punctuation_and_extra_spacing() {
        assert_eq!(fold("I want  a REFUND!!"), "i want a refund");
        assert_eq!(fold("我要退款。"), "我要退款");
        assert_eq!(fold("退款 refund"), "退款refund");
        assert_eq!(fold("don't"), "dont");
    }

    #[test]
    fn ngrams_are_character_windows() {
        let g = ngrams("我要退款");
        assert_eq!(g.into_iter().collect::<Vec<_>>(), ["我要退", "要退款"]);
    }
}
