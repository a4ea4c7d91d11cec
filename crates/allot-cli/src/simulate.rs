//! `allot simulate`: route one batch with a baseline and a candidate ruleset, each on
//! its own copy of the network, and report what changed.

use crate::orders::{ReadOrder, Tally, for_each_order};
use crate::route::{Failure, load_network, load_plan};
use allot_runtime::{Decision, Engine};
use allot_simulate::{Page, Place, Report};
use std::collections::HashSet;
use std::io::Write;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::{Arc, mpsc};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
}

#[derive(clap::Args)]
pub struct SimulateArgs {
    /// The ruleset in force: a ruleset directory or file, or a compiled plan.
    #[arg(long)]
    baseline: PathBuf,
    /// The ruleset proposed: a ruleset directory or file, or a compiled plan.
    #[arg(long)]
    candidate: PathBuf,
    /// The network snapshot (JSON); each ruleset routes on its own copy.
    #[arg(long)]
    network: PathBuf,
    /// Orders as a JSON array or JSON Lines; standard input when absent.
    #[arg(long)]
    orders: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// No progress bar and no summary line on stderr.
    #[arg(long, short)]
    quiet: bool,
    /// How many changed orders the table and the report list (JSON lists all).
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// Also write the comparison as one self-contained HTML page: the summary, charts
    /// and the changed orders with both decisions explained.
    #[arg(long, value_name = "FILE.html")]
    report: Option<PathBuf>,
}

/// Decisions travel from a routing thread to the comparison in batches: one message,
/// and at most one wake-up of the comparison, per batch rather than per order.
const BATCH: usize = 256;
/// Batches in flight between a routing thread and the comparison.
const CHANNEL_DEPTH: usize = 8;

pub fn run(args: &SimulateArgs) -> Result<(), Failure> {
    let baseline = load_plan(&args.baseline)?;
    let candidate = load_plan(&args.candidate)?;
    let network_text = std::fs::read_to_string(&args.network).map_err(|e| Failure {
        message: format!("{}: cannot read: {e}", args.network.display()),
        status: crate::exit::USAGE,
    })?;
    // Each side parses its own copy of the network: two jobs that share nothing.
    let (baseline, candidate) = std::thread::scope(|scope| {
        let engine = |plan| {
            let text = &network_text;
            scope.spawn(move || {
                load_network(text, &args.network, &plan).map(|network| Engine::new(plan, network))
            })
        };
        let baseline = engine(baseline);
        let candidate = engine(candidate);
        let joined = |handle: std::thread::ScopedJoinHandle<'_, Result<Engine, Failure>>| {
            handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        };
        Ok::<_, Failure>((joined(baseline)?, joined(candidate)?))
    })?;
    drop(network_text);
    let digital: HashSet<String> = baseline
        .network()
        .nodes
        .iter()
        .filter(|n| n.is_digital())
        .map(|n| n.id.to_string())
        .collect();
    let parcels = |d: &Decision| {
        d.shipments
            .iter()
            .flatten()
            .filter(|s| !digital.contains(&s.node))
            .count()
    };
    let places: Vec<Place> = (baseline.network().nodes.iter())
        .map(|n| Place {
            id: n.id.to_string(),
            lat: n.geo.lat,
            lon: n.geo.lon,
        })
        .collect();
    let currency = baseline.network().currency.clone();
    // The page shows the stage of each decision and explains changed orders: route
    // with a trace for it.
    let explain = args.report.is_some();
    let mut report = Report {
        explained: if explain { args.limit } else { 0 },
        ..Report::default()
    };
    let mut tally = Tally::new();
    // One thread reads the orders, the two rulesets route on a thread each, and their
    // decisions meet here in order.
    std::thread::scope(|scope| {
        let route_all = |mut engine: Engine,
                         orders: mpsc::Receiver<Arc<Vec<ReadOrder>>>,
                         sender: mpsc::SyncSender<Vec<Decision>>| {
            move || {
                for batch in orders {
                    let decisions = batch
                        .iter()
                        .map(|order| match order {
                            Ok(value) => engine.route_json(value, explain),
                            Err(message) => Decision::error(None, message.clone()),
                        })
                        .collect();
                    if sender.send(decisions).is_err() {
                        return;
                    }
                }
            }
        };
        let (old_orders, old_inbox) = mpsc::sync_channel(CHANNEL_DEPTH);
        let (new_orders, new_inbox) = mpsc::sync_channel(CHANNEL_DEPTH);
        let (old_sender, old_batches) = mpsc::sync_channel(CHANNEL_DEPTH);
        let (new_sender, new_batches) = mpsc::sync_channel(CHANNEL_DEPTH);
        scope.spawn(route_all(baseline, old_inbox, old_sender));
        scope.spawn(route_all(candidate, new_inbox, new_sender));
        let reader = scope.spawn(move || {
            // Both sides get the same batches.
            let send = |batch: Vec<ReadOrder>| {
                let batch = Arc::new(batch);
                old_orders.send(Arc::clone(&batch)).is_ok() && new_orders.send(batch).is_ok()
            };
            let mut batch = Vec::with_capacity(BATCH);
            let read = for_each_order(args.orders.as_deref(), !args.quiet, &mut |order, _| {
                batch.push(order);
                if batch.len() == BATCH && !send(std::mem::take(&mut batch)) {
                    return ControlFlow::Break(());
                }
                ControlFlow::Continue(())
            });
            if !batch.is_empty() {
                send(batch);
            }
            read
        });
        for (old, new) in old_batches.iter().zip(new_batches.iter()) {
            for (old, new) in old.into_iter().zip(new) {
                tally.add(new.status);
                report.add(old, new, parcels);
            }
        }
        reader
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })?;
    tally.report(args.quiet);
    if let Some(path) = &args.report {
        let page = Page {
            baseline: &args.baseline.display().to_string(),
            candidate: &args.candidate.display().to_string(),
            nodes: &places,
            currency: &currency,
            limit: args.limit,
        };
        std::fs::write(path, report.html(&page)).map_err(|e| {
            Failure::usage(format!("{}: cannot write the report: {e}", path.display()))
        })?;
    }
    let text = match args.format {
        Format::Human => report.table(args.limit),
        Format::Json => serde_json::to_string_pretty(&report).expect("reports serialize") + "\n",
    };
    // A reader that went away (a closed pipe) is not an error.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    Ok(())
}
