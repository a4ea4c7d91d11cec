//! The routing service's benchmark: `cargo run --release -p allot-bench --bin serve-bench`.
//! Starts the service in-process on loopback with SQLite (the 1,000-node workload and
//! the example ruleset), drives route+hold requests at it from 1, 8 and 32 concurrent
//! keep-alive clients, and prints orders/s and latency percentiles; then times a hot
//! swap of the example ruleset on the example network. A last run at 32 clients is a
//! flash sale: every order also takes one unit of `FLASH-1`, stocked at one DC only,
//! so that every hold updates the same stock row. ALLOT_BENCH_ORDERS sets orders per
//! run (default 6,000). With ALLOT_BENCH_POSTGRES=postgres://USER@HOST:PORT/DATABASE
//! the service runs on a new database of that server instead, and with
//! ALLOT_BENCH_INSTANCES=N as N instances on it, the clients spread over them.

use allot_serve::ruleset::RulesPath;
use allot_serve::{Config, http};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SKUS: usize = 50_000;
/// The flash sale's SKU and the one node that stocks it.
const FLASH_SKU: &str = "FLASH-1";
const FLASH_NODE: &str = "DC-0001";

/// The workload's network with the flash-sale SKU added, deep at one DC.
fn with_flash_sku(network: &str) -> String {
    let mut network: serde_json::Value = serde_json::from_str(network).expect("network JSON");
    let item = serde_json::json!({"sku": FLASH_SKU, "weight": 0.5, "attributes": {"category": "apparel", "oversized": false, "hazmat": false}});
    network["items"].as_array_mut().expect("items").push(item);
    let stock = serde_json::json!({"node": FLASH_NODE, "sku": FLASH_SKU, "on_hand": 1_000_000, "reserved": 0});
    network["inventory"]
        .as_array_mut()
        .expect("inventory")
        .push(stock);
    for node in network["nodes"].as_array_mut().expect("nodes") {
        if node["id"] == FLASH_NODE {
            node["enabled"] = true.into();
            node["capacity"] = 1_000_000.into();
        }
    }
    network.to_string()
}

/// The order with a line of the flash-sale SKU added first.
fn with_flash_line(order: &str) -> String {
    let line = format!(
        "\"lines\": [{{\"id\": \"F\", \"sku\": \"{FLASH_SKU}\", \"qty\": 1, \"price\": 20.0}}, "
    );
    order.replacen("\"lines\": [", &line, 1)
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rulesets/example")
}

/// A keep-alive HTTP/1.1 connection that sends one request at a time.
struct Client {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Client {
    async fn connect(address: SocketAddr) -> Client {
        let stream = TcpStream::connect(address)
            .await
            .expect("the service accepts");
        stream.set_nodelay(true).expect("nodelay");
        Client {
            stream,
            buffer: Vec::with_capacity(8192),
        }
    }

    /// Sends a request and returns the status and body of its answer.
    async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &str,
        body: &[u8],
    ) -> (u16, Vec<u8>) {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n{headers}Content-Length: {}\r\n\r\n",
            body.len()
        );
        self.stream
            .write_all(head.as_bytes())
            .await
            .expect("request written");
        self.stream.write_all(body).await.expect("body written");
        self.buffer.clear();
        let mut chunk = [0u8; 8192];
        loop {
            if let Some(end) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buffer[..end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                while self.buffer.len() < end + 4 + length {
                    let n = self.stream.read(&mut chunk).await.expect("answer read");
                    assert!(n > 0, "the service closed the connection");
                    self.buffer.extend_from_slice(&chunk[..n]);
                }
                let status = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
                return (status, self.buffer[end + 4..end + 4 + length].to_vec());
            }
            let n = self.stream.read(&mut chunk).await.expect("answer read");
            assert!(n > 0, "the service closed the connection");
            self.buffer.extend_from_slice(&chunk[..n]);
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1e3
}

async fn start(config: &Config) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let state = allot_serve::open(config).await.expect("the service opens");
    // The sweeper, the ruleset watcher and (on PostgreSQL) the change feed, as served.
    let background = allot_serve::spawn_background(state.service.clone(), config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        axum::serve(listener, http::router(state))
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
            .expect("the service runs");
        for task in background {
            task.abort();
        }
    });
    (address, stop)
}

async fn load(addresses: &[SocketAddr], orders: Vec<String>, clients: usize) {
    let count = orders.len();
    let queue = std::sync::Arc::new(std::sync::Mutex::new(orders.into_iter()));
    let start = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let queue = queue.clone();
            let address = addresses[c % addresses.len()];
            tokio::spawn(async move {
                let mut client = Client::connect(address).await;
                let mut times = Vec::new();
                let (mut held, mut contended) = (0usize, 0usize);
                loop {
                    let Some(order) = queue.lock().unwrap().next() else {
                        return (times, held, contended);
                    };
                    let sent = Instant::now();
                    let (status, body) =
                        client.send("POST", "/v1/route", "", order.as_bytes()).await;
                    times.push(sent.elapsed());
                    let text = || String::from_utf8_lossy(&body).into_owned();
                    match status {
                        200 => {
                            held += usize::from(body.windows(14).any(|w| w == b"\"reservation\":"))
                        }
                        // Stock that kept changing under an instance's view: nothing held.
                        503 if text().contains("\"contention\"") => contended += 1,
                        _ => panic!("{status}: {}", text()),
                    }
                }
            })
        })
        .collect();
    let mut times = Vec::with_capacity(count);
    let (mut held, mut contended) = (0, 0);
    for task in tasks {
        let (t, h, c) = task.await.unwrap();
        times.extend(t);
        held += h;
        contended += c;
    }
    let elapsed = start.elapsed();
    times.sort();
    println!(
        "| {clients:>2} | {count} | {held} | {contended} | {:.0} | {:.2} | {:.2} | {:.2} |",
        count as f64 / elapsed.as_secs_f64(),
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        percentile(&times, 1.0),
    );
}

fn main() {
    let orders_per_run: usize = std::env::var("ALLOT_BENCH_ORDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6_000);
    let dir = std::env::temp_dir().join(format!("allot-serve-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let network = dir.join("network.json");
    std::fs::write(
        &network,
        with_flash_sku(&allot_bench::network_json(SKUS, 7)),
    )
    .unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let postgres = std::env::var("ALLOT_BENCH_POSTGRES")
        .ok()
        .filter(|s| !s.is_empty());
    let instances: usize = std::env::var("ALLOT_BENCH_INSTANCES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    runtime.block_on(async {
        let mut config = Config::new(RulesPath::Ruleset(example()), network);
        config.db = match &postgres {
            Some(server) => {
                let name = format!("allot_bench_{}", std::process::id());
                (allot_serve::store::create_postgres_database(server, &name).await)
                    .unwrap_or_else(|e| panic!("ALLOT_BENCH_POSTGRES={server}: {e}"))
            }
            None => format!("sqlite://{}", dir.join("allot.db").display()),
        };
        let opened = Instant::now();
        let (first, stop) = start(&config).await;
        println!(
            "1,000-node workload, {}: first start (import of the stock) {:.2} s; {instances} instance(s)\n",
            if postgres.is_some() { "PostgreSQL" } else { "SQLite" },
            opened.elapsed().as_secs_f64()
        );
        let mut addresses = vec![first];
        let mut stops = vec![stop];
        for _ in 1..instances {
            let (address, stop) = start(&config).await;
            addresses.push(address);
            stops.push(stop);
        }
        println!("| clients | orders | held | contention | orders/s | p50 ms | p99 ms | max ms |");
        println!("|---|---|---|---|---|---|---|---|");
        let all = allot_bench::mixed_orders_json(orders_per_run * 4, SKUS, 42);
        let mut runs = all.chunks(orders_per_run);
        for clients in [1, 8, 32] {
            load(&addresses, runs.next().unwrap().to_vec(), clients).await;
        }
        println!("\nflash sale: every order also takes a unit of {FLASH_SKU}, stocked at {FLASH_NODE} alone\n");
        println!("| clients | orders | held | contention | orders/s | p50 ms | p99 ms | max ms |");
        println!("|---|---|---|---|---|---|---|---|");
        let flash = runs.next().unwrap().iter().map(|order| with_flash_line(order));
        load(&addresses, flash.collect(), 32).await;
        let store = allot_serve::store::Store::open(&config.db).await.expect("the store opens");
        let flash_stock = store.stock_of(&[FLASH_SKU]).await.expect("stock read");
        println!(
            "\n{FLASH_SKU} at {FLASH_NODE} afterwards: reserved {} of {}",
            flash_stock[0].reserved, flash_stock[0].on_hand
        );
        for stop in stops {
            let _ = stop.send(());
        }

        // Idle-to-swap: a new ruleset uploaded, compiled, verified and swapped in.
        let token = dir.join("token");
        std::fs::write(&token, "bench-admin-token-0123456789").unwrap();
        let mut config = Config::new(RulesPath::Ruleset(example()), example().join("network.json"));
        config.db = format!("sqlite://{}", dir.join("example.db").display());
        config.admin_token_file = Some(token);
        config.golden = Some(example().join("example.test.toml"));
        let (address, stop) = start(&config).await;
        let mut files = serde_json::Map::new();
        for entry in std::fs::read_dir(example()).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "allot") {
                let text = std::fs::read_to_string(&path).unwrap();
                files.insert(path.file_name().unwrap().to_string_lossy().into(), text.into());
            }
        }
        let mut client = Client::connect(address).await;
        let mut swaps = Vec::new();
        for n in 0..20 {
            let policies = files["policies.allot"].as_str().unwrap().replace("priority 10", &format!("priority {}", 10 + n % 2 + 1));
            let mut upload = files.clone();
            upload.insert("policies.allot".into(), policies.into());
            let body = serde_json::Value::Object(upload).to_string();
            let sent = Instant::now();
            let (status, answer) = client
                .send("PUT", "/v1/ruleset", "Authorization: Bearer bench-admin-token-0123456789\r\n", body.as_bytes())
                .await;
            swaps.push(sent.elapsed());
            assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
        }
        swaps.sort();
        println!(
            "\nhot swap of the example ruleset (upload, compile, network, golden tests, swap): p50 {:.1} ms, max {:.1} ms",
            percentile(&swaps, 0.5),
            percentile(&swaps, 1.0)
        );
        let _ = stop.send(());
    });
    let _ = std::fs::remove_dir_all(&dir);
}
