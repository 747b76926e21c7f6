//! `switchboard-loadgen`: see `switchboard_loadgen` (the library) for what it does and `--help` for flags.

use std::process::ExitCode;

use clap::Parser;
use switchboard_loadgen::cli::Args;
use switchboard_loadgen::report::RunReport;
use switchboard_loadgen::run::run;

fn main() -> ExitCode {
    let args = Args::parse();
    let config = match args.to_config() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("switchboard-loadgen: {err}");
            return ExitCode::from(2);
        }
    };
    let outcome = match run(config.clone(), !args.quiet) {
        Ok(outcome) => outcome,
        Err(err) => {
            eprintln!("switchboard-loadgen: {err}");
            return ExitCode::from(2);
        }
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let report = RunReport::new(&config, argv, &outcome.stats, outcome.times);
    print!("{}", report.summary(&outcome.stats));
    if let Some(path) = &args.out {
        let json = serde_json::to_string_pretty(&report).expect("the report serializes");
        if let Err(err) = std::fs::write(path, json + "\n") {
            eprintln!(
                "switchboard-loadgen: cannot write {}: {err}",
                path.display()
            );
            return ExitCode::from(2);
        }
    }
    if report.correctness_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
