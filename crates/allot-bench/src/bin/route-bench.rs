//! The routing benchmark: `cargo run --release -p allot-bench --bin route-bench`.
//! `route-bench 3` measures 3-line orders only; ALLOT_BENCH_ORDERS sets orders per size;
//! ALLOT_BENCH_REPEAT=R routes every batch R times from the same start and also reports
//! the percentiles of each order's fastest run (the least disturbed by other work).
//! Prints compile time, network load time, per-order latency (p50/p99) by order size,
//! throughput, the same with a delivery promise (a transit and `ship within`), returns
//! routed back (per line, against orders), the large-order heuristic's gap to the exact
//! search, and the time of orders of 100 to 5,000 lines.

use allot_diagnostics::Sources;
use allot_runtime::{Engine, Network, Order, Status};
use std::time::{Duration, Instant};

/// The allocator of the `allot` binary, so that figures match it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SKUS: usize = 50_000;

/// The returns policy returns are routed with, beside the example ruleset's files.
const RETURNS_POLICY: &str = r#"
/// Web returns: to a nearby store that carries the item and is short of it, else a DC.
returns "web returns" {
  applies when return.channel == "web"

  let d = distance(node, return.from)

  refund without return when line.price < 8 USD because "worth less than a label"

  exclude when node.kind == store and d > store_radius     because "too far to drop at a store"
  exclude when node.kind == store and line.item.oversized  because "stores take no oversized returns"
  exclude when line.condition == damaged and node.kind != dc because "damaged goods go to a DC"
  exclude when node.kind == vendor                          because "vendors take no returns"
  exclude when node.utilization >= 90%                      because "receiving capacity"

  cost label    per shipment = ground_rate(d)
  cost handling per unit     = node.pick_cost
  cost restock  per unit     = -2 USD when need(node, line.sku) > 0

  objective {
    minimize shipments
    minimize cost
  }
}
"#;
const ORDERS_PER_SIZE: usize = 300;

/// The example ruleset's files, each through `edit`.
fn example_sources(edit: impl Fn(String) -> String) -> Sources {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../rulesets/example");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("rulesets/example")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "allot"))
        .collect();
    files.sort();
    let mut sources = Sources::new();
    for file in files {
        sources.add(
            file.display().to_string(),
            edit(std::fs::read_to_string(&file).expect("ruleset file")),
        );
    }
    sources
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// One batch routed: each order's time, in input order, the batch's, and the outcomes.
struct BatchTimes {
    times: Vec<Duration>,
    total: Duration,
    routed: usize,
    partial: usize,
}

fn route_batch(engine: &mut Engine, orders: &[Order]) -> BatchTimes {
    let mut times = Vec::with_capacity(orders.len());
    let (mut routed, mut partial) = (0, 0);
    let batch = Instant::now();
    for order in orders {
        let start = Instant::now();
        let decision = engine.route(order, false);
        times.push(start.elapsed());
        match decision.status {
            Status::Routed => routed += 1,
            Status::Partial => partial += 1,
            _ => {}
        }
    }
    BatchTimes {
        times,
        total: batch.elapsed(),
        routed,
        partial,
    }
}

fn main() {
    let sources = example_sources(|text| text);
    let mut compile_times: Vec<Duration> = (0..200)
        .map(|_| {
            let start = Instant::now();
            let plan = allot_compile::compile_sources(&sources).expect("the example compiles");
            std::hint::black_box(plan);
            start.elapsed()
        })
        .collect();
    compile_times.sort();
    let plan = allot_compile::compile_sources(&sources).expect("the example compiles");
    println!(
        "compile rulesets/example (parse + check + lower): median {:.2} ms",
        micros(percentile(&compile_times, 0.5)) / 1e3
    );

    let network_text = allot_bench::network_json(SKUS, 7);
    let start = Instant::now();
    let network = Network::from_json(&network_text, &plan).expect("a valid network");
    let parsed = start.elapsed();
    // Not timed: the bench keeps a copy to read its orders against.
    let copy = network.clone();
    let engine_start = Instant::now();
    let mut engine = Engine::new(plan.clone(), copy);
    let indexed = engine_start.elapsed();
    let load = parsed + indexed;
    let entries: usize = network.stock.iter().map(Vec::len).sum();
    println!(
        "load network: {} nodes, {SKUS} SKUs, {entries} stock entries, {:.1} MB: {:.0} ms (of which indexing/precompute {:.0} ms)",
        network.nodes.len(),
        network_text.len() as f64 / 1e6,
        load.as_secs_f64() * 1e3,
        indexed.as_secs_f64() * 1e3
    );

    // `route-bench 3` measures 3-line orders only (for profiling).
    let only: Option<usize> = std::env::args().nth(1).and_then(|a| a.parse().ok());
    let setting = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(default)
    };
    let per_size = setting("ALLOT_BENCH_ORDERS", ORDERS_PER_SIZE);
    let repeats = setting("ALLOT_BENCH_REPEAT", 1).max(1);
    let batches: Vec<(usize, Vec<Order>)> = (1..=8)
        .filter(|l| only.is_none_or(|o| o == *l))
        .map(|lines| {
            let orders = allot_bench::orders_json(per_size, lines, SKUS, 100 + lines as u64)
                .iter()
                .map(|text| {
                    Order::from_value(&serde_json::from_str(text).expect("json"), &plan, &network)
                        .expect("order")
                })
                .collect();
            (lines, orders)
        })
        .collect();
    // The example's web policy with a delivery promise: a transit by distance and a
    // ship-by rule, which read each node's calendar for each order.
    let promising = example_sources(|text| {
        text.replacen(
            "  let d = distance(node, order.ship_to)\n",
            "  let d = distance(node, order.ship_to)\n  transit = if d < 300 km then 1 day else if d < 1200 km then 2 days else 4 days\n  ship within 2 business days because \"ship within 2 business days\"\n",
            1,
        )
    });
    let promising = allot_compile::compile_sources(&promising).expect("the example compiles");
    assert!(promising.policies.iter().any(|p| p.transit.is_some()));
    // Each repetition routes the same batches from the same starting state (a fresh
    // engine), so an order's times are comparable: its fastest is its time with the
    // least interference from the rest of the machine. The two rulesets take turns.
    let mut runs: Vec<Vec<BatchTimes>> = Vec::with_capacity(repeats);
    let mut promise_runs: Vec<Vec<BatchTimes>> = Vec::with_capacity(repeats);
    for run in 0..repeats {
        // The first run takes the engine whose setup was timed above.
        if run > 0 {
            engine = Engine::new(plan.clone(), network.clone());
        }
        runs.push(
            batches
                .iter()
                .map(|b| route_batch(&mut engine, &b.1))
                .collect(),
        );
        let mut engine = Engine::new(promising.clone(), network.clone());
        promise_runs.push(
            batches
                .iter()
                .map(|b| route_batch(&mut engine, &b.1))
                .collect(),
        );
    }
    if repeats > 1 {
        println!("\n{repeats} runs; \"fastest\": per order, its fastest run");
    }
    print_table(&batches, &runs, repeats);
    println!(
        "\nthe same with a delivery promise (transit by distance, ship within 2 business days):"
    );
    print_table(&batches, &promise_runs, repeats);

    // Returns of as many lines, routed back with a returns policy beside the example's.
    let mut with_returns = example_sources(|text| text);
    with_returns.add("returns.allot", RETURNS_POLICY);
    let returns_plan = allot_compile::compile_sources(&with_returns).expect("returns compile");
    let return_batches: Vec<(usize, Vec<Order>)> = batches
        .iter()
        .map(|(lines, _)| {
            let requests = allot_bench::returns_json(per_size, *lines, SKUS, 500 + *lines as u64)
                .iter()
                .map(|text| {
                    let value = serde_json::from_str(text).expect("json");
                    Order::from_value(&value, &returns_plan, &network).expect("a return")
                })
                .collect();
            (*lines, requests)
        })
        .collect();
    let return_runs: Vec<Vec<BatchTimes>> = (0..repeats)
        .map(|_| {
            let mut engine = Engine::new(returns_plan.clone(), network.clone());
            (return_batches.iter())
                .map(|b| route_batch(&mut engine, &b.1))
                .collect()
        })
        .collect();
    println!("\nreturns of as many lines (\"routed\": every line received or kept):");
    print_table(&return_batches, &return_runs, repeats);
    println!("\nper line, fastest run's mean µs: orders | returns | returns / orders");
    for (b, (lines, orders)) in batches.iter().enumerate() {
        let per_line = |runs: &[Vec<BatchTimes>]| {
            let fastest = runs.iter().map(|run| run[b].total).min().expect("a run");
            micros(fastest) / (orders.len() * lines) as f64
        };
        let (outbound, back) = (per_line(&runs), per_line(&return_runs));
        println!(
            "{lines:5} | {outbound:6.2} | {back:7.2} | {:.2}",
            back / outbound
        );
    }

    if only.is_some() {
        return;
    }
    // The heuristic (orders of more than 8 lines) against the exact search.
    let mut engine = Engine::new(plan.clone(), network.clone());
    let orders: Vec<Order> = allot_bench::orders_json(200, 12, SKUS, 999)
        .iter()
        .map(|text| {
            Order::from_value(&serde_json::from_str(text).expect("json"), &plan, &network)
                .expect("order")
        })
        .collect();
    let (mut heuristic_cost, mut exact_cost, mut compared, mut fewer_units, mut more_shipments) =
        (0.0, 0.0, 0, 0, 0);
    let (mut heuristic_time, mut exact_time) = (Duration::ZERO, Duration::ZERO);
    for order in &orders {
        let start = Instant::now();
        let exact = engine.decide_exactly(order);
        exact_time += start.elapsed();
        let start = Instant::now();
        let heuristic = engine.route(order, false);
        heuristic_time += start.elapsed();
        let units = |d: &allot_runtime::Decision| -> i64 {
            d.shipments
                .iter()
                .flatten()
                .flat_map(|s| s.lines.iter().map(|l| l.qty))
                .sum()
        };
        let shipments = |d: &allot_runtime::Decision| d.shipments.as_ref().map_or(0, Vec::len);
        if units(&heuristic) < units(&exact) {
            fewer_units += 1;
        } else if shipments(&heuristic) > shipments(&exact) {
            more_shipments += 1;
        } else if shipments(&heuristic) == shipments(&exact) {
            heuristic_cost += heuristic.cost.unwrap_or(0.0);
            exact_cost += exact.cost.unwrap_or(0.0);
            compared += 1;
        }
    }
    println!(
        "\nheuristic, 12-line orders ({} orders): mean {:.0} µs vs exact {:.0} µs; fewer units placed in {fewer_units}, more shipments in {more_shipments}; on the {compared} with equal units and shipments, cost +{:.2}% over exact",
        orders.len(),
        micros(heuristic_time / orders.len() as u32),
        micros(exact_time / orders.len() as u32),
        if exact_cost > 0.0 {
            (heuristic_cost - exact_cost) / exact_cost * 100.0
        } else {
            0.0
        },
    );

    // The widest orders: the search's budget bounds their work too. Without the review
    // hold of orders over 5,000 USD, which would stop them before the search.
    let unheld = example_sources(|text| text.replace("hold when order.value > review_value", "//"));
    let plan = allot_compile::compile_sources(&unheld).expect("the example compiles");
    println!("\nlines | orders | mean ms | max ms | search cut");
    for lines in [100, 1_000, allot_runtime::MAX_ORDER_LINES] {
        let mut engine = Engine::new(plan.clone(), network.clone());
        let mut times = Vec::new();
        let mut cut = 0;
        for text in allot_bench::orders_json(5, lines, SKUS, 7_000 + lines as u64) {
            let order =
                Order::from_value(&serde_json::from_str(&text).expect("json"), &plan, &network)
                    .expect("order");
            let start = Instant::now();
            cut += usize::from(engine.route(&order, false).search_cut);
            times.push(start.elapsed());
        }
        let mean = times.iter().sum::<Duration>() / times.len() as u32;
        let max = times.iter().max().expect("orders");
        println!(
            "{lines:5} | {:6} | {:7.1} | {:6.1} | {cut}",
            times.len(),
            mean.as_secs_f64() * 1e3,
            max.as_secs_f64() * 1e3
        );
    }
}

/// The latency table of `runs` (per repetition, per batch).
fn print_table(batches: &[(usize, Vec<Order>)], runs: &[Vec<BatchTimes>], repeats: usize) {
    println!(
        "\nlines | orders | p50 µs | p99 µs | mean µs | decisions/s | routed | partial{}",
        if repeats > 1 {
            " | fastest p50 µs | fastest p99 µs"
        } else {
            ""
        }
    );
    for (b, (lines, orders)) in batches.iter().enumerate() {
        let first = &runs[0][b];
        let mut times = first.times.clone();
        times.sort();
        let mean = first.total / orders.len() as u32;
        let mut fastest: Vec<Duration> = (0..orders.len())
            .map(|i| runs.iter().map(|run| run[b].times[i]).min().expect("a run"))
            .collect();
        fastest.sort();
        let fastest = match repeats > 1 {
            true => format!(
                " | {:14.1} | {:14.1}",
                micros(percentile(&fastest, 0.5)),
                micros(percentile(&fastest, 0.99))
            ),
            false => String::new(),
        };
        println!(
            "{lines:5} | {:6} | {:6.1} | {:6.1} | {:7.1} | {:11.0} | {:6} | {:7}{fastest}",
            orders.len(),
            micros(percentile(&times, 0.5)),
            micros(percentile(&times, 0.99)),
            micros(mean),
            orders.len() as f64 / first.total.as_secs_f64(),
            first.routed,
            first.partial,
        );
    }
}
