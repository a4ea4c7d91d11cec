//! The plan artifact loader: any bytes (seeded with real artifacts) are refused with an
//! error, or decode to a plan that validates, encodes to itself, and routes the
//! example orders on the example network (or refuses the network with an error) without
//! a panic. The bytes are tried as they are and with their header's length and checksum
//! made to fit, so that mutations reach the plan's decoder.
#![no_main]

use allot_runtime::{Engine, Network, Order};
use libfuzzer_sys::fuzz_target;

const HEADER_LEN: usize = 32;

fn resealed(data: &[u8]) -> Option<Vec<u8>> {
    if data.len() < HEADER_LEN || &data[..8] != allot_plan::MAGIC {
        return None;
    }
    let mut bytes = data.to_vec();
    let payload = &data[HEADER_LEN..];
    bytes[8..12].copy_from_slice(&allot_plan::FORMAT_VERSION.to_le_bytes());
    bytes[20..28].copy_from_slice(&(payload.len() as u64).to_le_bytes());
    bytes[28..32].copy_from_slice(&crc32fast::hash(payload).to_le_bytes());
    Some(bytes)
}

fn try_artifact(bytes: &[u8]) {
    let Ok(artifact) = allot_plan::Artifact::decode(bytes) else {
        return;
    };
    // Compared as bytes: a plan may hold NaN, which equals nothing.
    let encoded = artifact.encode();
    let again = allot_plan::Artifact::decode(&encoded).expect("re-encoded decodes");
    assert_eq!(again.encode(), encoded, "a decoded plan encodes to itself");
    let Ok(network) = Network::from_json(allot_fuzz::EXAMPLE_NETWORK, &artifact.plan) else {
        return;
    };
    let mut engine = Engine::new(artifact.plan.clone(), network.clone());
    for value in allot_fuzz::example_orders() {
        if let Ok(order) = Order::from_value(&value, &artifact.plan, &network) {
            engine.route(&order, true);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    try_artifact(data);
    if let Some(bytes) = resealed(data) {
        try_artifact(&bytes);
    }
});
