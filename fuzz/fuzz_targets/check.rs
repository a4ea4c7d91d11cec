//! Parse and check: any text gets diagnostics that render, never a panic; a ruleset
//! that checks compiles to a well-formed plan that survives its artifact.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = allot_fuzz::text(data);
    let sources = allot_fuzz::sources(&text);
    let analysis = allot_check::analyze(&sources);
    allot_diagnostics::render_human(&analysis.diagnostics, &sources, false);
    allot_diagnostics::render_json(&analysis.diagnostics, &sources);
    if let Some((_, plan, _)) = allot_fuzz::compiled(&text) {
        let ruleset_hash = allot_plan::ruleset_hash([("fuzz.allot", text.as_str())]);
        let artifact = allot_plan::Artifact { ruleset_hash, plan };
        let encoded = artifact.encode();
        let decoded = allot_plan::Artifact::decode(&encoded).expect("its own artifact decodes");
        assert_eq!(decoded.encode(), encoded, "the plan survives its artifact");
    }
});
