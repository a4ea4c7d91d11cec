//! `allot check`.

use crate::exit;
use crate::master_data::NetworkFile;
use crate::ruleset;
use allot_diagnostics::{
    Severity, render_github, render_human, render_json, render_sarif, sort_diagnostics,
};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
    /// GitHub Actions workflow commands: annotations on a pull request.
    Github,
    /// SARIF 2.1.0: a log for code scanning (GitHub, GitLab, Azure DevOps).
    Sarif,
}

#[derive(clap::Args)]
pub struct CheckArgs {
    /// Files or directories (every `*.allot` below a directory).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// `json` prints one array of diagnostics; `github`, a workflow command per
    /// diagnostic (annotations in GitHub Actions), then the summary; `sarif`, one
    /// SARIF 2.1.0 log for code scanning.
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// Fail (exit 1) on warnings too.
    #[arg(long)]
    deny_warnings: bool,
    /// A network snapshot (JSON, as `allot route` reads it) to check the rules against:
    /// node ids, tags, kinds, locations, SKUs and attribute values that rules compare
    /// against but the network lacks, and schema attributes or variants it never uses.
    #[arg(long, value_name = "FILE")]
    network: Option<PathBuf>,
}

pub fn run(args: &CheckArgs) -> u8 {
    let rulesets = match ruleset::collect(&args.paths) {
        Ok(rulesets) => rulesets,
        Err(error) => {
            eprintln!("error: {error}");
            return exit::USAGE;
        }
    };
    let network = match args.network.as_deref().map(NetworkFile::read).transpose() {
        Ok(network) => network,
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            return exit::USAGE;
        }
    };
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let (mut errors, mut warnings, mut files) = (0, 0, 0);
    let mut human = String::new();
    let mut json = Vec::new();
    let mut checked = Vec::new();
    // The language server's database and queries, so that CI and editors agree.
    let mut db = allot_db::Database::default();
    for sources in &rulesets {
        let ruleset = db.ruleset(
            sources
                .iter()
                .map(|(_, file)| (file.path.clone(), file.text.clone()))
                .collect(),
        );
        let mut diagnostics = allot_db::diagnostics(&db, ruleset).clone();
        let has_errors = diagnostics.iter().any(|d| d.severity == Severity::Error);
        // Master data is compared with a ruleset that checks: errors come first.
        if let Some(network) = &network
            && !has_errors
        {
            match network.check(allot_db::model(&db, ruleset), sources) {
                Ok(found) => diagnostics.extend(found),
                Err(failure) => {
                    eprintln!("error: {}", failure.message);
                    return exit::USAGE;
                }
            }
            sort_diagnostics(&mut diagnostics);
        }
        files += sources.len();
        errors += diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        warnings += diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count();
        match args.format {
            Format::Human => human.push_str(&render_human(&diagnostics, sources, color)),
            Format::Github => human.push_str(&render_github(&diagnostics, sources)),
            Format::Json => json.extend(render_json(&diagnostics, sources)),
            Format::Sarif => checked.push((diagnostics, sources)),
        }
    }
    let mut stdout = std::io::stdout().lock();
    let written = match args.format {
        Format::Human | Format::Github => {
            let summary = summary(errors, warnings, files, rulesets.len());
            write!(stdout, "{human}").and_then(|_| writeln!(stdout, "{summary}"))
        }
        Format::Json => serde_json::to_writer_pretty(&mut stdout, &json)
            .map_err(std::io::Error::other)
            .and_then(|_| writeln!(stdout)),
        Format::Sarif => {
            let log = render_sarif(checked.iter().map(|(d, s)| (d.as_slice(), *s)));
            serde_json::to_writer_pretty(&mut stdout, &log)
                .map_err(std::io::Error::other)
                .and_then(|_| writeln!(stdout))
        }
    };
    if written.is_err() {
        return exit::USAGE;
    }
    if errors > 0 || (args.deny_warnings && warnings > 0) {
        exit::FAILED
    } else {
        exit::OK
    }
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

fn summary(errors: usize, warnings: usize, files: usize, rulesets: usize) -> String {
    let checked = format!(
        "checked {} in {}",
        plural(files, "file"),
        plural(rulesets, "ruleset")
    );
    match (errors, warnings) {
        (0, 0) => format!("{checked}: no problems"),
        _ => format!(
            "{checked}: {}, {}",
            plural(errors, "error"),
            plural(warnings, "warning")
        ),
    }
}
