//! Rulesets the service can run: read from a compiled plan or from sources, verified
//! against the network and the golden tests before they may go live.

use allot_diagnostics::{JsonDiagnostic, Sources, render_json};
use allot_plan::{Artifact, MAGIC, Plan, ruleset_hash};
use allot_runtime::Network;
use allot_test::{Outcome, Runner, TestFile};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Where the service's ruleset comes from at start, and what it watches.
#[derive(Clone, Debug)]
pub enum RulesPath {
    /// A plan compiled with `allot compile`.
    Plan(PathBuf),
    /// A directory whose `.allot` files form one ruleset, or one file.
    Ruleset(PathBuf),
}

/// Why a ruleset may not go live.
#[derive(Clone, Debug)]
pub struct Refusal {
    pub message: String,
    /// The checker's diagnostics, when the sources do not compile.
    pub diagnostics: Vec<JsonDiagnostic>,
    /// Golden scenarios that failed, each with what did not hold.
    pub failures: Vec<String>,
}

impl Refusal {
    fn new(message: impl Into<String>) -> Refusal {
        Refusal {
            message: message.into(),
            diagnostics: Vec::new(),
            failures: Vec::new(),
        }
    }
}

/// A compiled ruleset not yet verified against the network and golden tests.
pub struct Compiled {
    pub plan: Plan,
    pub hash: u64,
    /// Where it came from, for people: a path, or "upload".
    pub source: String,
}

/// A ruleset ready to route: its plan, and the network's master data read for it.
pub struct Revision {
    /// The ruleset's hash, 16 hex digits.
    pub id: String,
    pub plan: Plan,
    /// The network file read with this plan's schema, stock as the file gives it.
    pub network: Network,
    pub source: String,
    pub activated_at: SystemTime,
}

/// A compiled plan's bytes.
pub fn from_artifact(bytes: &[u8], source: &str) -> Result<Compiled, Refusal> {
    let artifact = Artifact::decode(bytes).map_err(|e| Refusal::new(format!("{source}: {e}")))?;
    Ok(Compiled {
        plan: artifact.plan,
        hash: artifact.ruleset_hash,
        source: source.to_string(),
    })
}

/// A ruleset's sources, by file name, checked and compiled.
pub fn from_sources(files: &BTreeMap<String, String>, source: &str) -> Result<Compiled, Refusal> {
    if files.is_empty() {
        return Err(Refusal::new(format!("{source}: no .allot files")));
    }
    let mut sources = Sources::new();
    for (name, text) in files {
        sources.add(name.clone(), text.clone());
    }
    let plan = allot_compile::compile_sources(&sources).map_err(|diagnostics| {
        let errors = diagnostics.iter().filter(|d| d.is_error()).count();
        Refusal {
            message: format!(
                "{source}: the ruleset has {errors} error{}; nothing was compiled",
                if errors == 1 { "" } else { "s" }
            ),
            diagnostics: render_json(&diagnostics, &sources),
            failures: Vec::new(),
        }
    })?;
    let hash = ruleset_hash(
        files
            .iter()
            .map(|(name, text)| (name.as_str(), text.as_str())),
    );
    Ok(Compiled {
        plan,
        hash,
        source: source.to_string(),
    })
}

/// The files of a ruleset on disk: a directory's `.allot` files (directly inside it),
/// or one file.
pub fn read_ruleset(path: &Path) -> Result<BTreeMap<String, String>, Refusal> {
    let unreadable =
        |e: std::io::Error| Refusal::new(format!("{}: cannot read: {e}", path.display()));
    let files: Vec<PathBuf> = if path.is_dir() {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(path).map_err(unreadable)? {
            let file = entry.map_err(unreadable)?.path();
            if file.extension().is_some_and(|e| e == "allot") && file.is_file() {
                files.push(file);
            }
        }
        files
    } else {
        vec![path.to_path_buf()]
    };
    let mut out = BTreeMap::new();
    for file in files {
        let bytes = std::fs::read(&file)
            .map_err(|e| Refusal::new(format!("{}: cannot read: {e}", file.display())))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| Refusal::new(format!("{}: not UTF-8 text", file.display())))?;
        out.insert(file.display().to_string(), text);
    }
    Ok(out)
}

/// Reads the ruleset at `path` as the service was told to find it.
pub fn read(path: &RulesPath) -> Result<Compiled, Refusal> {
    match path {
        RulesPath::Plan(file) => {
            let bytes = std::fs::read(file)
                .map_err(|e| Refusal::new(format!("{}: cannot read: {e}", file.display())))?;
            from_artifact(&bytes, &file.display().to_string())
        }
        RulesPath::Ruleset(dir) => from_sources(&read_ruleset(dir)?, &dir.display().to_string()),
    }
}

/// An uploaded ruleset: a compiled plan (known by its magic bytes) or a JSON object of
/// file name → source text.
pub fn from_upload(body: &[u8]) -> Result<Compiled, Refusal> {
    if body.starts_with(MAGIC) {
        return from_artifact(body, "upload");
    }
    let files: BTreeMap<String, String> = serde_json::from_slice(body).map_err(|e| {
        Refusal::new(format!(
            "upload: expected a compiled plan or a JSON object of file name to source text: {e}"
        ))
    })?;
    from_sources(&files, "upload")
}

/// What changes when the rules on disk change: file sizes and modification times.
pub fn fingerprint(path: &RulesPath) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    let mut files = match path {
        RulesPath::Plan(file) => vec![file.clone()],
        RulesPath::Ruleset(dir) if dir.is_dir() => std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|e| e == "allot"))
                    .collect()
            })
            .unwrap_or_default(),
        RulesPath::Ruleset(file) => vec![file.clone()],
    };
    files.sort();
    files
        .into_iter()
        .map(|file| {
            let metadata = std::fs::metadata(&file).ok();
            let len = metadata.as_ref().map_or(0, |m| m.len());
            let modified = metadata.and_then(|m| m.modified().ok());
            (file, len, modified)
        })
        .collect()
}

/// The golden tests a ruleset must pass before it goes live.
pub struct Golden {
    file: TestFile,
}

impl Golden {
    /// Reads a policy test file (`*.test.toml`).
    pub fn read(path: &Path) -> Result<Golden, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let file = TestFile::parse(path, text).map_err(|e| e.to_string())?;
        Ok(Golden { file })
    }

    /// Every scenario that fails with `plan`, with what did not hold.
    fn failures(&self, plan: &Plan) -> Vec<String> {
        let mut runner = Runner::new(plan);
        runner
            .run_file(&self.file)
            .into_iter()
            .filter_map(|report| match report.outcome {
                Outcome::Passed => None,
                Outcome::Failed { mismatches, .. } => {
                    Some(format!("{}: {}", report.name, mismatches.join("; ")))
                }
                Outcome::Invalid(error) => Some(format!("{}: {error}", report.name)),
            })
            .collect()
    }
}

/// Verifies a compiled ruleset: the network's master data must read with its schema,
/// and every golden scenario must pass.
pub fn verify(
    compiled: Compiled,
    network_text: &str,
    golden: Option<&Golden>,
) -> Result<Revision, Refusal> {
    let network = Network::from_json(network_text, &compiled.plan)
        .map_err(|e| Refusal::new(format!("the network does not fit this ruleset: {e}")))?;
    if let Some(golden) = golden {
        let failures = golden.failures(&compiled.plan);
        if !failures.is_empty() {
            return Err(Refusal {
                message: format!(
                    "{} golden scenario{} failed",
                    failures.len(),
                    if failures.len() == 1 { "" } else { "s" }
                ),
                diagnostics: Vec::new(),
                failures,
            });
        }
    }
    Ok(Revision {
        id: format!("{:016x}", compiled.hash),
        plan: compiled.plan,
        network,
        source: compiled.source,
        activated_at: SystemTime::now(),
    })
}
