//! The service's Prometheus metrics.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabel {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabel {
    pub event: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RevisionLabel {
    pub revision: String,
}

fn latency_histogram() -> Histogram {
    // 100 µs to about 3 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteLabel, Histogram, fn() -> Histogram>,
    pub decisions: Family<StatusLabel, Counter>,
    pub holds: Family<EventLabel, Counter>,
    pub conflicts: Counter,
    pub retries: Counter,
    pub swaps: Family<StatusLabel, Counter>,
    pub revision: Family<RevisionLabel, Gauge>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut registry = Registry::with_prefix("allot");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabel, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from request to answer, by route",
            latency.clone(),
        );
        let decisions = Family::<StatusLabel, Counter>::default();
        registry.register(
            "decisions",
            "Routing decisions by status",
            decisions.clone(),
        );
        let holds = Family::<EventLabel, Counter>::default();
        registry.register(
            "reservations",
            "Reservations by event: held, committed, released, expired",
            holds.clone(),
        );
        let conflicts = Counter::default();
        registry.register(
            "hold_conflicts",
            "Holds refused by the database because stock or load changed since routing",
            conflicts.clone(),
        );
        let retries = Counter::default();
        registry.register(
            "route_retries",
            "Orders routed again after a conflict",
            retries.clone(),
        );
        let swaps = Family::<StatusLabel, Counter>::default();
        registry.register(
            "ruleset_swaps",
            "Ruleset activations by outcome: activated, refused, rolled_back",
            swaps.clone(),
        );
        let revision = Family::<RevisionLabel, Gauge>::default();
        registry.register(
            "ruleset_active",
            "1 for the revision of the active ruleset",
            revision.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            decisions,
            holds,
            conflicts,
            retries,
            swaps,
            revision,
        }
    }
}

impl Metrics {
    pub fn request(&self, route: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_string(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabel {
                route: route.to_string(),
            })
            .observe(elapsed.as_secs_f64());
    }

    pub fn decision(&self, status: &str) {
        self.decisions
            .get_or_create(&StatusLabel {
                status: status.to_string(),
            })
            .inc();
    }

    pub fn reservation(&self, event: &str) {
        self.holds
            .get_or_create(&EventLabel {
                event: event.to_string(),
            })
            .inc();
    }

    pub fn swap(&self, outcome: &str) {
        self.swaps
            .get_or_create(&StatusLabel {
                status: outcome.to_string(),
            })
            .inc();
    }

    pub fn active_revision(&self, revision: &str) {
        self.revision.clear();
        self.revision
            .get_or_create(&RevisionLabel {
                revision: revision.to_string(),
            })
            .set(1);
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String does not fail");
        out
    }
}
