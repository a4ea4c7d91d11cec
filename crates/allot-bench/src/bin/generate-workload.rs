//! Writes the benchmark workload as files, for timing whole commands:
//! `generate-workload DIR [ORDERS]` writes `DIR/network.json` (1,000 nodes, 50,000 SKUs)
//! and `DIR/orders.jsonl` (ORDERS web orders of 1–8 lines, 100,000 by default).

use std::path::PathBuf;

const SKUS: usize = 50_000;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().unwrap_or_else(|| "workload".into()));
    let orders: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("network.json"), allot_bench::network_json(SKUS, 7))?;
    let mut text = allot_bench::mixed_orders_json(orders, SKUS, 42).join("\n");
    text.push('\n');
    std::fs::write(dir.join("orders.jsonl"), text)?;
    eprintln!(
        "wrote network.json and {orders} orders to {}",
        dir.display()
    );
    Ok(())
}
