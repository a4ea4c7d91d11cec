//! The network and order loaders, on mutated real JSON: the first byte picks which.
//! Anything is loaded or refused with an error naming the record and field; what loads
//! routes the example orders (or the order) without a panic.
#![no_main]

use allot_runtime::{Engine, Network, Order};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let text = allot_fuzz::text(rest);
    let example = allot_fuzz::example();
    if which % 2 == 0 {
        let Ok(network) = Network::from_json(&text, &example.plan) else {
            return;
        };
        let mut engine = Engine::new(example.plan.clone(), network.clone());
        for value in allot_fuzz::example_orders() {
            if let Ok(order) = Order::from_value(&value, &example.plan, &network) {
                engine.route(&order, true);
            }
        }
    } else {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
            return;
        };
        if let Ok(order) = Order::from_value(&value, &example.plan, &example.network) {
            let mut engine = Engine::new(example.plan.clone(), example.network.clone());
            engine.route(&order, true);
        }
    }
});
