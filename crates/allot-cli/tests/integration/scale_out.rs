//! Three `allot serve` processes on one PostgreSQL database, loaded by many concurrent
//! clients on loopback while one process is killed with SIGKILL and restarted and the
//! database server itself is restarted. Afterwards nothing is oversold, every
//! acknowledged hold is there, every refusal has a reason and reconciliation finds no
//! difference.
//!
//! It runs where `ALLOT_TEST_POSTGRES` names a server (`.ci/postgres start` prints it)
//! and is skipped elsewhere.

use crate::repo_root;
use crate::serve::{Server, reconcile_db, request, serve};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

const INSTANCES: usize = 3;
const CLIENTS: usize = 12;
const ORDERS_PER_CLIENT: usize = 250;
/// Tries of one order before the client gives up on it (a refusal or no answer each).
const TRIES: usize = 200;
/// The whole load stops by then, whatever happens.
const DEADLINE: Duration = Duration::from_secs(240);
const SKUS: [&str; 2] = ["TEE-BLK", "SHOE-RUN"];

/// What the clients saw.
#[derive(Default)]
struct Seen {
    /// Order id → the first answer acknowledged for it.
    acknowledged: HashMap<String, Value>,
    /// Refusals: (status, code, message).
    refusals: Vec<(u16, String, String)>,
    /// Requests that got no answer (the instance was gone or the answer cut off).
    unanswered: usize,
}

/// The example network with the load's SKUs stocked at the three DCs.
fn network(dir: &Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(repo_root().join("rulesets/example/network.json")).unwrap();
    let mut network: Value = serde_json::from_str(&text).unwrap();
    for entry in network["inventory"].as_array_mut().unwrap() {
        if entry["sku"] == "TEE-BLK" && entry["node"].as_str().unwrap().starts_with("DC-") {
            entry["on_hand"] = json!(3000);
        }
    }
    let file = dir.join("network.json");
    std::fs::write(&file, network.to_string()).unwrap();
    file
}

/// Ship-to points on both coasts and in between, so that orders spread over the DCs.
const SHIP_TO: [(f64, f64); 4] = [
    (40.71, -74.0),
    (32.78, -96.8),
    (34.05, -118.24),
    (41.88, -87.63),
];

fn order(client: usize, n: usize) -> String {
    let (lat, lon) = SHIP_TO[(client + n) % SHIP_TO.len()];
    let mut lines = vec![json!({ "id": "1", "sku": "TEE-BLK", "qty": 1 + n % 2, "price": 20.0 })];
    if n.is_multiple_of(5) {
        lines.push(json!({ "id": "2", "sku": "SHOE-RUN", "qty": 1, "price": 90.0 }));
    }
    json!({
        "id": format!("S-{client}-{n}"), "channel": "web",
        "ship_to": { "lat": lat, "lon": lon, "country": "US" },
        "lines": lines,
    })
    .to_string()
}

/// The PostgreSQL server at `url`, restarted with the options it runs with.
fn restart_postgres(url: &str) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (data, bin): (String, String) = runtime.block_on(async {
        sqlx::any::install_default_drivers();
        let mut connection = <sqlx::AnyConnection as sqlx::Connection>::connect(url)
            .await
            .unwrap();
        let data =
            sqlx::query_scalar("SELECT setting FROM pg_settings WHERE name = 'data_directory'")
                .fetch_one(&mut connection)
                .await
                .unwrap();
        let bin = sqlx::query_scalar("SELECT setting FROM pg_config WHERE name = 'BINDIR'")
            .fetch_one(&mut connection)
            .await
            .unwrap();
        (data, bin)
    });
    let pg_ctl = format!("{bin}/pg_ctl");
    let args = ["-D", data.as_str(), "-m", "fast", "-w", "restart"];
    // pg_ctl refuses to run as root; the cluster belongs to `postgres` then. The
    // server it starts keeps whatever output it is given: none, so that nothing waits
    // for that output to end.
    let mut pg_ctl = if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--", &pg_ctl]);
        command
    } else {
        Command::new(&pg_ctl)
    };
    let status = (pg_ctl.args(args))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("pg_ctl runs");
    assert!(status.success(), "pg_ctl restart: {status}");
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}

/// Reserved and on hand per (sku, node), as the service reports them.
fn stock(address: SocketAddr) -> BTreeMap<(String, String), (i64, i64)> {
    let mut rows = BTreeMap::new();
    for sku in SKUS {
        let (status, body) = request(address, "GET", &format!("/v1/stock/{sku}"), "").unwrap();
        assert_eq!(status, 200, "{body}");
        for node in body["nodes"].as_array().unwrap() {
            let key = (sku.to_string(), node["node"].as_str().unwrap().to_string());
            let value = (
                node["reserved"].as_i64().unwrap(),
                node["on_hand"].as_i64().unwrap(),
            );
            rows.insert(key, value);
        }
    }
    rows
}

/// Sends one order until it is answered, refused for good, or the deadline passes,
/// moving to the next instance when one does not answer.
fn send(
    addresses: &RwLock<Vec<SocketAddr>>,
    first: usize,
    id: &str,
    body: &str,
    seen: &Mutex<Seen>,
    started: Instant,
) -> Option<Value> {
    let mut instance = first;
    for _ in 0..TRIES {
        if started.elapsed() > DEADLINE {
            return None;
        }
        let address = addresses.read().unwrap()[instance % INSTANCES];
        match request(address, "POST", "/v1/route", body) {
            Ok((200, answer)) => {
                let mut seen = seen.lock().unwrap();
                let first = seen
                    .acknowledged
                    .entry(id.to_string())
                    .or_insert(answer.clone());
                assert_eq!(*first, answer, "{id} answered twice, differently");
                return Some(answer);
            }
            Ok((0, _)) | Err(_) => {
                seen.lock().unwrap().unanswered += 1;
                instance += 1;
            }
            Ok((status, answer)) => {
                let code = answer["error"]["code"].as_str().unwrap_or("").to_string();
                let message = answer["error"]["message"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                seen.lock().unwrap().refusals.push((status, code, message));
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn three_instances_survive_a_killed_instance_and_a_database_restart() {
    let Ok(server) = std::env::var("ALLOT_TEST_POSTGRES") else {
        eprintln!("skipped: ALLOT_TEST_POSTGRES is not set (see .ci/postgres)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let network = network(dir.path());
    let db = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let name = format!("allot_scale_out_{}", std::process::id());
        allot_serve::store::create_postgres_database(&server, &name)
            .await
            .unwrap()
    });
    // The first start imports the network's stock; the others find it there.
    let mut servers: Vec<Server> = (0..INSTANCES).map(|_| serve(&db, &network)).collect();
    let addresses = Arc::new(RwLock::new(
        servers.iter().map(|s| s.address).collect::<Vec<_>>(),
    ));
    let before = stock(servers[0].address);

    let seen = Arc::new(Mutex::new(Seen::default()));
    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (addresses, seen, done) = (addresses.clone(), seen.clone(), done.clone());
            std::thread::spawn(move || {
                for n in 0..ORDERS_PER_CLIENT {
                    let id = format!("S-{client}-{n}");
                    send(&addresses, client, &id, &order(client, n), &seen, started);
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let total = CLIENTS * ORDERS_PER_CLIENT;
    let wait_for = |count: usize| {
        while done.load(Ordering::Relaxed) < count && started.elapsed() < DEADLINE {
            std::thread::sleep(Duration::from_millis(10));
        }
    };

    wait_for(total / 4);
    // SIGKILL mid-load, and a new process on the same database in its place.
    drop(std::mem::replace(&mut servers[1], serve(&db, &network)));
    addresses.write().unwrap()[1] = servers[1].address;

    wait_for(total / 2);
    restart_postgres(&server);

    for client in clients {
        client.join().unwrap();
    }
    assert!(
        started.elapsed() < DEADLINE,
        "the load did not finish in {DEADLINE:?}"
    );

    // Every order once more, at any instance: the answers acknowledged before, and an
    // answer for the ones that got none.
    let mut answers = BTreeMap::new();
    for client in 0..CLIENTS {
        for n in 0..ORDERS_PER_CLIENT {
            let id = format!("S-{client}-{n}");
            let answer = send(&addresses, n, &id, &order(client, n), &seen, Instant::now())
                .unwrap_or_else(|| panic!("{id}: no answer after the load"));
            answers.insert(id, answer);
        }
    }
    let seen = seen.lock().unwrap();
    for (id, first) in &seen.acknowledged {
        assert_eq!(&answers[id], first, "{id}: the acknowledged answer is kept");
    }
    // Refused with a reason: the service was unavailable or the stock kept changing.
    for (status, code, message) in &seen.refusals {
        assert!(
            *status == 503 && ["unavailable", "contention"].contains(&code.as_str()),
            "refused {status} {code}: {message}"
        );
        assert!(!message.is_empty(), "a refusal without a reason ({code})");
    }

    // Every hold is there, and the units held are exactly the units reserved.
    let address = addresses.read().unwrap()[0];
    let mut held: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut holds = 0;
    for (id, answer) in &answers {
        let Some(reservation) = answer["reservation"].as_str() else {
            continue;
        };
        let (status, body) = request(
            address,
            "GET",
            &format!("/v1/reservations/{reservation}"),
            "",
        )
        .unwrap();
        assert_eq!(status, 200, "{id}: hold {reservation}: {body}");
        assert_eq!(
            (&body["state"], &body["order"]),
            (&json!("held"), &json!(id))
        );
        for units in body["lines"].as_array().unwrap() {
            let key = (
                units["sku"].as_str().unwrap().to_string(),
                units["node"].as_str().unwrap().to_string(),
            );
            *held.entry(key).or_default() += units["qty"].as_i64().unwrap();
        }
        holds += 1;
    }
    eprintln!(
        "{total} orders over {INSTANCES} instances: {holds} held, {} refusals, {} unanswered requests, {:.1} s",
        seen.refusals.len(),
        seen.unanswered,
        started.elapsed().as_secs_f64()
    );
    let after = stock(address);
    for (key, &(reserved, on_hand)) in &after {
        assert!(
            reserved <= on_hand,
            "{key:?}: {reserved} reserved of {on_hand}"
        );
        let was = before.get(key).map_or(0, |&(reserved, _)| reserved);
        let by_holds = held.get(key).copied().unwrap_or(0);
        assert_eq!(
            reserved - was,
            by_holds,
            "{key:?}: reserved beyond the holds"
        );
    }
    assert!(
        holds > total / 2,
        "only {holds} of {total} orders held stock"
    );
    drop(servers);

    let (status, stdout, stderr) = reconcile_db(&db);
    assert_eq!(status, Some(0), "differences: {stdout}{stderr}");
}
