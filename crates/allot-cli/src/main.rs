//! `allot`: the command line of the Allot policy language.

mod check;
mod fmt;
mod master_data;
mod orders;
mod route;
mod ruleset;
mod serve;
mod simulate;
mod test;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Routing and checking allocate many small values; mimalloc serves them faster.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Route orders: one decision per order, as JSON Lines, in input order.
    Route(route::RouteArgs),
    /// Compile a ruleset to a versioned, self-checking plan file.
    Compile(route::CompileArgs),
    /// Print a ruleset's evaluation plan: what runs, and how often.
    Plan(route::PlanArgs),
    /// Rewrite files in the canonical layout (`--check` to only verify).
    Fmt(fmt::FmtArgs),
    /// Run policy tests: the scenarios of `*.test.toml` files.
    Test(test::TestArgs),
    /// Route one batch with two rulesets and report what changed.
    Simulate(simulate::SimulateArgs),
    /// Run the routing service: orders over HTTP, stock held in a database.
    Serve(serve::ServeArgs),
    /// Run the language server on standard input and output.
    Lsp,
}

/// Exit statuses shared by every command.
pub(crate) mod exit {
    pub const OK: u8 = 0;
    pub const FAILED: u8 = 1;
    pub const USAGE: u8 = 2;
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => return ExitCode::from(check::run(&args)),
        Command::Fmt(args) => return ExitCode::from(fmt::run(&args)),
        Command::Test(args) => return ExitCode::from(test::run(&args)),
        Command::Lsp => {
            return match allot_lsp::serve_stdio() {
                Ok(()) => ExitCode::from(exit::OK),
                Err(error) => {
                    eprintln!("error: the language server could not start: {error}");
                    ExitCode::from(exit::USAGE)
                }
            };
        }
        Command::Route(args) => route::route(&args),
        Command::Compile(args) => route::compile(&args),
        Command::Plan(args) => route::plan(&args),
        Command::Simulate(args) => simulate::run(&args),
        Command::Serve(args) => serve::run(&args),
    };
    match result {
        Ok(()) => ExitCode::from(exit::OK),
        Err(failure) => {
            if failure.status == exit::USAGE {
                eprintln!("error: {}", failure.message);
            } else {
                eprintln!("{}", failure.message);
            }
            ExitCode::from(failure.status)
        }
    }
}
