//! `switchboard ai …` without the server crate: the same [`switchboard_routing::cli::run`], so the
//! routing crate alone can be built with optimisations for evaluations that embed thousands of texts
//! (`cargo run --release -p switchboard-routing --example ai -- eval --cv 5`).

use std::process::ExitCode;

use clap::Parser;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    ai: switchboard_routing::cli::AiArgs,
}

fn main() -> anyhow::Result<ExitCode> {
    switchboard_routing::cli::run(&Args::parse().ai)
}
