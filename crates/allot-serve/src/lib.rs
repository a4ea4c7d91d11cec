//! The Allot routing service: a compiled ruleset behind HTTP, stock and load held in a
//! database (SQLite), holds that never oversell, and rulesets swapped while orders flow.
//!
//! - [`store`]: the database: stock, load, reservations, the ledger, routed orders;
//! - [`service`]: routing and holding, ending holds, stock feeds, ruleset swaps;
//! - [`ruleset`]: reading, compiling and verifying rulesets before they go live;
//! - [`http`]: the HTTP contract and its OpenAPI document;
//! - [`metrics`]: the Prometheus metrics.
//!
//! `allot serve` is a thin shell over [`run`].

pub mod error;
pub mod http;
pub mod metrics;
pub mod ruleset;
pub mod service;
pub mod store;

use ruleset::{Golden, RulesPath};
use service::{Options, Service};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use store::Store;

/// How the service is started (the flags of `allot serve`).
#[derive(Clone, Debug)]
pub struct Config {
    pub rules: RulesPath,
    /// The network file: master data always; stock and load on the first start only.
    pub network: PathBuf,
    /// `sqlite://FILE` or `postgres://USER@HOST:PORT/DATABASE`.
    pub db: String,
    pub listen: String,
    pub admin_token_file: Option<PathBuf>,
    pub hold_ttl: Duration,
    /// A policy test file every new ruleset must pass before it goes live.
    pub golden: Option<PathBuf>,
    /// How often the rules on disk are looked at for changes.
    pub watch_every: Duration,
}

impl Config {
    pub fn new(rules: RulesPath, network: PathBuf) -> Config {
        Config {
            rules,
            network,
            db: "sqlite://allot.db".into(),
            listen: "127.0.0.1:7070".into(),
            admin_token_file: None,
            hold_ttl: Duration::from_secs(15 * 60),
            golden: None,
            watch_every: Duration::from_millis(500),
        }
    }
}

/// The service and its HTTP state, opened on the database but not yet listening.
pub async fn open(config: &Config) -> Result<http::AppState, String> {
    let network_text = std::fs::read_to_string(&config.network)
        .map_err(|e| format!("{}: cannot read: {e}", config.network.display()))?;
    let admin_token = match &config.admin_token_file {
        Some(path) => {
            let token = std::fs::read_to_string(path)
                .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
            let token = token.trim().to_string();
            if token.len() < 16 {
                return Err(format!(
                    "{}: the admin token must be at least 16 characters",
                    path.display()
                ));
            }
            Some(Arc::from(token))
        }
        None => None,
    };
    let golden = match &config.golden {
        Some(path) => Some(Golden::read(path)?),
        None => None,
    };
    let compiled = ruleset::read(&config.rules).map_err(refusal_text)?;
    let first = ruleset::verify(compiled, &network_text, golden.as_ref()).map_err(refusal_text)?;
    let store = Store::open(&config.db).await.map_err(|e| e.to_string())?;
    let options = Options {
        rules: config.rules.clone(),
        network_text,
        golden,
        hold_ttl: config.hold_ttl,
    };
    let service = Service::start(store, options, first).await?;
    Ok(http::AppState {
        service: Arc::new(service),
        admin_token,
    })
}

fn refusal_text(refusal: ruleset::Refusal) -> String {
    let mut text = refusal.message;
    for d in &refusal.diagnostics {
        text.push_str(&format!(
            "\n{}:{}:{}: {}: {}",
            d.file, d.line, d.column, d.code, d.message
        ));
    }
    for failure in &refusal.failures {
        text.push_str(&format!("\n{failure}"));
    }
    text
}

/// Releases expired holds, swaps in the rules on disk when they change, and on
/// PostgreSQL follows other instances' stock changes, until the returned handles are
/// aborted.
pub fn spawn_background(
    service: Arc<Service>,
    config: &Config,
) -> Vec<tokio::task::JoinHandle<()>> {
    let sweep_every =
        (config.hold_ttl / 4).clamp(Duration::from_millis(50), Duration::from_secs(5));
    let sweeper = {
        let service = service.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(sweep_every);
            loop {
                tick.tick().await;
                if let Err(error) = service.sweep().await {
                    eprintln!("allot serve: sweeping expired holds: {error}");
                }
            }
        })
    };
    let follower = service.store().follow().map(|changes| {
        let service = service.clone();
        tokio::spawn(async move { service.follow(changes).await })
    });
    let rules = config.rules.clone();
    let watch_every = config.watch_every;
    let watcher = tokio::spawn(async move {
        let mut seen = ruleset::fingerprint(&rules);
        let mut tick = tokio::time::interval(watch_every);
        loop {
            tick.tick().await;
            let now = ruleset::fingerprint(&rules);
            if now == seen {
                continue;
            }
            seen = now;
            match service.reload().await {
                Ok(true) => eprintln!("allot serve: ruleset {} is active", service.revision()),
                Ok(false) => {}
                Err(error) => eprintln!(
                    "allot serve: the changed ruleset was refused, {} stays active: {}",
                    service.revision(),
                    error.body.error.message
                ),
            }
        }
    });
    [sweeper, watcher].into_iter().chain(follower).collect()
}

/// Runs the service until `shutdown` completes; in-flight requests finish first.
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let state = open(&config).await?;
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|e| format!("--listen {}: {e}", config.listen))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    eprintln!(
        "allot serve: listening on http://{address} (ruleset {}, database {})",
        state.service.revision(),
        config.db
    );
    let background = spawn_background(state.service.clone(), &config);
    let service = state.service.clone();
    let served = axum::serve(listener, http::router(state))
        .with_graceful_shutdown(shutdown)
        .await;
    for task in background {
        task.abort();
    }
    service.store().close().await;
    served.map_err(|e| format!("serving: {e}"))
}

/// Completes on ctrl-c or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    eprintln!("allot serve: shutting down; in-flight requests finish first");
}
