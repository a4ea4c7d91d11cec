//! What the fuzz targets share: inputs as text, and a ruleset checked and compiled.

use allot_diagnostics::Sources;

/// The input as source text: invalid UTF-8 is replaced, as an editor would show it.
pub fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// One file's sources.
pub fn sources(text: &str) -> Sources {
    let mut sources = Sources::new();
    sources.add("fuzz.allot", text);
    sources
}

/// The plan of a ruleset that checks without errors, with its model.
pub fn compiled(text: &str) -> Option<(allot_check::Analysis, allot_plan::Plan, Sources)> {
    let sources = sources(text);
    let analysis = allot_check::analyze(&sources);
    if analysis.diagnostics.iter().any(|d| d.is_error()) {
        return None;
    }
    let plan = allot_compile::compile(&analysis.model, &sources);
    plan.validate()
        .expect("a checked ruleset compiles to a well-formed plan");
    Some((analysis, plan, sources))
}

/// The example ruleset (`rulesets/example`), checked and compiled, with its network.
pub struct Example {
    pub analysis: allot_check::Analysis,
    pub sources: Sources,
    pub plan: allot_plan::Plan,
    pub network: allot_runtime::Network,
}

pub const EXAMPLE_NETWORK: &str = include_str!("../../rulesets/example/network.json");

const EXAMPLE_FILES: [(&str, &str); 4] = [
    (
        "schema.allot",
        include_str!("../../rulesets/example/schema.allot"),
    ),
    (
        "rates.allot",
        include_str!("../../rulesets/example/rates.allot"),
    ),
    (
        "policies.allot",
        include_str!("../../rulesets/example/policies.allot"),
    ),
    (
        "compliance.allot",
        include_str!("../../rulesets/example/compliance.allot"),
    ),
];

/// The example, built once per process.
pub fn example() -> &'static Example {
    static EXAMPLE: std::sync::OnceLock<Example> = std::sync::OnceLock::new();
    EXAMPLE.get_or_init(|| {
        let mut sources = Sources::new();
        for (name, text) in EXAMPLE_FILES {
            sources.add(name, text);
        }
        let analysis = allot_check::analyze(&sources);
        assert!(
            !analysis.diagnostics.iter().any(|d| d.is_error()),
            "the example checks"
        );
        let plan = allot_compile::compile(&analysis.model, &sources);
        let network = allot_runtime::Network::from_json(EXAMPLE_NETWORK, &plan)
            .expect("the example network loads");
        Example {
            analysis,
            sources,
            plan,
            network,
        }
    })
}

/// The example's orders that are JSON (one line of the file is not, on purpose).
pub fn example_orders() -> Vec<serde_json::Value> {
    (include_str!("../../rulesets/example/orders.jsonl").lines())
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}
