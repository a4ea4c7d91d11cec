//! Editor features, driven by fixtures with a cursor marker (`$0`) and snapshot-tested
//! as annotated source. A fixture may hold several files: `//- name.allot` starts one.

use allot_db::{Database, Ruleset};
use allot_diagnostics::{FileId, Span};
use allot_ide::{Ide, NodeDirectory};

const SCHEMA: &str = r#"//- schema.allot
schema {
  /// Merchandising category.
  enum Category { apparel, furniture }
  /// Too big for a store's back room.
  item.oversized: bool = false
  item.category: Category = apparel
  /// The big-box partner, "" for our own channels.
  order.retailer: string = ""
}

/// How far a store may ship.
const store_radius = 300 km

/// Zone rate by distance.
table ground_rate(d: distance) -> money {
  d < 150 km => 6.50 USD
  _          => 9.00 USD
}
"#;

struct Fixture {
    db: Database,
    ruleset: Ruleset,
    file: FileId,
    offset: u32,
    /// From a `//- network.json` part, as the editor reads a ruleset's network.
    network: Option<NodeDirectory>,
}

impl Fixture {
    fn new(text: &str) -> Fixture {
        let mut files = Vec::new();
        let mut cursor = None;
        let mut network = None;
        for chunk in text.split("//- ").filter(|c| !c.trim().is_empty()) {
            let (name, body) = chunk.split_once('\n').expect("a file name line");
            if name.trim() == "network.json" {
                network = NodeDirectory::from_json(body);
                continue;
            }
            let mut body = body.to_string();
            if let Some(at) = body.find("$0") {
                body.replace_range(at..at + 2, "");
                cursor = Some((files.len(), at as u32));
            }
            files.push((name.trim().to_string(), body));
        }
        let (file, offset) = cursor.expect("a $0 cursor");
        let mut db = Database::default();
        let ruleset = db.ruleset(files);
        Fixture {
            db,
            ruleset,
            file: FileId(file as u32),
            offset,
            network,
        }
    }

    fn ide(&self) -> Ide<'_> {
        Ide {
            db: &self.db,
            ruleset: self.ruleset,
            network: self.network.as_ref(),
        }
    }

    /// The files with each span underlined and labelled below its line.
    fn annotate(&self, marks: &[(Span, String)]) -> String {
        let ide = self.ide();
        let mut out = String::new();
        for (i, file) in ide.files().iter().enumerate() {
            let id = FileId(i as u32);
            let mine: Vec<&(Span, String)> = marks.iter().filter(|(s, _)| s.file == id).collect();
            if mine.is_empty() {
                continue;
            }
            out.push_str(&format!("--- {}\n", file.path(&self.db)));
            let text = ide.text(id);
            let mut line_start = 0usize;
            for line in text.split_inclusive('\n') {
                let line_end = line_start + line.len();
                out.push_str(line.trim_end_matches('\n'));
                out.push('\n');
                for (span, label) in &mine {
                    let (s, e) = (span.start as usize, span.end as usize);
                    if s >= line_start && s < line_end.max(line_start + 1) {
                        let col = text[line_start..s].chars().count();
                        let width = text[s..e.min(line_end)].chars().count().max(1);
                        out.push_str(&format!(
                            "{}{} {label}\n",
                            " ".repeat(col),
                            "^".repeat(width)
                        ));
                    }
                }
                line_start = line_end;
            }
        }
        out
    }
}

fn cursor_mark(f: &Fixture) -> (Span, String) {
    (
        Span {
            file: f.file,
            start: f.offset,
            end: f.offset,
        },
        "cursor".into(),
    )
}

fn hover(text: &str) -> String {
    let f = Fixture::new(text);
    match f.ide().hover(f.file, f.offset) {
        Some(h) => f.annotate(&[(h.span, "hover".into())]) + "\n" + &h.text + "\n",
        None => "no hover".into(),
    }
}

#[test]
fn hover_shows_types_units_and_docs() {
    let policy = |body: &str| {
        format!(
            "{SCHEMA}//- policies.allot\npolicy \"p\" {{\n  let d = distance(node, order.ship_to)\n{body}\n}}\n"
        )
    };
    insta::assert_snapshot!(
        "hover-const",
        hover(&policy(
            "  exclude when node.kind == store and d > store_$0radius"
        ))
    );
    insta::assert_snapshot!("hover-let", hover(&policy("  exclude when $0d > 10 km")));
    insta::assert_snapshot!(
        "hover-custom-attribute",
        hover(&policy("  exclude when line.item.over$0sized"))
    );
    insta::assert_snapshot!(
        "hover-builtin-attribute",
        hover(&policy("  exclude when node.utili$0zation >= 90%"))
    );
    insta::assert_snapshot!(
        "hover-table",
        hover(&policy("  cost shipping per shipment = ground_r$0ate(d)"))
    );
    insta::assert_snapshot!(
        "hover-expression",
        hover(&policy(
            "  cost shipping per shipment = ground_rate(d) + 0.35 USD/kg * shipment.wei$0ght"
        ))
    );
    insta::assert_snapshot!(
        "hover-variant",
        hover(&policy("  exclude when line.item.category == furn$0iture"))
    );
    insta::assert_snapshot!(
        "hover-keyword",
        hover(&policy("  safe$0ty stock 2 when node.kind == store"))
    );
    insta::assert_snapshot!("hover-unit", hover(&policy("  exclude when d > 10 k$0m")));
    insta::assert_snapshot!(
        "hover-node",
        hover(&format!(
            "{}//- network.json\n{}",
            policy("  exclude when node.id == \"DC-$0NJ\""),
            r#"{ "nodes": [ { "id": "DC-NJ", "kind": "dc", "lat": 40.5, "lon": -74.4,
                 "timezone": "America/New_York", "cutoff": "14:00", "handling_days": 2 } ] }"#
        ))
    );
    insta::assert_snapshot!(
        "hover-refund-without-return",
        hover(&format!(
            "{SCHEMA}//- returns.allot\nreturns \"r\" {{\n  ref$0und without return when line.price < 10 USD\n}}\n"
        ))
    );
    insta::assert_snapshot!(
        "hover-ship-within",
        hover(&policy("  s$0hip within 2 business days"))
    );
    insta::assert_snapshot!(
        "hover-ship-date",
        hover(&policy(
            "  exclude when node.ship_d$0ate > order.promised_by"
        ))
    );
    insta::assert_snapshot!(
        "hover-function",
        hover(&policy(
            "  exclude when dist$0ance(node, order.ship_to) > 10 km"
        ))
    );
}

fn definition(text: &str) -> String {
    let f = Fixture::new(text);
    let mut marks = vec![cursor_mark(&f)];
    if let Some(span) = f.ide().definition(f.file, f.offset) {
        marks.push((span, "definition".into()));
    }
    f.annotate(&marks)
}

#[test]
fn definitions_across_files() {
    let text = format!(
        "{SCHEMA}//- policies.allot\npolicy \"p\" {{\n  let d = distance(node, order.ship_to)\n  exclude when node.kind == store and d > store_rad$0ius\n  exclude when $0d > 1 km\n}}\n"
    );
    insta::assert_snapshot!(
        "definition-const",
        definition(&text.replacen("$0d > 1", "d > 1", 1))
    );
    insta::assert_snapshot!(
        "definition-let",
        definition(&text.replacen("store_rad$0ius", "store_radius", 1))
    );
    let attr = format!(
        "{SCHEMA}//- p.allot\npolicy \"p\" {{\n  hold when order.retai$0ler == \"bigbox\"\n}}\n"
    );
    insta::assert_snapshot!("definition-attribute", definition(&attr));
}

#[test]
fn references_and_rename_cover_every_file() {
    let text = format!(
        "{SCHEMA}//- a.allot\npolicy \"a\" {{\n  let d = distance(node, order.ship_to)\n  exclude when d > store_radius\n  cost s per shipment = ground_rate(d)\n}}\n//- b.allot\ncompliance \"b\" {{\n  exclude when distance(node, order.ship_to) > store_$0radius + 1 km\n}}\n"
    );
    let f = Fixture::new(&text);
    let refs = f.ide().references(f.file, f.offset, true);
    let marks: Vec<(Span, String)> = refs.iter().map(|s| (*s, "reference".into())).collect();
    insta::assert_snapshot!("references-const", f.annotate(&marks));

    let edits = f.ide().rename(f.file, f.offset, "ship_radius").unwrap();
    let marks: Vec<(Span, String)> = edits.iter().map(|(s, t)| (*s, format!("→ {t}"))).collect();
    insta::assert_snapshot!("rename-const", f.annotate(&marks));
    assert!(f.ide().rename(f.file, f.offset, "when").is_err());
    assert!(f.ide().rename(f.file, f.offset, "9lives").is_err());

    let let_text = text
        .replacen("store_$0radius + 1 km", "store_radius + 1 km", 1)
        .replacen(
            "exclude when d > store_radius",
            "exclude when $0d > store_radius",
            1,
        );
    let f = Fixture::new(&let_text);
    let edits = f.ide().rename(f.file, f.offset, "dist").unwrap();
    let marks: Vec<(Span, String)> = edits.iter().map(|(s, t)| (*s, format!("→ {t}"))).collect();
    insta::assert_snapshot!("rename-let", f.annotate(&marks));
}

fn completion_labels(text: &str) -> String {
    let f = Fixture::new(text);
    allot_ide::completions(&f.ide(), f.file, f.offset)
        .iter()
        .map(|c| {
            let detail = c
                .detail
                .as_deref()
                .map(|d| format!("  ({d})"))
                .unwrap_or_default();
            format!("{:?} {}{detail}", c.kind, c.label)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn completion_knows_where_it_is() {
    let policy = |body: &str| {
        format!(
            "{SCHEMA}//- policies.allot\npolicy \"p\" {{\n  let d = distance(node, order.ship_to)\n{body}\n}}\n"
        )
    };
    insta::assert_snapshot!(
        "complete-order-attributes",
        completion_labels(&policy("  hold when order.$0"))
    );
    insta::assert_snapshot!(
        "complete-return-attributes",
        completion_labels(&format!(
            "{SCHEMA}//- returns.allot\nreturns \"r\" {{\n  hold when return.$0\n}}\n"
        ))
    );
    insta::assert_snapshot!(
        "complete-item-attributes",
        completion_labels(&policy("  exclude when line.item.ov$0"))
    );
    insta::assert_snapshot!(
        "complete-location-fields",
        completion_labels(&policy("  reject when order.ship_to.$0"))
    );
    insta::assert_snapshot!(
        "complete-enum-after-equals",
        completion_labels(&policy("  exclude when node.kind == $0"))
    );
    insta::assert_snapshot!(
        "complete-enum-in-list",
        completion_labels(&policy("  exclude when line.item.category in [apparel, $0"))
    );
    insta::assert_snapshot!(
        "complete-units",
        completion_labels(&policy("  exclude when d > 50 $0"))
    );
    insta::assert_snapshot!("complete-items", completion_labels(&policy("  $0")));
    insta::assert_snapshot!(
        "complete-expression-names",
        completion_labels(&policy("  exclude when $0"))
    );
    insta::assert_snapshot!(
        "complete-declarations",
        completion_labels(&format!("{SCHEMA}//- p.allot\n$0"))
    );
}

#[test]
fn quick_fixes_for_missing_units_and_misspelled_names() {
    let text = format!(
        "{SCHEMA}//- p.allot\npolicy \"p\" {{\n  exclude when distance(node, order.ship_to) < 50\n  exclude when distance(node, order.ship_to) > store_radus\n}}\n$0"
    );
    let f = Fixture::new(&text);
    let whole_file = Span {
        file: f.file,
        start: 0,
        end: f.offset,
    };
    let mut marks = Vec::new();
    for fix in f.ide().quick_fixes(whole_file) {
        for (s, t) in fix.edits {
            marks.push((s, format!("{} → {t}", fix.title)));
        }
    }
    insta::assert_snapshot!("quick-fixes", f.annotate(&marks));
    // Away from the diagnostics there is nothing to fix.
    let elsewhere = Span {
        file: f.file,
        start: 0,
        end: 3,
    };
    assert!(f.ide().quick_fixes(elsewhere).is_empty());
}

#[test]
fn semantic_tokens_work_on_text_that_does_not_parse() {
    let text = "/// Doc.\npolicy \"p\" {\n  exclude when node.kind == store and d > 50 km because \"far\"\n  cost x per unit = rate(d) +\n  exclude when {{{\n";
    let tokens = allot_ide::semantic_tokens(text);
    let mut f = Fixture::new(&format!("//- p.allot\n$0{text}"));
    f.offset = 0;
    let marks: Vec<(Span, String)> = tokens
        .iter()
        .map(|&(start, end, kind)| {
            (
                Span {
                    file: FileId(0),
                    start,
                    end,
                },
                format!("{kind:?}"),
            )
        })
        .collect();
    insta::assert_snapshot!("semantic-tokens", f.annotate(&marks));
}

#[test]
fn inlay_hints_give_each_let_its_type() {
    let text = format!(
        "{SCHEMA}//- p.allot\npolicy \"p\" {{\n  let d = distance(node, order.ship_to)\n  let rate = ground_rate(d)\n  let far = d > store_radius\n  exclude when far and rate > 1 USD\n}}\n$0"
    );
    let f = Fixture::new(&text);
    let marks: Vec<(Span, String)> = f
        .ide()
        .inlay_hints(f.file)
        .into_iter()
        .map(|(at, label)| {
            (
                Span {
                    file: f.file,
                    start: at,
                    end: at,
                },
                label,
            )
        })
        .collect();
    insta::assert_snapshot!("inlay-hints", f.annotate(&marks));
}

#[test]
fn outline_of_a_file() {
    let text = format!(
        "{SCHEMA}//- p.allot\n$0policy \"p\" {{\n  let d = distance(node, order.ship_to)\n  stage \"near\" when d < 50 km\n  stage \"far\"\n  cost ship per shipment = ground_rate(d)\n}}\n"
    );
    let f = Fixture::new(&text);
    let mut lines = Vec::new();
    for file in [FileId(0), f.file] {
        let mut stack: Vec<(usize, allot_ide::Outline)> = f
            .ide()
            .outline(file)
            .into_iter()
            .rev()
            .map(|o| (0, o))
            .collect();
        while let Some((depth, o)) = stack.pop() {
            lines.push(format!("{}{:?} {}", "  ".repeat(depth), o.kind, o.name));
            stack.extend(o.children.into_iter().rev().map(|c| (depth + 1, c)));
        }
    }
    insta::assert_snapshot!("outline", lines.join("\n"));
    let found: Vec<String> = f
        .ide()
        .workspace_symbols("RAD")
        .iter()
        .map(|o| o.name.clone())
        .collect();
    assert_eq!(found, vec!["store_radius".to_string()]);
}
