//! `allot fmt`.

use crate::exit;
use crate::ruleset;
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct FmtArgs {
    /// Files or directories (every `*.allot` below a directory).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Change nothing; exit 1 and name the files that are not formatted.
    #[arg(long)]
    check: bool,
    /// Change nothing; print what formatting would change, as a unified diff.
    #[arg(long)]
    diff: bool,
}

pub fn run(args: &FmtArgs) -> u8 {
    let files = match ruleset::files(&args.paths) {
        Ok(files) => files,
        Err(error) => {
            eprintln!("error: {error}");
            return exit::USAGE;
        }
    };
    let mut status = exit::OK;
    let mut stdout = std::io::stdout().lock();
    for file in files {
        let name = file.display().to_string();
        let text = match ruleset::read(&file) {
            Ok(text) => text,
            Err(error) => {
                eprintln!("error: {error}");
                status = exit::USAGE;
                continue;
            }
        };
        let formatted = match allot_fmt::format(&text) {
            Ok(formatted) => formatted,
            Err(error) => {
                eprintln!("{name}: {error}");
                status = status.max(exit::FAILED);
                continue;
            }
        };
        if formatted == text {
            continue;
        }
        if args.check || args.diff {
            // The diff only when it is shown: on a large file it costs more than formatting.
            let shown = if args.diff {
                let diff = similar::TextDiff::from_lines(&text, &formatted);
                write!(stdout, "{}", diff.unified_diff().header(&name, &name))
            } else {
                writeln!(stdout, "would reformat {name}")
            };
            if shown.is_err() {
                // The reader went away (a closed pipe).
                return status.max(exit::FAILED);
            }
            status = status.max(exit::FAILED);
        } else if let Err(error) = std::fs::write(&file, formatted) {
            eprintln!("error: {name}: cannot write: {error}");
            status = exit::USAGE;
        }
    }
    status
}
