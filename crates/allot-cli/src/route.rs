//! `allot compile`, `allot plan` and `allot route`.

use crate::exit;
use crate::ruleset;
use allot_diagnostics::{Sources, render_human};
use allot_plan::{Artifact, Plan, ruleset_hash};
use allot_runtime::{Decision, Engine, Network};
use std::io::{BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

/// A failure that ends the command: the message for stderr and the exit status.
pub struct Failure {
    pub message: String,
    pub status: u8,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            status: exit::USAGE,
        }
    }
}

/// The one ruleset at `path`, checked and compiled.
pub fn compile_ruleset(path: &Path) -> Result<(Plan, Sources), Failure> {
    let mut rulesets =
        ruleset::collect(&[path.to_path_buf()]).map_err(|e| Failure::usage(e.to_string()))?;
    if rulesets.len() != 1 {
        return Err(Failure::usage(format!(
            "{}: holds {} rulesets (one per directory of .allot files); name one of them",
            path.display(),
            rulesets.len()
        )));
    }
    let sources = rulesets.remove(0);
    match allot_compile::compile_sources(&sources) {
        Ok(plan) => Ok((plan, sources)),
        Err(diagnostics) => {
            let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            let errors = diagnostics.iter().filter(|d| d.is_error()).count();
            Err(Failure {
                message: format!(
                    "{}error: the ruleset has {errors} error{}; nothing was compiled",
                    render_human(&diagnostics, &sources, color),
                    if errors == 1 { "" } else { "s" }
                ),
                status: exit::FAILED,
            })
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| Failure::usage(format!("{}: cannot read: {e}", path.display())))
}

#[derive(clap::Args)]
pub struct CompileArgs {
    /// The ruleset: a directory of .allot files, or one file.
    path: PathBuf,
    /// Where to write the compiled plan.
    #[arg(short, long)]
    output: PathBuf,
}

pub fn compile(args: &CompileArgs) -> Result<(), Failure> {
    let (plan, sources) = compile_ruleset(&args.path)?;
    let hash = ruleset_hash(
        sources
            .iter()
            .map(|(_, f)| (f.path.as_str(), f.text.as_str())),
    );
    let artifact = Artifact {
        ruleset_hash: hash,
        plan,
    };
    std::fs::write(&args.output, artifact.encode())
        .map_err(|e| Failure::usage(format!("{}: cannot write: {e}", args.output.display())))?;
    eprintln!(
        "compiled {} to {} (ruleset {hash:016x})",
        args.path.display(),
        args.output.display()
    );
    Ok(())
}

#[derive(clap::Args)]
pub struct PlanArgs {
    /// The ruleset: a directory of .allot files, or one file.
    path: PathBuf,
}

pub fn plan(args: &PlanArgs) -> Result<(), Failure> {
    let (plan, _) = compile_ruleset(&args.path)?;
    print!("{plan}");
    Ok(())
}

#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("rules").required(true))]
pub struct RouteArgs {
    /// The ruleset to route with (checked and compiled first).
    #[arg(long, group = "rules")]
    ruleset: Option<PathBuf>,
    /// A plan compiled with `allot compile`.
    #[arg(long, group = "rules")]
    plan: Option<PathBuf>,
    /// The network snapshot (JSON).
    #[arg(long)]
    network: PathBuf,
    /// Orders as a JSON array or JSON Lines; standard input when absent.
    #[arg(long)]
    orders: Option<PathBuf>,
    /// Add a trace to each decision: every candidate node per line, and why.
    #[arg(long)]
    explain: bool,
}

/// The orders of a batch: each either a JSON value or why it is not one.
fn orders(text: &str) -> Result<Vec<Result<serde_json::Value, String>>, Failure> {
    if text.trim_start().starts_with('[') {
        let values: Vec<serde_json::Value> = serde_json::from_str(text)
            .map_err(|e| Failure::usage(format!("orders: not a valid JSON array: {e}")))?;
        return Ok(values.into_iter().map(Ok).collect());
    }
    Ok(text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| {
            serde_json::from_str(line)
                .map_err(|e| format!("orders line {}: not valid JSON: {e}", n + 1))
        })
        .collect())
}

/// A plan from a file compiled with `allot compile` (known by its magic bytes), or
/// from a ruleset (a directory of `.allot` files or one file), checked and compiled.
pub fn load_plan(path: &Path) -> Result<Plan, Failure> {
    let mut magic = [0u8; 8];
    let is_artifact = std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && &magic == allot_plan::MAGIC;
    if is_artifact {
        read_artifact(path)
    } else {
        Ok(compile_ruleset(path)?.0)
    }
}

fn read_artifact(path: &Path) -> Result<Plan, Failure> {
    Ok(Artifact::decode(&read(path)?)
        .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?
        .plan)
}

fn read_text(path: &Path) -> Result<String, Failure> {
    String::from_utf8(read(path)?)
        .map_err(|_| Failure::usage(format!("{}: not UTF-8 text", path.display())))
}

/// A network snapshot for a plan; a bad one ends the command.
pub fn load_network(text: &str, path: &Path, plan: &Plan) -> Result<Network, Failure> {
    Network::from_json(text, plan).map_err(|e| Failure::usage(format!("{}: {e}", path.display())))
}

/// The orders of a batch, from a file or standard input.
pub fn read_orders(path: Option<&Path>) -> Result<Vec<Result<serde_json::Value, String>>, Failure> {
    let text = match path {
        Some(path) => read_text(path)?,
        None => {
            let mut text = String::new();
            std::io::stdin()
                .lock()
                .read_to_string(&mut text)
                .map_err(|e| Failure::usage(format!("standard input: {e}")))?;
            text
        }
    };
    orders(&text)
}

pub fn route(args: &RouteArgs) -> Result<(), Failure> {
    let plan = match (&args.ruleset, &args.plan) {
        (Some(path), _) => compile_ruleset(path)?.0,
        (None, Some(path)) => read_artifact(path)?,
        (None, None) => return Err(Failure::usage("give --ruleset or --plan")),
    };
    let network = load_network(&read_text(&args.network)?, &args.network, &plan)?;
    let orders = read_orders(args.orders.as_deref())?;
    let mut engine = Engine::new(plan, network);
    let progress = progress_bar(orders.len());
    let mut out = BufWriter::new(std::io::stdout().lock());
    for order in &orders {
        let decision = match order {
            Ok(value) => engine.route_json(value, args.explain),
            Err(message) => Decision::error(None, message.clone()),
        };
        let line = serde_json::to_string(&decision).expect("decisions serialize");
        if writeln!(out, "{line}").is_err() {
            // The reader went away (a closed pipe): stop quietly.
            return Ok(());
        }
        if let Some(bar) = &progress {
            bar.inc(1);
        }
    }
    let _ = out.flush();
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    Ok(())
}

/// A progress bar on stderr for large batches, only when a person is watching.
pub fn progress_bar(total: usize) -> Option<indicatif::ProgressBar> {
    (total >= 1000 && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(total as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} orders, {per_sec}, eta {eta}",
            )
            .expect("a valid template"),
        );
        bar
    })
}
