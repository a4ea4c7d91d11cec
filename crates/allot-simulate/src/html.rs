//! The simulation as one self-contained HTML page, for the people who decide on a policy
//! change: the summary, charts (drawn by plotters as inline SVG), and the changed orders
//! with both decisions explained. The page fetches nothing: it opens from a file, an
//! e-mail or a CI artifact as it is.

use crate::{Report, STATUSES, Totals, signed_count, signed_money, summary};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::BTreeSet;
use std::error::Error;
use std::fmt::Write;

/// Where a node is, for the map.
#[derive(Clone, Debug)]
pub struct Place {
    pub id: String,
    pub lat: f64,
    pub lon: f64,
}

/// What the page says besides the report: the two rulesets, the network's nodes and
/// currency, and how many changed orders it lists.
#[derive(Clone, Debug)]
pub struct Page<'a> {
    pub baseline: &'a str,
    pub candidate: &'a str,
    pub nodes: &'a [Place],
    pub currency: &'a str,
    pub limit: usize,
}

const BASELINE: RGBColor = RGBColor(148, 163, 184);
const CANDIDATE: RGBColor = RGBColor(37, 99, 235);
/// Nodes shown in the bar chart of shipments per node, the busiest first.
const TOP_NODES: usize = 20;
/// Nodes named on the map, the busiest first.
const NAMED_ON_MAP: usize = 8;
const LABELS: (&str, u32) = ("sans-serif", 14);

/// Counts on an axis: whole numbers only (a tick between two is left unlabelled).
fn whole(x: &f64) -> String {
    if x.fract().abs() < 1e-9 {
        format!("{x:.0}")
    } else {
        String::new()
    }
}

type Drawn = Result<(), Box<dyn Error>>;

impl Report {
    /// The report as an HTML page.
    pub fn html(&self, page: &Page) -> String {
        let mut out = String::new();
        let title = format!(
            "What {} changes against {}",
            escape(page.candidate),
            escape(page.baseline)
        );
        let _ = write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>Allot simulation: {title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
             <header><h1>{title}</h1><p>{} orders routed with each ruleset on its own copy \
             of the network; amounts in {}.</p></header>\n",
            self.orders,
            escape(page.currency)
        );
        self.cards(&mut out, page);
        self.outcomes(&mut out);
        out.push_str("<section><h2>How much each changed order costs now</h2>\n");
        out.push_str(&self.cost_delta_chart(page.currency));
        // A node ships an order in one shipment: shipments per node are orders per node.
        out.push_str("</section>\n<section><h2>Orders each node ships</h2>\n");
        out.push_str(&node_chart(&self.baseline, &self.candidate));
        out.push_str("</section>\n<section><h2>Where orders ship from</h2>\n");
        out.push_str(
            "<p>Each circle is a node, sized by the shipments it makes; grey rings ship nothing.</p>\n",
        );
        out.push_str(&map(page.nodes, &self.baseline, &self.candidate));
        out.push_str("</section>\n");
        self.stages(&mut out);
        self.changed_orders(&mut out, page.limit);
        out.push_str(
            "<footer>Made by <code>allot simulate --report</code>.</footer>\n</body>\n</html>\n",
        );
        out
    }

    fn cards(&self, out: &mut String, page: &Page) {
        let (old, new) = (&self.baseline, &self.candidate);
        let per_order = |x: f64| x / self.orders.max(1) as f64;
        let share = |n: usize| 100.0 * n as f64 / self.orders.max(1) as f64;
        let currency = escape(page.currency);
        out.push_str("<section class=\"cards\">\n");
        let mut card = |label: &str, value: String, detail: String| {
            let _ = writeln!(
                out,
                "<div class=\"card\"><div class=\"label\">{label}</div>\
                 <div class=\"value\">{value}</div><div class=\"detail\">{detail}</div></div>"
            );
        };
        card(
            "orders changed",
            format!("{} of {}", self.changed.len(), self.orders),
            format!(
                "{:.1}%; {} ship from other nodes; {} have new promised dates",
                share(self.changed.len()),
                self.node_set_changed,
                self.dates_changed
            ),
        );
        card(
            "cost",
            format!("{:.2} → {:.2}", old.cost, new.cost),
            format!("{} {currency}", signed_money(new.cost - old.cost)),
        );
        card(
            "cost per order",
            format!("{:.2} → {:.2}", per_order(old.cost), per_order(new.cost)),
            format!(
                "{} {currency}",
                signed_money(per_order(new.cost) - per_order(old.cost))
            ),
        );
        card(
            "shipments per order",
            format!(
                "{:.3} → {:.3}",
                per_order(old.shipments as f64),
                per_order(new.shipments as f64)
            ),
            format!("{} → {} parcels", old.shipments, new.shipments),
        );
        card(
            "split rate",
            format!(
                "{:.1}% → {:.1}%",
                100.0 * old.split_rate(),
                100.0 * new.split_rate()
            ),
            format!(
                "orders in more than one parcel: {} → {}",
                old.split_orders, new.split_orders
            ),
        );
        out.push_str("</section>\n");
    }

    fn outcomes(&self, out: &mut String) {
        out.push_str(
            "<section><h2>Orders by outcome</h2>\n<table class=\"numbers\">\
             <thead><tr><th></th><th>baseline</th><th>candidate</th><th>change</th></tr></thead><tbody>\n",
        );
        for (i, status) in STATUSES.iter().enumerate() {
            let (a, b) = (self.baseline.statuses[i], self.candidate.statuses[i]);
            let _ = writeln!(
                out,
                "<tr><th>{}</th><td>{a}</td><td>{b}</td><td>{}</td></tr>",
                status.name(),
                signed_count(b as i64 - a as i64)
            );
        }
        out.push_str("</tbody></table>\n</section>\n");
    }

    fn stages(&self, out: &mut String) {
        let (old, new) = (&self.baseline.stages, &self.candidate.stages);
        if old.is_empty() && new.is_empty() {
            return;
        }
        out.push_str(
            "<section><h2>Stage mix</h2>\n<p>Shipped orders by the stage whose nodes shipped them.</p>\n\
             <table class=\"numbers\"><thead><tr><th>stage</th><th>baseline</th><th>candidate</th>\
             <th>change</th></tr></thead><tbody>\n",
        );
        let names: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
        for name in names {
            let (a, b) = (
                old.get(name).copied().unwrap_or(0),
                new.get(name).copied().unwrap_or(0),
            );
            let _ = writeln!(
                out,
                "<tr><th>{}</th><td>{a}</td><td>{b}</td><td>{}</td></tr>",
                escape(name),
                signed_count(b as i64 - a as i64)
            );
        }
        out.push_str("</tbody></table>\n</section>\n");
    }

    fn changed_orders(&self, out: &mut String, limit: usize) {
        out.push_str("<section><h2>Changed orders</h2>\n");
        if self.changed.is_empty() {
            out.push_str("<p>No order's decision changed.</p>\n</section>\n");
            return;
        }
        let shown = self.changed.len().min(limit);
        let _ = writeln!(
            out,
            "<p>{}. Each order links to both decisions, explained below the table.</p>",
            if shown < self.changed.len() {
                format!(
                    "The first {shown} of {} (<code>--limit</code> lists more)",
                    self.changed.len()
                )
            } else {
                format!("All {shown}")
            }
        );
        out.push_str(
            "<table class=\"orders\"><thead><tr><th>order</th><th>what changed</th><th>baseline</th>\
             <th>candidate</th><th>cost</th><th>shipments</th></tr></thead><tbody>\n",
        );
        for (i, changed) in self.changed.iter().take(limit).enumerate() {
            let changes: Vec<&str> = changed.changes.iter().map(|c| c.name()).collect();
            let _ = writeln!(
                out,
                "<tr><td><a href=\"#order-{i}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td>\
                 <td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                escape(changed.order.as_deref().unwrap_or("(no id)")),
                changes.join(", "),
                escape(&summary(&changed.baseline)),
                escape(&summary(&changed.candidate)),
                signed_money(changed.cost_delta),
                signed_count(changed.shipments_delta),
            );
        }
        out.push_str("</tbody></table>\n");
        for (i, changed) in self.changed.iter().take(limit).enumerate() {
            let changes: Vec<&str> = changed.changes.iter().map(|c| c.name()).collect();
            let (old, new) = match &changed.explanations {
                Some((old, new)) => (old.as_str(), new.as_str()),
                None => ("", ""),
            };
            let _ = writeln!(
                out,
                "<details id=\"order-{i}\"><summary>{}: {}</summary><div class=\"pair\">\
                 <div><h4>baseline</h4><pre>{}</pre></div>\
                 <div><h4>candidate</h4><pre>{}</pre></div></div></details>",
                escape(changed.order.as_deref().unwrap_or("(no id)")),
                changes.join(", "),
                escape(old),
                escape(new),
            );
        }
        // A link to an order opens its explanations.
        out.push_str(
            "<script>function openTarget() { const t = document.getElementById(location.hash.slice(1)); \
             if (t && t.tagName === 'DETAILS') t.open = true; }\n\
             addEventListener('hashchange', openTarget); openTarget();</script>\n</section>\n",
        );
    }

    /// A histogram of the changed orders' cost deltas.
    fn cost_delta_chart(&self, currency: &str) -> String {
        let deltas: Vec<f64> = self.changed.iter().map(|c| c.cost_delta).collect();
        if deltas.is_empty() {
            return "<p>No order changed.</p>\n".into();
        }
        let (mut lo, mut hi) = deltas
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &d| {
                (lo.min(d), hi.max(d))
            });
        if hi - lo < 1.0 {
            (lo, hi) = (lo - 0.5, hi + 0.5);
        }
        let bins = (deltas.len() as f64).sqrt().ceil().clamp(5.0, 30.0) as usize;
        let width = (hi - lo) / bins as f64;
        let mut counts = vec![0usize; bins];
        for d in &deltas {
            counts[(((d - lo) / width) as usize).min(bins - 1)] += 1;
        }
        let top = counts.iter().copied().max().unwrap_or(1) as f64 * 1.1;
        svg((860, 320), |root| {
            let mut chart = ChartBuilder::on(root)
                .margin(12)
                .x_label_area_size(50)
                .y_label_area_size(60)
                .build_cartesian_2d(lo..hi, 0.0..top)?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .light_line_style(WHITE)
                .label_style(LABELS)
                .axis_desc_style(LABELS)
                .x_desc(format!("candidate cost − baseline cost ({currency})"))
                .y_desc("orders")
                .y_label_formatter(&whole)
                .draw()?;
            chart.draw_series(counts.iter().enumerate().map(|(i, &count)| {
                let x0 = lo + i as f64 * width;
                let color = if x0 + width / 2.0 <= 0.0 {
                    RGBColor(22, 163, 74)
                } else {
                    RGBColor(220, 38, 38)
                };
                Rectangle::new([(x0, 0.0), (x0 + width, count as f64)], color.filled())
            }))?;
            Ok(())
        })
    }
}

/// Horizontal bars of the orders each node ships, baseline and candidate, for the
/// busiest nodes.
fn node_chart(old: &Totals, new: &Totals) -> String {
    let shipments = |totals: &Totals, node: &str| totals.nodes.get(node).map_or(0, |u| u.shipments);
    let mut nodes: Vec<&str> = (old.nodes.keys().chain(new.nodes.keys()))
        .map(String::as_str)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if nodes.is_empty() {
        return "<p>No order shipped.</p>\n".into();
    }
    // The busiest at the top: the chart counts rows from the bottom.
    nodes.sort_by_key(|n| std::cmp::Reverse(shipments(old, n).max(shipments(new, n))));
    nodes.truncate(TOP_NODES);
    nodes.reverse();
    let most = nodes
        .iter()
        .map(|n| shipments(old, n).max(shipments(new, n)))
        .max()
        .unwrap_or(1) as f64;
    let height = 90 + 30 * nodes.len() as u32;
    let mut svg_text = svg((860, height), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(140)
            .build_cartesian_2d(0.0..most * 1.15, (0..nodes.len() as i32).into_segmented())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(nodes.len())
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => nodes.get(*i as usize).copied().unwrap_or("").into(),
                _ => String::new(),
            })
            .light_line_style(WHITE)
            .label_style(LABELS)
            .axis_desc_style(LABELS)
            .x_desc("orders shipped")
            .x_label_formatter(&whole)
            .draw()?;
        for (totals, color, name, lower) in [
            (new, CANDIDATE, "candidate", false),
            (old, BASELINE, "baseline", true),
        ] {
            chart
                .draw_series(nodes.iter().enumerate().map(|(i, node)| {
                    let i = i as i32;
                    // The baseline's bar in the lower half of the node's row.
                    let (from, to) = if lower {
                        (SegmentValue::Exact(i), SegmentValue::CenterOf(i))
                    } else {
                        (SegmentValue::CenterOf(i), SegmentValue::Exact(i + 1))
                    };
                    let count = shipments(totals, node) as f64;
                    Rectangle::new([(0.0, from), (count, to)], color.filled())
                }))?
                .label(name)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.3))
            .label_font(LABELS)
            .draw()?;
        Ok(())
    });
    let more = old.nodes.len().max(new.nodes.len());
    if more > TOP_NODES {
        let _ = writeln!(
            svg_text,
            "<p>The {TOP_NODES} busiest of {more} nodes that ship.</p>"
        );
    }
    svg_text
}

/// The nodes at their coordinates, sized by shipments: baseline and candidate side by
/// side, on one scale.
fn map(places: &[Place], old: &Totals, new: &Totals) -> String {
    if places.is_empty() {
        return "<p>The network has no nodes.</p>\n".into();
    }
    let (mut west, mut east, mut south, mut north) = places.iter().fold(
        (
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ),
        |(w, e, s, n), p| (w.min(p.lon), e.max(p.lon), s.min(p.lat), n.max(p.lat)),
    );
    let pad_lon = ((east - west) * 0.08).max(1.0);
    let pad_lat = ((north - south) * 0.08).max(1.0);
    (west, east, south, north) = (
        west - pad_lon,
        east + pad_lon,
        south - pad_lat,
        north + pad_lat,
    );
    let most = (old.nodes.values().chain(new.nodes.values()))
        .map(|u| u.shipments)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    svg((900, 380), |root| {
        let sides = [(old, "baseline", BASELINE), (new, "candidate", CANDIDATE)];
        for (area, (totals, name, color)) in root.split_evenly((1, 2)).iter().zip(sides) {
            let mut chart = ChartBuilder::on(area)
                .caption(name, ("sans-serif", 18))
                .margin(10)
                .x_label_area_size(45)
                .y_label_area_size(55)
                .build_cartesian_2d(west..east, south..north)?;
            chart
                .configure_mesh()
                .x_desc("longitude")
                .y_desc("latitude")
                .x_label_formatter(&|x| format!("{x:.0}°"))
                .y_label_formatter(&|y| format!("{y:.0}°"))
                .light_line_style(WHITE)
                .label_style(LABELS)
                .axis_desc_style(LABELS)
                .draw()?;
            let shipments = |p: &Place| totals.nodes.get(&p.id).map_or(0, |u| u.shipments);
            chart.draw_series(
                places
                    .iter()
                    .filter(|p| shipments(p) == 0)
                    .map(|p| Circle::new((p.lon, p.lat), 3, BLACK.mix(0.35))),
            )?;
            let mut busy: Vec<&Place> = places.iter().filter(|p| shipments(p) > 0).collect();
            // The largest first, so that smaller circles stay visible on top of them.
            busy.sort_by_key(|p| std::cmp::Reverse(shipments(p)));
            chart.draw_series(busy.iter().map(|p| {
                let radius = 3.0 + 17.0 * (shipments(p) as f64 / most).sqrt();
                Circle::new((p.lon, p.lat), radius as i32, color.mix(0.6).filled())
            }))?;
            chart.draw_series(busy.iter().take(NAMED_ON_MAP).map(|p| {
                EmptyElement::at((p.lon, p.lat))
                    + Text::new(
                        format!("{} ({})", p.id, shipments(p)),
                        (6, -14),
                        ("sans-serif", 13),
                    )
            }))?;
        }
        Ok(())
    })
}

/// A chart drawn by `draw` on a white canvas of `size` pixels, as an SVG element; a
/// chart that cannot be drawn becomes a line that says so.
fn svg(size: (u32, u32), draw: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> Drawn) -> String {
    let mut out = String::new();
    let drawn = {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        root.fill(&WHITE)
            .map_err(Box::<dyn Error>::from)
            .and_then(|()| draw(&root))
            .and_then(|()| root.present().map_err(Box::<dyn Error>::from))
    };
    match drawn {
        Ok(()) => out + "\n",
        Err(error) => format!(
            "<p class=\"error\">This chart could not be drawn: {}</p>\n",
            escape(&error.to_string())
        ),
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 0 auto;
       max-width: 1100px; padding: 1.5rem; color: #0f172a; background: #f8fafc; }
h1 { font-size: 1.5rem; margin-bottom: 0.25rem; }
h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #cbd5e1; }
header p, footer { color: #475569; }
section { margin-bottom: 1rem; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(190px, 1fr)); gap: 0.75rem; }
.card { background: white; border: 1px solid #e2e8f0; border-radius: 8px; padding: 0.75rem 1rem; }
.card .label { color: #475569; font-size: 0.85rem; }
.card .value { font-size: 1.3rem; font-weight: 600; margin: 0.2rem 0; }
.card .detail { color: #475569; font-size: 0.85rem; }
table { border-collapse: collapse; background: white; }
th, td { border: 1px solid #e2e8f0; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }
table.numbers td, td.n { text-align: right; font-variant-numeric: tabular-nums; }
table.orders { width: 100%; font-size: 0.9rem; }
svg { max-width: 100%; height: auto; background: white; border: 1px solid #e2e8f0; border-radius: 8px; }
details { background: white; border: 1px solid #e2e8f0; border-radius: 8px; padding: 0.5rem 1rem; margin: 0.5rem 0; }
details:target { border-color: #2563eb; box-shadow: 0 0 0 2px #bfdbfe; }
summary { cursor: pointer; font-weight: 600; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
pre { white-space: pre-wrap; font-size: 0.8rem; }
.error { color: #b91c1c; }
";
