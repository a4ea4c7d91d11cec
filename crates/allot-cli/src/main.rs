//! `allot`: the command line of the Allot policy language.

mod check;
mod ruleset;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "allot", version, about = "Order sourcing policies as code")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse and type-check rulesets. The `.allot` files directly inside one
    /// directory form one ruleset; a file given on its own is a ruleset by itself.
    Check(check::CheckArgs),
}

/// Exit statuses shared by every command.
pub(crate) mod exit {
    pub const OK: u8 = 0;
    pub const FAILED: u8 = 1;
    pub const USAGE: u8 = 2;
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let status = match cli.command {
        Command::Check(args) => check::run(&args),
    };
    ExitCode::from(status)
}
