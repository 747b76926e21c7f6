//! Classification latency of the n-gram and the hybrid model on one thread: every message of the given
//! labelled files, three rounds, p50/p99/max (`latency MODEL_DIR FILE…`). A measurement, not a test: run
//! it in a release build on a quiet machine.

use std::path::{Path, PathBuf};
use std::time::Instant;

use switchboard_routing::brain::Brain;
use switchboard_routing::embed::Encoder;
use switchboard_routing::hybrid::HybridBrain;
use switchboard_routing::kb::KnowledgeBase;
use switchboard_routing::labelled::LabelledSet;
use switchboard_routing::ngram::{NgramBrain, TrainConfig};

fn percentiles(name: &str, brain: &dyn Brain, texts: &[String]) {
    let mut micros = Vec::new();
    let mut probabilities = Vec::new();
    for _ in 0..3 {
        for text in texts {
            let started = Instant::now();
            brain.classify_into(text, &mut probabilities);
            micros.push(started.elapsed().as_secs_f64() * 1e6);
        }
    }
    micros.sort_by(f64::total_cmp);
    let at = |q: f64| micros[((micros.len() - 1) as f64 * q).round() as usize];
    println!(
        "{name:<8} n={} p50={:.0} µs p99={:.0} µs max={:.0} µs",
        micros.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    );
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .unwrap_or_else(|| "target/embedding-model".into()),
    );
    let mut texts = Vec::new();
    for file in args {
        let set = LabelledSet::from_file(Path::new(&file))?;
        texts.extend(set.messages.into_iter().map(|m| m.text));
    }
    let kb = KnowledgeBase::builtin()?;
    let ngram = NgramBrain::train(&kb, &TrainConfig::default())?;
    let started = Instant::now();
    let hybrid = HybridBrain::train(&kb, &TrainConfig::default(), Encoder::load(&dir)?)?;
    println!("hybrid loaded and trained in {:?}", started.elapsed());
    percentiles("n-grams", &ngram, &texts);
    percentiles("hybrid", &hybrid, &texts);
    Ok(())
}
