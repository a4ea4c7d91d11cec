//! A client for the server's tests, speaking to it over in-memory pipes. Each test
//! binary uses part of it.
#![allow(dead_code)]

use allot_lsp::Backend;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, DuplexStream};
use tower_lsp_server::{LspService, Server};

/// A client speaking to the server over in-memory pipes.
pub struct Client {
    to_server: DuplexStream,
    from_server: BufReader<DuplexStream>,
    next_id: i64,
}

impl Client {
    pub fn start() -> Client {
        let (client_write, server_read) = tokio::io::duplex(1 << 20);
        let (server_write, client_read) = tokio::io::duplex(1 << 20);
        let (service, socket) = LspService::new(Backend::new);
        tokio::spawn(Server::new(server_read, server_write, socket).serve(service));
        Client {
            to_server: client_write,
            from_server: BufReader::new(client_read),
            next_id: 1,
        }
    }

    pub async fn send(&mut self, message: Value) {
        let body = message.to_string();
        let frame = format!("Content-Length: {}\r\n\r\n{body}", body.len());
        self.to_server.write_all(frame.as_bytes()).await.unwrap();
    }

    pub async fn receive(&mut self) -> Value {
        let mut length = 0;
        loop {
            let mut line = String::new();
            self.from_server.read_line(&mut line).await.unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(n) = line.strip_prefix("Content-Length: ") {
                length = n.parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        self.from_server.read_exact(&mut body).await.unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    pub async fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}))
            .await;
    }

    /// Sends a request and waits for its answer (skipping notifications).
    pub async fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        let answer = tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                let message = self.receive().await;
                if message.get("id") == Some(&json!(id)) {
                    return message;
                }
            }
        })
        .await;
        answer.unwrap_or_else(|_| panic!("no answer to {method} within 20 s"))
    }

    /// Waits for the next diagnostics published for `uri` (skipping other messages).
    pub async fn diagnostics_for(&mut self, uri: &str) -> Vec<Value> {
        let wait = async {
            loop {
                let message = self.receive().await;
                if message["method"] == "textDocument/publishDiagnostics"
                    && message["params"]["uri"] == uri
                {
                    return message["params"]["diagnostics"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(60), wait)
            .await
            .expect("diagnostics within 60 s")
    }
}
