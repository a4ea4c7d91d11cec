//! `allot serve` as a process: started, loaded by concurrent clients on loopback,
//! killed with SIGKILL mid-load, restarted on the same database, and found consistent.

use crate::repo_root;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A running `allot serve`, killed when dropped.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) address: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &Path) -> Server {
    let db = format!("sqlite://{}", dir.join("allot.db").display());
    serve(&db, &network_file(dir))
}

/// `allot serve` of the example ruleset with `network` on database `db`, on a free
/// loopback port.
pub(crate) fn serve(db: &str, network: &Path) -> Server {
    let example = repo_root().join("rulesets/example");
    let mut child = Command::new(env!("CARGO_BIN_EXE_allot"))
        .args(["serve", "--listen", "127.0.0.1:0", "--ruleset"])
        .arg(&example)
        .arg("--network")
        .arg(network)
        .arg("--db")
        .arg(db)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("allot serve starts");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    stderr.read_line(&mut line).expect("a first line");
    let address = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    // Keep reading stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    Server { child, address }
}

/// The example network, with plenty of the SKU the load orders.
fn network_file(dir: &Path) -> std::path::PathBuf {
    let file = dir.join("network.json");
    if !file.exists() {
        let text =
            std::fs::read_to_string(repo_root().join("rulesets/example/network.json")).unwrap();
        let mut network: Value = serde_json::from_str(&text).unwrap();
        for entry in network["inventory"].as_array_mut().unwrap() {
            if entry["sku"] == "SOFA-GRY" {
                entry["on_hand"] = json!(400);
            }
        }
        std::fs::write(&file, network.to_string()).unwrap();
    }
    file
}

/// One HTTP/1.1 request on its own connection: the status and the body.
pub(crate) fn request(
    address: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> std::io::Result<(u16, Value)> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("");
    Ok((status, serde_json::from_str(body).unwrap_or(Value::Null)))
}

fn order(id: &str, qty: i64) -> String {
    json!({
        "id": id, "channel": "web",
        "ship_to": { "lat": 40.71, "lon": -74.0, "country": "US" },
        "lines": [{ "id": "1", "sku": "SOFA-GRY", "qty": qty, "price": 100.0 }]
    })
    .to_string()
}

#[test]
fn a_killed_server_restarts_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    // Acknowledged reservations: (order, reservation).
    let acknowledged = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..8)
        .map(|client| {
            let (acknowledged, stop, address) =
                (acknowledged.clone(), stop.clone(), server.address);
            std::thread::spawn(move || {
                for n in 0..400 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let id = format!("K-{client}-{n}");
                    match request(address, "POST", "/v1/route", &order(&id, 1 + n % 3)) {
                        Ok((200, answer)) => {
                            if let Some(reservation) = answer["reservation"].as_str() {
                                acknowledged
                                    .lock()
                                    .unwrap()
                                    .push((id, reservation.to_string()));
                            }
                        }
                        // Refused with a reason: nothing held, the client may try again.
                        Ok((503, answer)) if answer["error"]["code"] == "contention" => {}
                        // No answer: the server is gone, and the order unacknowledged.
                        Ok((0, _)) | Err(_) => break,
                        Ok((status, answer)) => panic!("{id}: {status} {answer}"),
                    }
                }
            })
        })
        .collect();
    while acknowledged.lock().unwrap().len() < 150 {
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(server); // SIGKILL, mid-load
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();

    let server = start(dir.path());
    for (order_id, reservation) in &acknowledged {
        let (status, held) = request(
            server.address,
            "GET",
            &format!("/v1/reservations/{reservation}"),
            "",
        )
        .unwrap();
        assert_eq!(
            status, 200,
            "acknowledged hold {reservation} of {order_id} is kept"
        );
        assert_eq!(held["state"], "held");
        assert_eq!(&held["order"], order_id);
    }
    // The same orders again: their first answers, nothing held twice.
    let (before, _) = stock(server.address);
    for (order_id, reservation) in acknowledged.iter().take(20) {
        let n: i64 = order_id.rsplit('-').next().unwrap().parse().unwrap();
        let (status, answer) = request(
            server.address,
            "POST",
            "/v1/route",
            &order(order_id, 1 + n % 3),
        )
        .unwrap();
        assert_eq!(
            (status, answer["reservation"].as_str()),
            (200, Some(reservation.as_str()))
        );
    }
    assert_eq!(stock(server.address).0, before);
    // Commit half, and keep routing: the restarted server works from the store.
    for (_, reservation) in acknowledged.iter().step_by(2) {
        let (status, _) = request(
            server.address,
            "POST",
            &format!("/v1/reservations/{reservation}/commit"),
            "",
        )
        .unwrap();
        assert_eq!(status, 200);
    }
    let (status, _) = request(
        server.address,
        "POST",
        "/v1/route",
        &order("after-restart", 1),
    )
    .unwrap();
    assert_eq!(status, 200);
    drop(server);

    let (status, stdout, _) = reconcile(dir.path());
    assert_eq!(status, Some(0), "differences: {stdout}");
}

/// `allot serve --reconcile` on the database in `dir`: exit status, stdout, stderr.
fn reconcile(dir: &Path) -> (Option<i32>, String, String) {
    reconcile_db(&format!("sqlite://{}", dir.join("allot.db").display()))
}

/// `allot serve --reconcile --db db`: exit status, stdout, stderr.
pub(crate) fn reconcile_db(db: &str) -> (Option<i32>, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_allot"))
        .args(["serve", "--reconcile", "--db", db])
        .output()
        .expect("allot serve --reconcile runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn reconcile_reports_what_does_not_add_up() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let (status, answer) = request(server.address, "POST", "/v1/route", &order("C-1", 2)).unwrap();
    assert_eq!(status, 200, "{answer}");
    drop(server);
    assert_eq!(reconcile(dir.path()).0, Some(0));
    // Reserved units no hold and no ledger row accounts for, written behind the
    // service's back.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        sqlx::any::install_default_drivers();
        let url = format!("sqlite://{}", dir.path().join("allot.db").display());
        let mut connection = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
            .await
            .unwrap();
        sqlx::Executor::execute(
            &mut connection,
            "UPDATE stock SET reserved = reserved + 1 WHERE sku = 'SOFA-GRY' AND node = 'DC-NJ'",
        )
        .await
        .unwrap();
    });
    let (status, stdout, stderr) = reconcile(dir.path());
    assert_eq!(status, Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("stock SOFA-GRY at DC-NJ") && stderr.contains("differences"),
        "{stdout}{stderr}"
    );
    let missing = tempfile::tempdir().unwrap();
    let (status, _, stderr) = reconcile(missing.path());
    assert_eq!(status, Some(2));
    assert!(stderr.contains("no such file"), "{stderr}");
}

/// Reserved units of the load's SKU at every node, and on hand.
fn stock(address: SocketAddr) -> (i64, i64) {
    let (status, body) = request(address, "GET", "/v1/stock/SOFA-GRY", "").unwrap();
    assert_eq!(status, 200);
    let nodes = body["nodes"].as_array().unwrap();
    let sum = |key: &str| nodes.iter().map(|n| n[key].as_i64().unwrap()).sum();
    (sum("reserved"), sum("on_hand"))
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path());
    let (status, answer) = request(server.address, "POST", "/v1/route", &order("T-1", 1)).unwrap();
    assert_eq!(status, 200, "{answer}");
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let mut exit = None;
    for _ in 0..200 {
        if let Some(status) = server.child.try_wait().unwrap() {
            exit = Some(status);
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let exit = exit.expect("the server stops within 5 s of SIGTERM");
    assert!(exit.success(), "exit status {exit}");
    // What it answered is in the store, and the store is consistent.
    let server = start(dir.path());
    let (status, again) = request(server.address, "POST", "/v1/route", &order("T-1", 1)).unwrap();
    assert_eq!((status, again), (200, answer));
}
