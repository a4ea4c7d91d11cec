//! `allot serve`: the routing service (crates/allot-serve), started from flags.

use crate::route::Failure;
use allot_serve::Config;
use allot_serve::ruleset::RulesPath;
use allot_serve::store::Store;
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("rules"))]
pub struct ServeArgs {
    /// A plan compiled with `allot compile`; watched, and swapped in when it changes.
    #[arg(long, group = "rules", required_unless_present_any = ["ruleset", "reconcile"])]
    plan: Option<PathBuf>,
    /// A ruleset (a directory of .allot files, or one file); watched like --plan.
    #[arg(long, group = "rules")]
    ruleset: Option<PathBuf>,
    /// The network: master data, and the stock and load of a new database.
    #[arg(long, required_unless_present = "reconcile")]
    network: Option<PathBuf>,
    /// The database of stock, holds and the ledger: sqlite://FILE, or
    /// postgres://USER@HOST:PORT/DATABASE.
    #[arg(long, default_value = "sqlite://allot.db")]
    db: String,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:7070")]
    listen: String,
    /// A file holding the bearer token of the admin endpoints (off without it).
    #[arg(long)]
    admin_token_file: Option<PathBuf>,
    /// How long a hold lasts unless committed (e.g. 15m, 90s).
    #[arg(long, default_value = "15m", value_parser = humantime::parse_duration)]
    hold_ttl: Duration,
    /// Policy tests (*.test.toml) every new ruleset must pass before it goes live.
    #[arg(long)]
    golden: Option<PathBuf>,
    /// Check the database instead of serving: reserved against the open holds and the
    /// ledger, on hand and load against the ledger. Prints every difference; exit status
    /// 1 when there is one.
    #[arg(long, conflicts_with_all = ["plan", "ruleset", "network", "golden", "listen", "admin_token_file", "hold_ttl"])]
    reconcile: bool,
}

pub fn run(args: &ServeArgs) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::usage(format!("cannot start the runtime: {e}")))?;
    if args.reconcile {
        return runtime.block_on(reconcile(&args.db));
    }
    let Some(network) = args.network.clone() else {
        return Err(Failure::usage("give --network"));
    };
    let rules = match (&args.plan, &args.ruleset) {
        (Some(plan), _) => RulesPath::Plan(plan.clone()),
        (None, Some(ruleset)) => RulesPath::Ruleset(ruleset.clone()),
        (None, None) => return Err(Failure::usage("give --plan or --ruleset")),
    };
    if args.hold_ttl.is_zero() {
        return Err(Failure::usage("--hold-ttl: must be longer than 0"));
    }
    let config = Config {
        db: args.db.clone(),
        listen: args.listen.clone(),
        admin_token_file: args.admin_token_file.clone(),
        hold_ttl: args.hold_ttl,
        golden: args.golden.clone(),
        ..Config::new(rules, network)
    };
    runtime
        .block_on(allot_serve::run(config, allot_serve::shutdown_signal()))
        .map_err(Failure::usage)
}

/// `--reconcile`: the store's audit, a difference per line.
async fn reconcile(db: &str) -> Result<(), Failure> {
    // Opening an SQLite URL creates the file: a mistyped path is no database to check.
    if let Some(path) = db.strip_prefix("sqlite://") {
        let path = path.split('?').next().unwrap_or(path);
        if !std::path::Path::new(path).exists() {
            return Err(Failure::usage(format!("--db {db}: no such file")));
        }
    }
    let store = Store::open(db)
        .await
        .map_err(|e| Failure::usage(e.to_string()))?;
    let audit = async {
        if !store.is_initialized().await? {
            return Ok(None);
        }
        store.audit().await.map(Some)
    };
    let differences = audit.await;
    store.close().await;
    match differences.map_err(|e| Failure::usage(e.to_string()))? {
        None => Err(Failure::usage(format!(
            "--db {db}: no stock was ever imported (the service has not started on it)"
        ))),
        Some(differences) if differences.is_empty() => {
            eprintln!("reconcile: no difference");
            Ok(())
        }
        Some(differences) => {
            for difference in &differences {
                println!("{difference}");
            }
            Err(Failure {
                message: format!("reconcile: {} differences", differences.len()),
                status: crate::exit::FAILED,
            })
        }
    }
}
