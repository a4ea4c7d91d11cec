//! `allot compile`, `allot plan` and `allot route`.

use crate::exit;
use crate::orders::{Tally, for_each_order};
use crate::ruleset;
use allot_diagnostics::{Sources, render_human};
use allot_plan::{Artifact, Plan, ruleset_hash};
use allot_runtime::{Decision, Engine, Network};
use std::io::{BufWriter, IsTerminal, Read, Write};
use std::ops::ControlFlow;
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
    /// Orders as a JSON array or JSON Lines; standard input when absent. An order with
    /// `"kind": "return"` is a return request.
    #[arg(long)]
    orders: Option<PathBuf>,
    /// Return requests as a JSON array or JSON Lines: each routed to the nodes that
    /// receive its lines, by the ruleset's `returns` policies.
    #[arg(long, conflicts_with = "orders")]
    returns: Option<PathBuf>,
    /// Add a trace to each decision: every candidate node per line, and why.
    #[arg(long)]
    explain: bool,
    /// No progress bar and no summary line on stderr.
    #[arg(long, short)]
    quiet: bool,
    /// `json`: one JSON decision per line; `text`: a report per decision for a person.
    #[arg(long, value_enum, default_value = "json")]
    format: DecisionFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DecisionFormat {
    Json,
    Text,
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

pub(crate) fn read_text(path: &Path) -> Result<String, Failure> {
    String::from_utf8(read(path)?)
        .map_err(|_| Failure::usage(format!("{}: not UTF-8 text", path.display())))
}

/// A network snapshot for a plan; a bad one ends the command.
pub fn load_network(text: &str, path: &Path, plan: &Plan) -> Result<Network, Failure> {
    Network::from_json(text, plan).map_err(|e| Failure::usage(format!("{}: {e}", path.display())))
}

pub fn route(args: &RouteArgs) -> Result<(), Failure> {
    let plan = match (&args.ruleset, &args.plan) {
        (Some(path), _) => compile_ruleset(path)?.0,
        (None, Some(path)) => read_artifact(path)?,
        (None, None) => return Err(Failure::usage("give --ruleset or --plan")),
    };
    let network = load_network(&read_text(&args.network)?, &args.network, &plan)?;
    let mut engine = Engine::new(plan, network);
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut tally = Tally::new();
    let returns = args.returns.is_some();
    for_each_order(
        args.returns.as_deref().or(args.orders.as_deref()),
        !args.quiet,
        &mut |order, more_at_hand| {
            let decision = match order {
                Ok(value) if returns => engine.route_return_json(&value, args.explain),
                Ok(value) => engine.route_json(&value, args.explain),
                Err(message) => Decision::error(None, message),
            };
            tally.add(decision.status);
            let text = match args.format {
                DecisionFormat::Json => {
                    serde_json::to_string(&decision).expect("decisions serialize")
                }
                DecisionFormat::Text => allot_runtime::explain(&decision),
            };
            let written = writeln!(out, "{text}").and_then(|()| {
                // Before waiting for more orders, the decisions so far go out.
                if more_at_hand { Ok(()) } else { out.flush() }
            });
            // A reader that went away (a closed pipe) stops the batch quietly.
            match written {
                Ok(()) => ControlFlow::Continue(()),
                Err(_) => ControlFlow::Break(()),
            }
        },
    )?;
    let _ = out.flush();
    tally.report(args.quiet);
    Ok(())
}
