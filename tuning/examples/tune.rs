//! `switchboard tune` as a stand-alone program, until the `switchboard` binary embeds it:
//! `cargo run -p switchboard-tuning --example tune -- check --profile c1m --connections 1000000`.

use clap::Parser;

/// Compare, apply and revert Switchboard's sysctl profiles.
#[derive(Debug, Parser)]
#[command(name = "tune")]
struct Cli {
    #[command(flatten)]
    tune: switchboard_tuning::cli::TuneArgs,
}

fn main() -> anyhow::Result<std::process::ExitCode> {
    switchboard_tuning::cli::run(&Cli::parse().tune)
}
