//! Running scenarios: build each scenario's network, route its orders in sequence,
//! and hold every expectation against the decisions.

use crate::format::{
    CostExpectation, ExclusionExpectation, Expectation, NetworkSource, Scenario, TestFile,
    TestFileError, table_to_json,
};
use allot_diagnostics::closest;
use allot_plan::{Origin, Plan, PolicyKind};
use allot_runtime::decision::{CandidateTrace, Decision};
use allot_runtime::explain;
use allot_runtime::{Engine, Network, Order};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// What became of one scenario.
#[derive(Debug)]
pub enum Outcome {
    Passed,
    /// Expectations that did not hold, and the explanation of each decision they concern.
    Failed {
        mismatches: Vec<String>,
        explanations: Vec<String>,
    },
    /// The scenario itself is wrong: an unknown node, a malformed order…
    Invalid(TestFileError),
}

#[derive(Debug)]
pub struct ScenarioReport {
    pub name: String,
    pub outcome: Outcome,
}

/// Runs the scenarios of test files against one compiled ruleset, remembering which of
/// its rules they exercised.
pub struct Runner<'p> {
    plan: &'p Plan,
    /// Network files, read once: the JSON, or why it could not be read.
    networks: HashMap<PathBuf, Result<Value, String>>,
    exercised: BTreeSet<Origin>,
}

/// A routed order of a scenario.
struct Routed {
    id: String,
    lines: Vec<String>,
    decision: Decision,
}

impl<'p> Runner<'p> {
    pub fn new(plan: &'p Plan) -> Runner<'p> {
        Runner {
            plan,
            networks: HashMap::new(),
            exercised: BTreeSet::new(),
        }
    }

    /// Where the rules some scenario exercised are written.
    pub fn exercised(&self) -> &BTreeSet<Origin> {
        &self.exercised
    }

    pub fn run_file(&mut self, file: &TestFile) -> Vec<ScenarioReport> {
        file.scenarios
            .iter()
            .map(|scenario| ScenarioReport {
                name: scenario.get_ref().name.get_ref().clone(),
                outcome: self
                    .run_scenario(file, scenario)
                    .unwrap_or_else(Outcome::Invalid),
            })
            .collect()
    }

    fn run_scenario(
        &mut self,
        file: &TestFile,
        spanned: &Spanned<Scenario>,
    ) -> Result<Outcome, TestFileError> {
        let scenario = spanned.get_ref();
        let network = self.network(file, spanned)?;
        let mut engine = Engine::new(self.plan.clone(), network);
        let mut routed: Vec<Routed> = Vec::new();
        for order in &scenario.order {
            let value = table_to_json(order.get_ref());
            let parsed = Order::from_value(&value, self.plan, engine.network())
                .map_err(|e| file.error(order.span(), e.to_string()))?;
            if routed.iter().any(|r| r.id == *parsed.id) {
                return Err(file.error(
                    order.span(),
                    format!("a second order \"{}\" in this scenario", parsed.id),
                ));
            }
            let decision = engine.route(&parsed, true);
            if let Some(trace) = &decision.trace {
                self.exercised.extend(trace.exercised.iter().copied());
            }
            routed.push(Routed {
                id: parsed.id.to_string(),
                lines: parsed.lines.iter().map(|l| l.id.to_string()).collect(),
                decision,
            });
        }
        if routed.is_empty() {
            return Err(file.error(
                spanned.span(),
                format!(
                    "scenario \"{}\" routes no order: add an [[scenario.order]] table",
                    scenario.name.get_ref()
                ),
            ));
        }
        let mut mismatches = Vec::new();
        let mut explained: Vec<usize> = Vec::new();
        for expectation in &scenario.expect {
            let index = which_order(file, expectation, &routed)?;
            let check = Check {
                file,
                plan: self.plan,
                network: engine.network(),
                routed: &routed[index],
            };
            let found = check.expectation(expectation)?;
            if !found.is_empty() && !explained.contains(&index) {
                explained.push(index);
            }
            let id = &routed[index].id;
            mismatches.extend(found.into_iter().map(|m| format!("order \"{id}\": {m}")));
        }
        if mismatches.is_empty() {
            return Ok(Outcome::Passed);
        }
        let explanations = explained
            .iter()
            .map(|&i| explain(&routed[i].decision))
            .collect();
        Ok(Outcome::Failed {
            mismatches,
            explanations,
        })
    }

    /// The scenario's network: its own or the file's, with its changes applied.
    fn network(
        &mut self,
        file: &TestFile,
        spanned: &Spanned<Scenario>,
    ) -> Result<Network, TestFileError> {
        let scenario = spanned.get_ref();
        let Some(source) = scenario.network.as_ref().or(file.network.as_ref()) else {
            return Err(file.error(
                spanned.span(),
                "no network: write `network = \"network.json\"` at the top of the file or in the scenario",
            ));
        };
        let mut value = match source.get_ref() {
            NetworkSource::Inline(table) => table_to_json(table),
            NetworkSource::File(name) => {
                let path = file.dir().join(name);
                self.networks
                    .entry(path.clone())
                    .or_insert_with(|| read_network(&path))
                    .clone()
                    .map_err(|message| file.error(source.span(), message))?
            }
        };
        for patch in &scenario.node {
            patch_node(&mut value, patch.get_ref())
                .map_err(|message| file.error(patch.span(), message))?;
        }
        for patch in &scenario.stock {
            patch_stock(&mut value, patch.get_ref())
                .map_err(|message| file.error(patch.span(), message))?;
        }
        Network::from_value(&value, self.plan).map_err(|e| {
            let span = scenario
                .network
                .as_ref()
                .map_or(spanned.span(), |n| n.span());
            file.error(span, format!("the scenario's network: {e}"))
        })
    }
}

fn read_network(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the network {}: {e}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| format!("the network {} is not valid JSON: {e}", path.display()))
}

/// A string field of a change (`id`, `node`, `sku`).
fn key<'t>(patch: &'t toml::Table, field: &str, what: &str) -> Result<&'t str, String> {
    match patch.get(field) {
        Some(toml::Value::String(s)) => Ok(s),
        Some(_) => Err(format!("`{field}` must be a string")),
        None => Err(format!("{what} needs `{field}`")),
    }
}

/// Object fields replace the target's; nested tables (`attributes`) merge.
fn merge(target: &mut serde_json::Map<String, Value>, patch: &toml::Table) {
    for (field, value) in patch {
        match (target.get_mut(field), value) {
            (Some(Value::Object(inner)), toml::Value::Table(table)) => merge(inner, table),
            _ => {
                target.insert(field.clone(), crate::format::to_json(value));
            }
        }
    }
}

fn list<'v>(network: &'v mut Value, field: &str) -> Result<&'v mut Vec<Value>, String> {
    network
        .as_object_mut()
        .ok_or("the network is not a JSON object")?
        .entry(field)
        .or_insert_with(|| Value::Array(Vec::new()))
        .as_array_mut()
        .ok_or_else(|| format!("the network's `{field}` is not a list"))
}

fn patch_node(network: &mut Value, patch: &toml::Table) -> Result<(), String> {
    let id = key(patch, "id", "a node change")?;
    let nodes = list(network, "nodes")?;
    let ids: Vec<&str> = nodes
        .iter()
        .filter_map(|n| n.get("id").and_then(Value::as_str))
        .collect();
    let Some(index) = ids.iter().position(|n| *n == id) else {
        let hint = closest(id, ids.iter().copied())
            .map(|c| format!(": did you mean \"{c}\"?"))
            .unwrap_or_default();
        return Err(format!("no node \"{id}\" in the network{hint}"));
    };
    match &mut nodes[index] {
        Value::Object(node) => merge(node, patch),
        _ => return Err(format!("node \"{id}\" is not a JSON object")),
    }
    Ok(())
}

fn patch_stock(network: &mut Value, patch: &toml::Table) -> Result<(), String> {
    let node = key(patch, "node", "a stock change")?;
    let sku = key(patch, "sku", "a stock change")?;
    let inventory = list(network, "inventory")?;
    let found = inventory.iter_mut().find(|entry| {
        entry.get("node").and_then(Value::as_str) == Some(node)
            && entry.get("sku").and_then(Value::as_str) == Some(sku)
    });
    match found {
        Some(Value::Object(entry)) => merge(entry, patch),
        Some(_) => return Err(format!("inventory of {sku} at {node} is not a JSON object")),
        None => inventory.push(crate::format::table_to_json(patch)),
    }
    Ok(())
}

/// The order an expectation is about.
fn which_order(
    file: &TestFile,
    expectation: &Spanned<Expectation>,
    routed: &[Routed],
) -> Result<usize, TestFileError> {
    match &expectation.get_ref().order {
        Some(id) => routed
            .iter()
            .position(|r| r.id == *id.get_ref())
            .ok_or_else(|| {
                let hint = closest(id.get_ref(), routed.iter().map(|r| r.id.as_str()))
                    .map(|c| format!(": did you mean \"{c}\"?"))
                    .unwrap_or_default();
                file.error(
                    id.span(),
                    format!("no order \"{}\" in this scenario{hint}", id.get_ref()),
                )
            }),
        None if routed.len() == 1 => Ok(0),
        None => Err(file.error(
            expectation.span(),
            format!(
                "the scenario routes {} orders: say which with `order = \"…\"`",
                routed.len()
            ),
        )),
    }
}

/// Holding one expectation against one decision.
struct Check<'a> {
    file: &'a TestFile,
    plan: &'a Plan,
    network: &'a Network,
    routed: &'a Routed,
}

impl Check<'_> {
    fn error(&self, span: Range<usize>, message: impl Into<String>) -> TestFileError {
        self.file.error(span, message)
    }

    fn node(&self, span: Range<usize>, id: &str) -> Result<(), TestFileError> {
        if self.network.node_index.contains_key(id) {
            return Ok(());
        }
        let hint = closest(id, self.network.nodes.iter().map(|n| &*n.id))
            .map(|c| format!(": did you mean \"{c}\"?"))
            .unwrap_or_default();
        Err(self.error(
            span,
            format!("no node \"{id}\" in the scenario's network{hint}"),
        ))
    }

    fn line(&self, span: Range<usize>, id: &str) -> Result<(), TestFileError> {
        if self.routed.lines.iter().any(|l| l == id) {
            return Ok(());
        }
        Err(self.error(
            span,
            format!(
                "order \"{}\" has no line \"{id}\" (its lines: {})",
                self.routed.id,
                self.routed.lines.join(", ")
            ),
        ))
    }

    fn policy_name(
        &self,
        span: Range<usize>,
        name: &str,
        kind: Option<PolicyKind>,
    ) -> Result<(), TestFileError> {
        let names = self
            .plan
            .policies
            .iter()
            .filter(|p| kind.is_none_or(|k| p.kind == k))
            .map(|p| p.name.as_str());
        if names.clone().any(|n| n == name) {
            return Ok(());
        }
        let what = match kind {
            Some(PolicyKind::Policy) => "policy",
            Some(PolicyKind::Compliance) => "compliance profile",
            None => "policy or compliance profile",
        };
        let hint = closest(name, names)
            .map(|c| format!(": did you mean \"{c}\"?"))
            .unwrap_or_default();
        Err(self.error(span, format!("the ruleset has no {what} \"{name}\"{hint}")))
    }

    /// Every way the decision differs from the expectation.
    fn expectation(&self, spanned: &Spanned<Expectation>) -> Result<Vec<String>, TestFileError> {
        let expectation = spanned.get_ref();
        let decision = &self.routed.decision;
        let mut mismatches = Vec::new();
        let mut differ = |what: &str, expected: String, found: String| {
            if expected != found {
                mismatches.push(format!("{what}: expected {expected}, found {found}"));
            }
        };
        if let Some(status) = expectation.status {
            differ(
                "status",
                status.name().to_string(),
                decision.status.name().to_string(),
            );
        }
        if let Some(policy) = &expectation.policy {
            self.policy_name(policy.span(), policy.get_ref(), Some(PolicyKind::Policy))?;
            differ(
                "policy",
                format!("\"{}\"", policy.get_ref()),
                decision
                    .policy
                    .as_ref()
                    .map_or("none".into(), |p| format!("\"{p}\"")),
            );
        }
        if let Some(profiles) = &expectation.profiles {
            for name in profiles.get_ref() {
                self.policy_name(profiles.span(), name, Some(PolicyKind::Compliance))?;
            }
            let mut expected = profiles.get_ref().clone();
            expected.sort();
            let mut found = decision.profiles.clone().unwrap_or_default();
            found.sort();
            differ("profiles", listed(&expected), listed(&found));
        }
        if let Some(reason) = &expectation.reason {
            differ(
                "reason",
                format!("\"{reason}\""),
                decision
                    .reason
                    .as_ref()
                    .map_or("none".into(), |r| format!("\"{r}\"")),
            );
        }
        let shipments = decision.shipments.as_deref().unwrap_or_default();
        if let Some(expected) = expectation.shipments {
            // Parcels: digital deliveries do not count, as in `max shipments`.
            let parcels = shipments
                .iter()
                .filter(|s| {
                    self.network
                        .node_index
                        .get(&*s.node)
                        .is_none_or(|&n| !self.network.nodes[n as usize].is_digital())
                })
                .count();
            differ("shipments", expected.to_string(), parcels.to_string());
        }
        if let Some(nodes) = &expectation.nodes {
            for node in nodes.get_ref() {
                self.node(nodes.span(), node)?;
            }
            let expected: BTreeSet<&str> = nodes.get_ref().iter().map(String::as_str).collect();
            let found: BTreeSet<&str> = shipments.iter().map(|s| s.node.as_str()).collect();
            differ("nodes that ship", listed(&expected), listed(&found));
        }
        if let Some(cost) = expectation.cost {
            let found = decision.cost.unwrap_or(0.0);
            match cost {
                CostExpectation::Exactly(expected) => {
                    if (found - expected.value()).abs() >= 0.005 {
                        mismatches.push(format!(
                            "cost: expected {:.2}, found {found:.2}",
                            expected.value()
                        ));
                    }
                }
                CostExpectation::Between(bounds) => {
                    let low = bounds.at_least.map(|b| b.value());
                    let high = bounds.at_most.map(|b| b.value());
                    let expected = match (low, high) {
                        (Some(l), Some(h)) => format!("between {l:.2} and {h:.2}"),
                        (Some(l), None) => format!("at least {l:.2}"),
                        (None, Some(h)) => format!("at most {h:.2}"),
                        (None, None) => {
                            return Err(self.error(
                                spanned.span(),
                                "`cost` needs `at_least`, `at_most`, or both",
                            ));
                        }
                    };
                    if low.is_some_and(|l| found < l) || high.is_some_and(|h| found > h) {
                        mismatches.push(format!("cost: expected {expected}, found {found:.2}"));
                    }
                }
            }
        }
        for ship in &expectation.ship {
            let expected = ship.get_ref();
            self.node(ship.span(), &expected.node)?;
            if let Some(line) = &expected.line {
                self.line(ship.span(), line)?;
            }
            let at_node = shipments.iter().find(|s| s.node == expected.node);
            let units: i64 = at_node.map_or(0, |s| {
                s.lines
                    .iter()
                    .filter(|l| expected.line.as_ref().is_none_or(|e| *e == l.line))
                    .map(|l| l.qty)
                    .sum()
            });
            let holds = match expected.qty {
                Some(qty) => units == qty,
                None => units > 0,
            };
            if !holds {
                let what = match &expected.line {
                    Some(line) => format!("line {line}"),
                    None => "the order".to_string(),
                };
                let qty = expected.qty.map(|q| format!(" × {q}")).unwrap_or_default();
                mismatches.push(format!(
                    "expected {} to ship {what}{qty}; {}",
                    expected.node,
                    self.where_shipped(expected.line.as_deref())
                ));
            }
            let dates = [
                (
                    "ship by",
                    &expected.ship_by,
                    at_node.and_then(|s| s.ship_by.as_ref()),
                ),
                (
                    "deliver by",
                    &expected.deliver_by,
                    at_node.and_then(|s| s.deliver_by.as_ref()),
                ),
            ];
            for (what, expected_date, found) in dates {
                if let Some(date) = expected_date
                    && at_node.is_some()
                    && found != Some(date)
                {
                    let found = match found {
                        Some(found) => format!("its shipment says {found}"),
                        None => "its shipment has no such date (the order needs `placed_at`, and delivery dates a policy with `transit`)".into(),
                    };
                    mismatches.push(format!(
                        "expected {} to {what} {date}; {found}",
                        expected.node
                    ));
                }
            }
        }
        for unfilled in &expectation.unfilled {
            let expected = unfilled.get_ref();
            self.line(unfilled.span(), &expected.line)?;
            let found = decision
                .unfilled
                .iter()
                .flatten()
                .find(|u| u.line == expected.line);
            let holds = found.is_some_and(|u| {
                expected.qty.is_none_or(|q| q == u.qty)
                    && expected.action.is_none_or(|a| a == u.action)
            });
            if !holds {
                let qty = expected.qty.map(|q| format!(" × {q}")).unwrap_or_default();
                let action = expected
                    .action
                    .map(|a| format!(" ({})", a.name()))
                    .unwrap_or_default();
                let actual = match found {
                    Some(u) => format!("{} unit(s) are ({})", u.qty, u.action.name()),
                    None => "it is filled".to_string(),
                };
                mismatches.push(format!(
                    "expected line {}{qty} unfilled{action}; {actual}",
                    expected.line
                ));
            }
        }
        for exclusion in &expectation.excluded {
            if let Some(mismatch) = self.exclusion(exclusion)? {
                mismatches.push(mismatch);
            }
        }
        Ok(mismatches)
    }

    /// Where the units of a line (or of the order) went, for a mismatch message.
    fn where_shipped(&self, line: Option<&str>) -> String {
        let parts: Vec<String> = self
            .routed
            .decision
            .shipped()
            .filter(|(_, l)| line.is_none_or(|id| id == l.line))
            .map(|(node, l)| format!("{node} ships line {} × {}", l.line, l.qty))
            .collect();
        if parts.is_empty() {
            "nothing ships it".to_string()
        } else {
            parts.join(", ")
        }
    }

    fn exclusion(
        &self,
        spanned: &Spanned<ExclusionExpectation>,
    ) -> Result<Option<String>, TestFileError> {
        let expected = spanned.get_ref();
        let span = spanned.span();
        self.node(span.clone(), &expected.node)?;
        if let Some(line) = &expected.line {
            self.line(span.clone(), line)?;
        }
        let excludes = || {
            self.plan
                .policies
                .iter()
                .flat_map(|p| p.excludes.iter().map(move |r| (p, r)))
        };
        if let Some(because) = &expected.because
            && !excludes().any(|(_, r)| r.because.as_ref() == Some(because))
        {
            let hint = closest(
                because,
                excludes().filter_map(|(_, r)| r.because.as_deref()),
            )
            .map(|c| format!(": did you mean \"{c}\"?"))
            .unwrap_or_default();
            return Err(self.error(
                span,
                format!("no exclusion of the ruleset says because \"{because}\"{hint}"),
            ));
        }
        if let Some(rule) = &expected.rule {
            let Some((file, line)) = rule
                .rsplit_once(':')
                .and_then(|(f, l)| Some((f, l.parse::<u32>().ok()?)))
            else {
                return Err(self.error(
                    span,
                    format!("`rule = \"{rule}\"`: write where the rule is, as FILE:LINE"),
                ));
            };
            if !excludes().any(|(_, r)| self.written_at(r.origin, file, line)) {
                return Err(self.error(
                    span,
                    format!("no exclusion of the ruleset is written at {file}:{line}"),
                ));
            }
        }
        if let Some(by) = &expected.by {
            self.policy_name(span.clone(), by, None)?;
        }
        let trace = self.routed.decision.trace.as_ref();
        let lines: Vec<_> = trace
            .map(|t| t.lines.as_slice())
            .unwrap_or_default()
            .iter()
            .filter(|l| expected.line.as_ref().is_none_or(|id| *id == l.line))
            .collect();
        let mut seen = false;
        for line in lines {
            let Some(candidate) = line.candidates.iter().find(|c| c.node() == expected.node) else {
                continue;
            };
            seen = true;
            let found = match candidate {
                CandidateTrace::Excluded { excluded_by, .. } => {
                    let matches = expected
                        .because
                        .as_ref()
                        .is_none_or(|b| excluded_by.because.as_ref() == Some(b))
                        && expected
                            .by
                            .as_ref()
                            .is_none_or(|b| *b == excluded_by.policy)
                        && expected.rule.as_ref().is_none_or(|r| {
                            r.rsplit_once(':')
                                .is_some_and(|(file, l)| at_matches(&excluded_by.at, file, l))
                        });
                    if matches {
                        continue;
                    }
                    format!("it is excluded by {excluded_by}")
                }
                CandidateTrace::NotStaged { .. } => "it is in no stage of the policy".into(),
                CandidateTrace::NoStock { available, .. } => {
                    format!("it is not excluded: it has no stock to promise ({available})")
                }
                CandidateTrace::Candidate { available, .. } => {
                    format!("it is a candidate with {available} available")
                }
            };
            return Ok(Some(format!(
                "expected {} excluded for line {}{}; {found}",
                expected.node,
                line.line,
                describe_rule(expected)
            )));
        }
        if seen {
            return Ok(None);
        }
        if trace.is_none_or(|t| t.lines.is_empty()) {
            return Ok(Some(format!(
                "expected {} excluded{}; no line was routed: the order is {}",
                expected.node,
                describe_rule(expected),
                self.routed.decision.status.name()
            )));
        }
        let what = match &expected.line {
            Some(line) => format!("line {line}"),
            None => "any line".to_string(),
        };
        Ok(Some(format!(
            "expected {} excluded for {what}{}; it holds no stock of that SKU, so no rule was asked",
            expected.node,
            describe_rule(expected)
        )))
    }

    /// Whether a rule at `origin` is written in `file` (a path or its tail) at `line`.
    fn written_at(&self, origin: Origin, file: &str, line: u32) -> bool {
        origin.line == line
            && self
                .plan
                .files
                .get(origin.file as usize)
                .is_some_and(|path| Path::new(path).ends_with(file))
    }
}

/// Whether a trace's `FILE:LINE:COLUMN` is at `file` (a path or its tail) and `line`.
fn at_matches(at: &str, file: &str, line: &str) -> bool {
    let mut parts = at.rsplitn(3, ':');
    let (_column, at_line, at_file) = (parts.next(), parts.next(), parts.next());
    at_line == Some(line) && at_file.is_some_and(|f| Path::new(f).ends_with(file))
}

fn describe_rule(expected: &ExclusionExpectation) -> String {
    let mut parts = Vec::new();
    if let Some(by) = &expected.by {
        parts.push(format!(" by {by}"));
    }
    if let Some(rule) = &expected.rule {
        parts.push(format!(" by the rule at {rule}"));
    }
    if let Some(because) = &expected.because {
        parts.push(format!(" because \"{because}\""));
    }
    parts.concat()
}

/// `[a, b]`: names in a mismatch message.
fn listed<T: AsRef<str>>(names: impl IntoIterator<Item = T>) -> String {
    let names: Vec<String> = names.into_iter().map(|n| n.as_ref().to_string()).collect();
    format!("[{}]", names.join(", "))
}
