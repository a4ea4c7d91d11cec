//! Limits of the language server: a document over the size limit gets one diagnostic
//! and every request still answers; a flood of edits does not make it grow.

mod support;

use serde_json::{Value, json};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicIsize, Ordering};
use support::Client;

/// Counts the bytes allocated and not yet freed, process-wide.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The tests of this file one at a time, so that each counts only its own bytes.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const URI: &str = "file:///nowhere/limits/policy.allot";

fn run(test: impl std::future::Future<Output = ()>) {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(test);
}

async fn started() -> Client {
    let mut client = Client::start();
    client
        .request("initialize", json!({"capabilities": {}, "processId": null}))
        .await;
    client.notify("initialized", json!({})).await;
    client
}

async fn open(client: &mut Client, text: &str) {
    client
        .notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": URI, "languageId": "allot", "version": 1, "text": text}}),
        )
        .await;
}

async fn change(client: &mut Client, version: usize, text: &str) {
    client
        .notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": URI, "version": version}, "contentChanges": [{"text": text}]}),
        )
        .await;
}

fn codes(diagnostics: &[Value]) -> Vec<&str> {
    diagnostics
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect()
}

#[test]
fn a_ten_megabyte_document_gets_one_diagnostic_and_every_answer() {
    run(async {
        let mut client = started().await;
        let line = "policy \"p\" { exclude when node.kind == store }  // é 😀\n";
        let big = line.repeat((10 << 20) / line.len());
        open(&mut client, &big).await;
        let diagnostics = client.diagnostics_for(URI).await;
        assert_eq!(codes(&diagnostics), ["E0007"]);
        let message = diagnostics[0]["message"].as_str().unwrap();
        assert!(message.contains("at most 8 MiB"), "{message}");
        let doc = json!({"uri": URI});
        let at = json!({"line": 1000, "character": 60});
        for (method, params) in [
            (
                "textDocument/hover",
                json!({"textDocument": doc, "position": at}),
            ),
            (
                "textDocument/completion",
                json!({"textDocument": doc, "position": at}),
            ),
            (
                "textDocument/semanticTokens/full",
                json!({"textDocument": doc}),
            ),
            ("textDocument/documentSymbol", json!({"textDocument": doc})),
            (
                "textDocument/formatting",
                json!({"textDocument": doc, "options": {"tabSize": 2, "insertSpaces": true}}),
            ),
        ] {
            let answer = client.request(method, params).await;
            assert!(answer.get("error").is_none(), "{method}: {answer}");
        }
        // Cut back under the limit, the document is read as usual.
        change(&mut client, 2, line).await;
        assert_eq!(
            codes(&client.diagnostics_for(URI).await),
            Vec::<&str>::new()
        );
    });
}

/// A ruleset of `policies` policies, the k-th costing `costs[k]` USD per shipment.
fn ruleset(costs: &[usize]) -> String {
    let mut text = String::from("schema {\n  item.oversized: bool = false\n}\n");
    for (k, cost) in costs.iter().enumerate() {
        text += &format!(
            "policy \"p{k}\" {{\n  applies when order.channel == \"c{k}\"\n  exclude when node.kind == store and line.item.oversized because \"too big\"\n  cost s per shipment = {cost} USD\n}}\n"
        );
    }
    text
}

#[test]
fn a_flood_of_edits_does_not_grow_the_server() {
    run(async {
        let mut client = started().await;
        let mut costs = vec![1; 20];
        open(&mut client, &ruleset(&costs)).await;
        let mut version = 1;
        let mut flood = async |client: &mut Client, edits: usize| {
            for _ in 0..edits {
                version += 1;
                // Each edit makes a text never seen before.
                costs[version % 20] = version;
                change(client, version, &ruleset(&costs)).await;
            }
            // Answered after every edit before it.
            let answer = client
                .request(
                    "textDocument/documentSymbol",
                    json!({"textDocument": {"uri": URI}}),
                )
                .await;
            assert_eq!(answer["result"].as_array().unwrap().len(), 21);
        };
        flood(&mut client, 9_000).await;
        let warm = LIVE.load(Ordering::Relaxed);
        flood(&mut client, 6_000).await;
        let after = LIVE.load(Ordering::Relaxed);
        // Past the parse cache's 8,192 pieces, memory stays where it is.
        assert!(
            after - warm < 512 << 10,
            "6,000 more edits kept {} KiB more (from {} KiB)",
            (after - warm) >> 10,
            warm >> 10
        );
    });
}
