//! SentencePiece unigram tokenisation: the model file (a protobuf), normalisation, and Viterbi
//! segmentation into the highest-scoring sequence of vocabulary pieces.
//!
//! Only what the encoder needs is read from the protobuf: the pieces with their scores (field 1 of the
//! model) and the precompiled character map (field 2 of field 3 in the layout of the USE model file).
//! The segmentation follows SentencePiece's lattice: a character no piece starts with becomes the
//! unknown id with the lowest score minus 10.

use std::collections::HashMap;

use super::charsmap::Normalizer;
use super::EmbedError;

/// Id of the unknown piece.
pub const UNK_ID: u32 = 0;
/// Id of the begin-of-sentence marker.
pub const BOS_ID: u32 = 1;
/// Id of the end-of-sentence marker.
pub const EOS_ID: u32 = 2;
/// Most pieces accepted from a model file.
pub const PIECES_MAX: usize = 1 << 20;
/// Penalty of the unknown piece below the lowest piece score (SentencePiece's `kUnkPenalty`).
const UNK_PENALTY: f32 = 10.0;

/// A SentencePiece unigram tokenizer.
#[derive(Debug, Clone)]
pub struct Tokenizer {
    /// Piece text → id.
    ids: HashMap<Box<str>, u32>,
    /// Score of each piece, by id.
    scores: Vec<f32>,
    /// Longest piece, in characters.
    piece_chars_max: usize,
    /// Score of an unknown character.
    unk_score: f32,
    /// The text normaliser.
    normalizer: Normalizer,
}

/// One protobuf field: number and payload (a varint value, or the bytes of a length-delimited or
/// fixed-width field).
enum Field<'a> {
    Varint,
    Bytes(&'a [u8]),
}

fn read_varint(data: &[u8], position: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *data.get(*position)?;
        *position += 1;
        value |= u64::from(byte & 0x7F) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// The fields of one protobuf message, in order; `None` if it is malformed.
fn fields(data: &[u8]) -> Option<Vec<(u64, Field<'_>)>> {
    let mut out = Vec::new();
    let mut position = 0usize;
    while position < data.len() {
        let tag = read_varint(data, &mut position)?;
        let field = match tag & 7 {
            0 => {
                read_varint(data, &mut position)?;
                Field::Varint
            }
            1 | 5 => {
                let width = if tag & 7 == 1 { 8 } else { 4 };
                let bytes = data.get(position..position + width)?;
                position += width;
                Field::Bytes(bytes)
            }
            2 => {
                let length = usize::try_from(read_varint(data, &mut position)?).ok()?;
                let bytes = data.get(position..position.checked_add(length)?)?;
                position += length;
                Field::Bytes(bytes)
            }
            _ => return None,
        };
        out.push((tag >> 3, field));
    }
    Some(out)
}

impl Tokenizer {
    /// Parses a SentencePiece model file.
    pub fn from_model(bytes: &[u8]) -> Result<Self, EmbedError> {
        let bad = |why: &str| EmbedError::Format {
            file: "sp.model".to_string(),
            why: why.to_string(),
        };
        let top = fields(bytes).ok_or_else(|| bad("not a protobuf message"))?;
        let mut ids: HashMap<Box<str>, u32> = HashMap::new();
        let mut scores = Vec::new();
        let mut charsmap: &[u8] = &[];
        for (number, field) in &top {
            match (number, field) {
                (1, Field::Bytes(piece)) => {
                    let inner = fields(piece).ok_or_else(|| bad("malformed piece"))?;
                    let (mut text, mut score) = (None, 0.0f32);
                    for (n, f) in inner {
                        match (n, f) {
                            (1, Field::Bytes(t)) => text = Some(t),
                            (2, Field::Bytes(s)) if s.len() == 4 => {
                                score = f32::from_le_bytes([s[0], s[1], s[2], s[3]]);
                            }
                            _ => {}
                        }
                    }
                    let text = std::str::from_utf8(text.ok_or_else(|| bad("piece without text"))?)
                        .map_err(|_| bad("piece is not UTF-8"))?;
                    if scores.len() >= PIECES_MAX {
                        return Err(bad("too many pieces"));
                    }
                    ids.entry(text.into()).or_insert(scores.len() as u32);
                    scores.push(score);
                }
                (3, Field::Bytes(spec)) => {
                    let inner = fields(spec).ok_or_else(|| bad("malformed spec"))?;
                    if let Some((_, Field::Bytes(map))) = inner.into_iter().find(|(n, _)| *n == 2) {
                        charsmap = map;
                    }
                }
                _ => {}
            }
        }
        if scores.len() <= EOS_ID as usize {
            return Err(bad("fewer pieces than the control ids"));
        }
        let piece_chars_max = ids.keys().map(|p| p.chars().count()).max().unwrap_or(1);
        let unk_score = scores.iter().copied().fold(f32::INFINITY, f32::min) - UNK_PENALTY;
        Ok(Tokenizer {
            ids,
            scores,
            piece_chars_max,
            unk_score,
            normalizer: Normalizer::from_charsmap(charsmap)?,
        })
    }

    /// Number of pieces (the largest id plus one).
    pub fn pieces(&self) -> usize {
        self.scores.len()
    }

    /// The piece ids of `text` between [`BOS_ID`] and [`EOS_ID`]; an empty text is one [`UNK_ID`].
    pub fn encode(&self, text: &str, out: &mut Vec<u32>) {
        out.clear();
        out.push(BOS_ID);
        let normalized = self.normalizer.normalize(text);
        if normalized.is_empty() {
            out.push(UNK_ID);
        } else {
            self.viterbi(&normalized, out);
        }
        out.push(EOS_ID);
    }

    /// Appends the best segmentation of `normalized` to `out`.
    fn viterbi(&self, normalized: &str, out: &mut Vec<u32>) {
        let bounds: Vec<usize> = normalized
            .char_indices()
            .map(|(i, _)| i)
            .chain(std::iter::once(normalized.len()))
            .collect();
        let length = bounds.len() - 1;
        let mut best = vec![f32::NEG_INFINITY; length + 1];
        best[0] = 0.0;
        let mut start_of = vec![0usize; length + 1];
        let mut piece_of = vec![UNK_ID; length + 1];
        for i in 0..length {
            let base = best[i];
            let mut has_single = false;
            for j in i + 1..=(i + self.piece_chars_max).min(length) {
                let Some(&id) = self.ids.get(&normalized[bounds[i]..bounds[j]]) else {
                    continue;
                };
                let score = base + self.scores[id as usize];
                if score > best[j] {
                    best[j] = score;
                    start_of[j] = i;
                    piece_of[j] = id;
                }
                has_single |= j == i + 1;
            }
            if !has_single && base + self.unk_score > best[i + 1] {
                best[i + 1] = base + self.unk_score;
                start_of[i + 1] = i;
                piece_of[i + 1] = UNK_ID;
            }
        }
        let first = out.len();
        let mut position = length;
        while position > 0 {
            out.push(piece_of[position]);
            position = start_of[position];
        }
        out[first..].reverse();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model file with the given pieces (text, score) and no character map.
    pub(crate) fn model(pieces: &[(&str, f32)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (text, score) in pieces {
            let mut piece = vec![0x0A, text.len() as u8];
            piece.extend_from_slice(text.as_bytes());
            piece.push(0x15);
            piece.extend_from_slice(&score.to_le_bytes());
            out.push(0x0A);
            out.push(piece.len() as u8);
            out.extend_from_slice(&piece);
        }
        out
    }

    #[test]
    fn viterbi_prefers_the_best_total_score() {
        let bytes = model(&[
            ("<unk>", 0.0),
            ("<s>", 0.0),
            ("</s>", 0.0),
            ("▁", -1.0),
            ("▁re", -2.0),
            ("fund", -2.0),
            ("▁refund", -3.0),
            ("退款", -1.0),
            ("退", -4.0),
        ]);
        let t = Tokenizer::from_model(&bytes).expect("model");
        let mut ids = Vec::new();
        t.encode("refund", &mut ids);
        assert_eq!(ids, [BOS_ID, 6, EOS_ID]);
        t.encode("退款", &mut ids);
        assert_eq!(ids, [BOS_ID, 3, 7, EOS_ID]);
        // "x" is no piece: one unknown.
        t.encode("x", &mut ids);
        assert_eq!(ids, [BOS_ID, 3, UNK_ID, EOS_ID]);
        t.encode("  ", &mut ids);
        assert_eq!(ids, [BOS_ID, UNK_ID, EOS_ID]);
    }

    #[test]
    fn malformed_models_are_refused() {
        assert!(Tokenizer::from_model(&[0x0A, 0x50, 1]).is_err());
        assert!(Tokenizer::from_model(&model(&[("<unk>", 0.0)])).is_err());
    }
}
