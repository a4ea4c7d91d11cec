//! Generated workloads for benchmarks: large, realistic, and valid.

use std::fmt::Write;

/// A ruleset of about `lines` lines: a schema, constants, tables, and policies that
/// use every kind of item. It checks without diagnostics.
pub fn ruleset(lines: usize) -> String {
    let mut out = String::with_capacity(lines * 48);
    out.push_str(
        "/// Generated attributes.\nschema {\n  enum Category { apparel, footwear, furniture, electronics, gift_card }\n  item.category: Category = apparel\n  item.oversized: bool = false\n  item.hazmat: bool = false\n  node.region: string = \"\"\n  node.gift_wrap: bool = false\n  order.retailer: string = \"\"\n}\n\n",
    );
    let mut n = 0;
    while out.lines().count() < lines {
        write_block(&mut out, n);
        n += 1;
    }
    out
}

/// One group of declarations (about 60 lines): two consts, a table, a policy that
/// uses them all, and every fifth group a compliance profile.
fn write_block(out: &mut String, n: usize) {
    let _ = write!(
        out,
        r#"/// Radius of region {n}.
const radius_{n} = {radius} km
const penalty_{n} = {penalty}.50 USD

/// Ground rates of region {n}.
table rate_{n}(d: distance, c: Category) -> money {{
  d < 150 km and c == furniture => 16.50 USD
  d < 150 km                    => 6.50 USD
  d < 600 km                    => 8.90 USD
  d < 1500 km                   => 11.40 USD
  _                             => 14.00 USD
}}

/// Routing for region {n}.
policy "region-{n}" {{
  applies when order.ship_to.region == "R{n}" and order.channel in ["web", "app", "marketplace"]
  priority {n}

  let d = distance(node, order.ship_to)
  let far = d > radius_{n}

  exclude when not node.enabled                                because "node switched off"
  exclude when node.kind == store and line.item.oversized     because "oversized ships from DCs only"
  exclude when line.item.hazmat and "hazmat" not in node.tags because "hazmat needs a certified node"
  exclude when node.kind == store and far                     because "too far"
  exclude when node.utilization >= 90%                        because "capacity guard"
  exclude when node.region != "" and node.region != "R{n}" and node.kind == store

  safety stock 2 when node.kind == store
  safety stock 1 when node.kind == mfc

  cost shipping per shipment = rate_{n}(d, apparel) + 0.35 USD/kg * shipment.weight
  cost handling per shipment = node.handling_cost
  cost picking  per unit     = node.pick_cost
  cost markdown per unit     = 1.20 USD when node.kind == store
  cost bulky    per line     = rate_{n}(d, line.item.category) when line.item.oversized
  cost split    per shipment = penalty_{n} when order.lines > 1

  stage "stores"   when node.kind == store and d <= 50 km
  stage "DCs"      when node.kind in [dc, tpl]
  stage "dropship" when node.kind == vendor

  objective {{
    minimize shipments
    minimize cost
    minimize max(node.priority)
  }}

  max shipments 3
  on shortage backorder

  reject when order.ship_to.country != "US" because "domestic only"
  hold   when order.value > 5000 USD           because "manual review"
}}

"#,
        radius = 100 + n % 400,
        penalty = n % 9,
    );
    if n.is_multiple_of(5) {
        let _ = write!(
            out,
            r#"/// Partner {n}: dropship rules.
compliance "partner-{n}" {{
  applies when order.retailer == "partner-{n}"
  ship complete
  on shortage reject                   because "fill or kill"
  exclude when node.kind == store      because "no ship-from-store"
  exclude when node.location.country != "US"
}}

"#
        );
    }
}

/// A small deterministic random generator (xorshift64*), so workloads are the same on
/// every machine without a dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Ranks drawn with probability ∝ 1/rank (Zipf, s = 1), by inverting the cumulative sum.
pub struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    pub fn new(n: usize) -> Zipf {
        let mut total = 0.0;
        let cumulative = (1..=n)
            .map(|rank| {
                total += 1.0 / rank as f64;
                total
            })
            .collect();
        Zipf { cumulative }
    }

    pub fn sample(&self, rng: &mut Rng) -> usize {
        let x = rng.unit() * self.cumulative.last().copied().unwrap_or(0.0);
        self.cumulative
            .partition_point(|&c| c < x)
            .min(self.cumulative.len() - 1)
    }
}

/// US ZIP centroids (lat, lon, state), from the `zipcodes` crate's embedded data.
pub fn zip_centroids() -> Vec<(f64, f64, String)> {
    zipcodes::database()
        .iter()
        .filter(|z| z.active && z.country == "US")
        .filter_map(|z| Some((z.lat.parse().ok()?, z.long.parse().ok()?, z.state.clone())))
        .filter(|(lat, lon, _): &(f64, f64, String)| {
            (24.0..50.0).contains(lat) && (-125.0..-66.0).contains(lon)
        })
        .collect()
}

/// The benchmark network as JSON: 50 DCs, 900 stores and 50 vendors at ZIP centroids,
/// `skus` SKUs whose stock follows their Zipf-distributed demand.
pub fn network_json(skus: usize, seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let zips = zip_centroids();
    let categories = ["apparel", "footwear", "furniture", "electronics"];
    let mut out = String::with_capacity(32 << 20);
    out.push_str("{\"currency\": \"USD\", \"nodes\": [\n");
    let kinds: Vec<&str> = std::iter::repeat_n("dc", 50)
        .chain(std::iter::repeat_n("store", 900))
        .chain(std::iter::repeat_n("vendor", 50))
        .collect();
    for (i, kind) in kinds.iter().enumerate() {
        let (lat, lon, state) = &zips[rng.below(zips.len())];
        let hazmat = if *kind == "dc" && i % 3 == 0 {
            "\"hazmat\""
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "{}{{\"id\": \"{}-{i:04}\", \"kind\": \"{kind}\", \"lat\": {lat}, \"lon\": {lon}, \"country\": \"US\", \"region\": \"{state}\", \"enabled\": {}, \"priority\": {}, \"tags\": [{hazmat}], \"capacity\": {}, \"load\": {}, \"handling_cost\": {:.2}, \"pick_cost\": {:.2}, {}, \"attributes\": {{\"region\": \"{state}\", \"sell_through\": {}}}}}",
            if i == 0 { "" } else { "," },
            kind.to_uppercase(),
            rng.below(50) != 0,
            1 + rng.below(4),
            if *kind == "store" { 300 } else { 20_000 },
            rng.below(150),
            1.0 + rng.unit() * 2.0,
            0.2 + rng.unit() * 0.8,
            calendar(kind, *lon),
            20 + rng.below(60),
        );
    }
    out.push_str("], \"items\": [\n");
    for s in 0..skus {
        let category = categories[s % categories.len()];
        let _ = writeln!(
            out,
            "{}{{\"sku\": \"SKU-{s:05}\", \"weight\": {:.2}, \"attributes\": {{\"category\": \"{category}\", \"oversized\": {}, \"hazmat\": {}}}}}",
            if s == 0 { "" } else { "," },
            if category == "furniture" {
                10.0 + rng.unit() * 40.0
            } else {
                0.2 + rng.unit() * 3.0
            },
            category == "furniture" && s % 8 == 2,
            category == "electronics" && s % 20 == 3,
        );
    }
    out.push_str("], \"inventory\": [\n");
    let mut first = true;
    // Popular SKUs are stocked widely and deeply; the long tail sparsely.
    for (n, kind) in kinds.iter().enumerate() {
        let (count, depth) = match *kind {
            "dc" => (skus / 8, 200),
            "store" => (120, 12),
            _ => (600, 50),
        };
        let zipf = Zipf::new(skus);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..count {
            let s = if *kind == "vendor" {
                rng.below(skus)
            } else {
                zipf.sample(&mut rng)
            };
            if !seen.insert(s) {
                continue;
            }
            let on_hand = 1 + rng.below((depth * 2000 / (2000 + s)).max(1));
            // Stores aim to hold a little more than they have: returns restock them.
            let target = if *kind == "store" { on_hand + 2 } else { 0 };
            let _ = writeln!(
                out,
                "{}{{\"node\": \"{}-{n:04}\", \"sku\": \"SKU-{s:05}\", \"on_hand\": {on_hand}, \"reserved\": {}, \"target\": {target}}}",
                if first { "" } else { "," },
                kind.to_uppercase(),
                rng.below(2),
            );
            first = false;
        }
    }
    out.push_str("]}\n");
    out
}

/// A node's calendar fields: the time zone of its longitude, a cutoff and handling days
/// by kind, the year-end holidays. Drawn from nothing random, so the rest of the network
/// is what it was before nodes had calendars.
fn calendar(kind: &str, lon: f64) -> String {
    let zone = match lon {
        lon if lon < -115.0 => "America/Los_Angeles",
        lon if lon < -102.0 => "America/Denver",
        lon if lon < -86.0 => "America/Chicago",
        _ => "America/New_York",
    };
    let (cutoff, handling) = match kind {
        "dc" => ("15:00", 0),
        "store" => ("17:00", 1),
        _ => ("12:00", 2),
    };
    format!(
        "\"timezone\": \"{zone}\", \"cutoff\": \"{cutoff}\", \"handling_days\": {handling}, \"holidays\": [\"2026-12-25\", \"2027-01-01\"], \"returns\": \"{}\"",
        // One DC in ten is also a returns centre, taking back any SKU.
        if kind == "dc" && (lon * 100.0) as i64 % 10 == 0 {
            "all"
        } else {
            "carried"
        }
    )
}

/// When order `i` was placed: one order every 97 minutes through a week from Monday
/// 2026-12-07, 06:00 Eastern, so that orders fall before and after cutoffs, at night and
/// at weekends.
fn placed_at(i: usize) -> String {
    let start: jiff::Timestamp = "2026-12-07T06:00:00-05:00".parse().expect("a timestamp");
    let minutes = (i as i64 * 97) % (7 * 24 * 60);
    let at = start + jiff::SignedDuration::from_mins(minutes);
    at.display_with_offset(jiff::tz::offset(-5)).to_string()
}

/// Web return requests of `lines` lines each: orders of [`orders_json`] sent back from
/// where they went, their lines opened, one in twenty damaged.
pub fn returns_json(count: usize, lines: usize, skus: usize, seed: u64) -> Vec<String> {
    orders_json(count, lines, skus, seed)
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let mut order: serde_json::Value = serde_json::from_str(text).expect("an order");
            let object = order.as_object_mut().expect("an object");
            let from = object.remove("ship_to").expect("a ship-to");
            object.insert("kind".into(), "return".into());
            object.insert("id".into(), format!("R-{i}").into());
            object.insert("from".into(), from);
            for (l, line) in (object["lines"].as_array_mut().expect("lines"))
                .iter_mut()
                .enumerate()
            {
                let condition = if (i + l) % 20 == 0 {
                    "damaged"
                } else {
                    "opened"
                };
                line["condition"] = condition.into();
            }
            order.to_string()
        })
        .collect()
}

/// Web orders of `lines` lines each, SKUs drawn by Zipf demand, shipped to ZIP centroids.
pub fn orders_json(count: usize, lines: usize, skus: usize, seed: u64) -> Vec<String> {
    let mut orders = OrderMaker::new(skus, seed);
    (0..count).map(|i| orders.order(i, lines)).collect()
}

/// Lines per order in a web shop's day: most orders are small (mean 2.2 lines).
const LINES_PER_ORDER: [(usize, u32); 8] = [
    (1, 45),
    (2, 25),
    (3, 13),
    (4, 7),
    (5, 4),
    (6, 3),
    (7, 2),
    (8, 1),
];

/// Web orders of 1–8 lines, sized as in [`LINES_PER_ORDER`].
pub fn mixed_orders_json(count: usize, skus: usize, seed: u64) -> Vec<String> {
    let mut orders = OrderMaker::new(skus, seed);
    let total: u32 = LINES_PER_ORDER.iter().map(|&(_, w)| w).sum();
    (0..count)
        .map(|i| {
            let mut pick = orders.rng.below(total as usize) as u32;
            let lines = LINES_PER_ORDER
                .iter()
                .find(|&&(_, w)| {
                    let hit = pick < w;
                    pick = pick.saturating_sub(w);
                    hit
                })
                .map_or(1, |&(lines, _)| lines);
            orders.order(i, lines)
        })
        .collect()
}

struct OrderMaker {
    rng: Rng,
    zips: Vec<(f64, f64, String)>,
    zipf: Zipf,
}

impl OrderMaker {
    fn new(skus: usize, seed: u64) -> OrderMaker {
        OrderMaker {
            rng: Rng::new(seed),
            zips: zip_centroids(),
            zipf: Zipf::new(skus),
        }
    }

    fn order(&mut self, i: usize, lines: usize) -> String {
        let rng = &mut self.rng;
        let (lat, lon, state) = &self.zips[rng.below(self.zips.len())];
        let mut chosen = Vec::new();
        while chosen.len() < lines {
            let s = self.zipf.sample(rng);
            if !chosen.contains(&s) {
                chosen.push(s);
            }
        }
        let body: Vec<String> = chosen
            .iter()
            .enumerate()
            .map(|(l, s)| {
                format!(
                    "{{\"id\": \"{}\", \"sku\": \"SKU-{s:05}\", \"qty\": {}, \"price\": {:.2}}}",
                    l + 1,
                    1 + rng.below(2),
                    5.0 + rng.unit() * 80.0
                )
            })
            .collect();
        format!(
            "{{\"id\": \"B-{i}\", \"channel\": \"web\", \"method\": \"ship\", \"placed_at\": \"{}\", \"ship_to\": {{\"lat\": {lat}, \"lon\": {lon}, \"country\": \"US\", \"region\": \"{state}\"}}, \"lines\": [{}]}}",
            placed_at(i),
            body.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn generated_rulesets_check_clean() {
        let text = super::ruleset(2_000);
        assert!(text.lines().count() >= 2_000);
        let mut sources = allot_diagnostics::Sources::new();
        sources.add("generated.allot", text);
        let analysis = allot_check::analyze(&sources);
        let rendered = allot_diagnostics::render_human(&analysis.diagnostics, &sources, false);
        assert!(analysis.diagnostics.is_empty(), "{rendered}");
    }
}
