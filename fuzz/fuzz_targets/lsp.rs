//! The language server, in process: a document opened and edited at random (whole
//! texts, as the server syncs), with hover, completion, definition, references, rename,
//! symbols, semantic tokens, code actions, inlay hints and formatting asked at random
//! positions, including past the end of a line or the file and inside multi-byte
//! characters. Every request is answered within 10 s, and the server never stops.
#![no_main]

use allot_lsp::Backend;
use arbitrary::Arbitrary;
use futures::StreamExt;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use std::time::Duration;
use tower::{Service, ServiceExt};
use tower_lsp_server::LspService;
use tower_lsp_server::jsonrpc::Request;

const URI: &str = "file:///fuzz/rules/policy.allot";

#[derive(Arbitrary, Debug)]
enum Op {
    /// Replaces `delete` characters at character `at` with `insert`.
    Edit {
        at: u16,
        delete: u8,
        insert: String,
    },
    Ask {
        what: u8,
        line: u8,
        character: u8,
        name: String,
    },
    Close,
}

#[derive(Arbitrary, Debug)]
struct Session {
    text: String,
    ops: Vec<Op>,
}

fn edit(text: &str, at: u16, delete: u8, insert: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let at = (at as usize).min(chars.len());
    let end = (at + delete as usize).min(chars.len());
    chars[..at]
        .iter()
        .chain(insert.chars().collect::<Vec<_>>().iter())
        .chain(chars[end..].iter())
        .collect()
}

fn request(what: u8, line: u8, character: u8, name: &str) -> (&'static str, Value) {
    let document = json!({ "uri": URI });
    let position = json!({ "line": line, "character": character });
    let at = json!({ "textDocument": document, "position": position });
    let range = json!({ "start": { "line": 0, "character": 0 }, "end": position });
    match what % 11 {
        0 => ("textDocument/hover", at),
        1 => ("textDocument/completion", at),
        2 => ("textDocument/definition", at),
        3 => (
            "textDocument/references",
            json!({ "textDocument": document, "position": position, "context": { "includeDeclaration": true } }),
        ),
        4 => (
            "textDocument/rename",
            json!({ "textDocument": document, "position": position, "newName": name }),
        ),
        5 => (
            "textDocument/documentSymbol",
            json!({ "textDocument": document }),
        ),
        6 => ("workspace/symbol", json!({ "query": name })),
        7 => (
            "textDocument/semanticTokens/full",
            json!({ "textDocument": document }),
        ),
        8 => (
            "textDocument/codeAction",
            json!({ "textDocument": document, "range": range, "context": { "diagnostics": [] } }),
        ),
        9 => (
            "textDocument/inlayHint",
            json!({ "textDocument": document, "range": range }),
        ),
        _ => (
            "textDocument/formatting",
            json!({ "textDocument": document, "options": { "tabSize": 2, "insertSpaces": true } }),
        ),
    }
}

async fn send(service: &mut LspService<Backend>, message: Request) {
    let expects_answer = message.id().is_some();
    let method = message.method().to_string();
    let call = async {
        service
            .ready()
            .await
            .expect("the server is up")
            .call(message)
            .await
    };
    let answer = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .unwrap_or_else(|_| panic!("{method}: no answer within 10 s"))
        .unwrap_or_else(|e| panic!("{method}: the server stopped: {e}"));
    assert_eq!(
        answer.is_some(),
        expects_answer,
        "{method}: an answer exactly to each request"
    );
}

fn notification(method: &'static str, params: Value) -> Request {
    Request::build(method).params(params).finish()
}

fuzz_target!(|session: Session| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let (mut service, socket) = LspService::new(Backend::new);
        // What the server sends the client is read and dropped.
        let drain = tokio::spawn(socket.for_each(|_| async {}));
        let mut id = 0i64;
        let mut next_id = || {
            id += 1;
            id
        };
        let initialize = Request::build("initialize").params(json!({ "capabilities": {} })).id(next_id()).finish();
        send(&mut service, initialize).await;
        send(&mut service, notification("initialized", json!({}))).await;
        let open = |text: &str, version: i64| {
            notification("textDocument/didOpen", json!({ "textDocument": { "uri": URI, "languageId": "allot", "version": version, "text": text } }))
        };
        let mut text = session.text.clone();
        let mut version = 1;
        let mut is_open = true;
        send(&mut service, open(&text, version)).await;
        for op in session.ops.iter().take(32) {
            match op {
                Op::Edit { at, delete, insert } => {
                    text = edit(&text, *at, *delete, insert);
                    version += 1;
                    let message = if is_open {
                        notification("textDocument/didChange", json!({ "textDocument": { "uri": URI, "version": version }, "contentChanges": [{ "text": text }] }))
                    } else {
                        is_open = true;
                        open(&text, version)
                    };
                    send(&mut service, message).await;
                }
                Op::Ask { what, line, character, name } => {
                    let (method, params) = request(*what, *line, *character, name);
                    send(&mut service, Request::build(method).params(params).id(next_id()).finish()).await;
                }
                Op::Close => {
                    is_open = false;
                    send(&mut service, notification("textDocument/didClose", json!({ "textDocument": { "uri": URI } }))).await;
                }
            }
        }
        send(&mut service, Request::build("shutdown").id(next_id()).finish()).await;
        drain.abort();
    });
});
