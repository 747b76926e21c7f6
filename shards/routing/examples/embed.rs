//! Prints the piece ids and the first embedding values of each argument, and the time per text: a check
//! of the in-process encoder against the reference package (`embed DIR TEXT…`).

use std::path::PathBuf;
use std::time::Instant;

use switchboard_routing::embed::Encoder;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .unwrap_or_else(|| "target/embedding-model".into()),
    );
    let started = Instant::now();
    let encoder = Encoder::load(&dir)?;
    println!("loaded in {:?}", started.elapsed());
    for text in args {
        let started = Instant::now();
        let v = encoder.embed(&text);
        let took = started.elapsed();
        println!("{text:?} {:?}", encoder.piece_ids(&text));
        println!("  {:?} in {took:?}", &v[..4]);
    }
    Ok(())
}
