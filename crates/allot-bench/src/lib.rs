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
