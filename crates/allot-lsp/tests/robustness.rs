//! Any sequence of edits and requests — half-typed declarations, unbalanced braces,
//! positions past the end of a line, non-ASCII text — gets an answer to every request,
//! and the server never stops serving.

mod support;

use proptest::prelude::*;
use serde_json::{Value, json};
use support::Client;

const URI: &str = "file:///nowhere/fuzz/policy.allot";

const SEED: &str = "/// Docs.\nschema {\n  item.oversized: bool = false\n}\nconst r = 300 km\ntable rate(d: distance) -> money {\n  d < 150 km => 6.50 USD\n  _ => 9 USD\n}\npolicy \"é p\" {\n  let d = distance(node, order.ship_to)\n  exclude when node.kind == store and d > r because \"far — 遠い\"\n  cost s per shipment = rate(d) + 0.35 USD/kg * shipment.weight\n  objective {\n    minimize shipments\n  }\n}\n";

#[derive(Clone, Debug)]
enum Edit {
    Delete(usize),
    Duplicate(usize),
    Insert(usize, &'static str),
}

const INSERTS: &[&str] = &[
    "{", "}", "(", "\"", "policy", "😀", "é", "\n", "order.", " == ", "50",
];

fn apply(text: &str, edit: &Edit) -> String {
    let pieces: Vec<&str> = allot_syntax::lexer::lex(text)
        .iter()
        .map(|t| t.text(text))
        .collect();
    if pieces.is_empty() {
        return "policy".into();
    }
    let mut pieces: Vec<String> = pieces.into_iter().map(str::to_string).collect();
    let n = pieces.len();
    match edit {
        Edit::Delete(i) => {
            pieces.remove(i % n);
        }
        Edit::Duplicate(i) => {
            let p = pieces[i % n].clone();
            pieces.insert(i % n, p);
        }
        Edit::Insert(i, s) => pieces.insert(i % n, s.to_string()),
    }
    pieces.concat()
}

fn requests(line: u32, character: u32) -> Vec<(&'static str, Value)> {
    let doc = json!({"uri": URI});
    let at = json!({"line": line, "character": character});
    let range = json!({"start": {"line": 0, "character": 0}, "end": at});
    vec![
        (
            "textDocument/hover",
            json!({"textDocument": doc, "position": at}),
        ),
        (
            "textDocument/completion",
            json!({"textDocument": doc, "position": at}),
        ),
        (
            "textDocument/definition",
            json!({"textDocument": doc, "position": at}),
        ),
        (
            "textDocument/references",
            json!({"textDocument": doc, "position": at, "context": {"includeDeclaration": true}}),
        ),
        (
            "textDocument/rename",
            json!({"textDocument": doc, "position": at, "newName": "x2"}),
        ),
        (
            "textDocument/semanticTokens/full",
            json!({"textDocument": doc}),
        ),
        ("textDocument/documentSymbol", json!({"textDocument": doc})),
        (
            "textDocument/inlayHint",
            json!({"textDocument": doc, "range": range}),
        ),
        (
            "textDocument/codeAction",
            json!({"textDocument": doc, "range": range, "context": {"diagnostics": []}}),
        ),
        (
            "textDocument/formatting",
            json!({"textDocument": doc, "options": {"tabSize": 2, "insertSpaces": true}}),
        ),
        ("workspace/symbol", json!({"query": "r"})),
    ]
}

async fn session(edits: Vec<Edit>, positions: Vec<(u32, u32)>) {
    let mut client = Client::start();
    let init = client
        .request("initialize", json!({"capabilities": {}, "processId": null}))
        .await;
    assert!(init.get("result").is_some(), "{init}");
    client.notify("initialized", json!({})).await;
    let mut text = SEED.to_string();
    client
        .notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": URI, "languageId": "allot", "version": 1, "text": text}}),
        )
        .await;
    for (step, edit) in edits.iter().enumerate() {
        text = apply(&text, edit);
        client
            .notify(
                "textDocument/didChange",
                json!({"textDocument": {"uri": URI, "version": step + 2}, "contentChanges": [{"text": text}]}),
            )
            .await;
        let (line, character) = positions[step % positions.len()];
        for (method, params) in requests(line, character) {
            let answer = client.request(method, params).await;
            let error = answer.get("error");
            // Errors are allowed only as answers the protocol names: a rename that
            // cannot be made, or a request overtaken by an edit.
            if let Some(error) = error {
                let code = error["code"].as_i64().unwrap_or(0);
                assert!(
                    code == -32602 || code == -32801,
                    "{method} failed on {text:?}: {answer}"
                );
            }
        }
    }
    let answer = client.request("shutdown", Value::Null).await;
    assert!(answer.get("error").is_none(), "{answer}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn every_request_is_answered_whatever_the_edits(
        edits in proptest::collection::vec(
            prop_oneof![
                any::<usize>().prop_map(Edit::Delete),
                any::<usize>().prop_map(Edit::Duplicate),
                (any::<usize>(), proptest::sample::select(INSERTS)).prop_map(|(i, s)| Edit::Insert(i, s)),
            ],
            1..6,
        ),
        positions in proptest::collection::vec((0u32..30, 0u32..120), 1..4),
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(session(edits, positions));
    }
}
