//! `switchboard-sim`: runs the deterministic chat simulator over a range of seeds (the soak command), or
//! replays one seed.

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use switchboard_sim::{run, SimConfig};

/// Runs seeds of the deterministic chat simulator and reports the first failure.
#[derive(Debug, Parser)]
#[command(name = "switchboard-sim", version)]
struct Args {
    /// Run only this seed (replays a failure).
    #[arg(long)]
    seed: Option<u64>,
    /// First seed of the range.
    #[arg(long, default_value_t = 0)]
    first_seed: u64,
    /// Seeds to run.
    #[arg(long, default_value_t = 1_000)]
    seeds: u64,
    /// Traffic steps per seed (5 virtual ms each), before the quiet phase.
    #[arg(long, default_value_t = SimConfig::default().steps)]
    steps: u64,
    /// Connection shards.
    #[arg(long, default_value_t = SimConfig::default().shards)]
    shards: usize,
    /// Customers.
    #[arg(long, default_value_t = SimConfig::default().customers)]
    customers: usize,
    /// Agents.
    #[arg(long, default_value_t = SimConfig::default().agents)]
    agents: usize,
    /// Crashes per thousand steps.
    #[arg(long, default_value_t = SimConfig::default().crash_per_mille)]
    crash_per_mille: u32,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = SimConfig {
        steps: args.steps,
        shards: args.shards,
        customers: args.customers,
        agents: args.agents,
        crash_per_mille: args.crash_per_mille,
        ..SimConfig::default()
    };
    let seeds = match args.seed {
        Some(seed) => seed..seed + 1,
        None => args.first_seed..args.first_seed + args.seeds,
    };
    let started = Instant::now();
    let (mut runs, mut acked, mut crashes, mut assignments, mut tickets) = (0u64, 0, 0, 0, 0);
    for seed in seeds {
        match run(&config, seed) {
            Ok(report) => {
                runs += 1;
                acked += report.acked;
                crashes += report.crashes;
                assignments += report.assignments;
                tickets += report.tickets;
                if args.seed.is_some() {
                    println!("seed {seed}: {report:?}");
                }
            }
            Err(error) => {
                eprintln!("switchboard-sim: {error}");
                return ExitCode::FAILURE;
            }
        }
    }
    println!(
        "switchboard-sim: {runs} seeds passed in {:.1} s: {acked} messages acknowledged, {crashes} crashes, \
         {assignments} assignments, {tickets} tickets",
        started.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}
