//! The `switchboard` binary.

use clap::{Parser, Subcommand};

/// Switchboard: a customer-service instant-messaging server.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the protocol's self-description.
    Describe,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Describe => {
            println!("switchboard.v1");
            Ok(())
        }
    }
}
