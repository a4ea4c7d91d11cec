//! The canonical layout of Allot files. Declarations are printed from the syntax
//! tree; comments come from the lossless token stream and keep their place: above the
//! declaration, entry or item they precede, or after it on its line. An item with a
//! comment inside it is kept as written. A file that does not parse is not touched.
//!
//! Layout: two-space indentation; one blank line between declarations; blank lines
//! between items kept (at most one); `because` clauses aligned within a group of
//! consecutive rules, cost names and bases within a group of costs, `=>` within a
//! table; conditions longer than the line broken before `and` / `or`.

use allot_syntax::ast::*;
use allot_syntax::lexer::{Token, TokenKind};
use std::fmt;

/// Lines longer than this get their conditions broken at `and` / `or`.
pub const MAX_WIDTH: usize = 100;
const INDENT: &str = "  ";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatError {
    /// The file has syntax errors (how many); it is left as it is.
    SyntaxErrors(usize),
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatError::SyntaxErrors(n) => write!(
                f,
                "not formatted: the file has {n} syntax error{} (run `allot check` to see them)",
                if *n == 1 { "" } else { "s" }
            ),
        }
    }
}

impl std::error::Error for FormatError {}

/// The file in canonical layout.
pub fn format(source: &str) -> Result<String, FormatError> {
    let parsed = allot_syntax::parse(Default::default(), source);
    let errors = parsed.diagnostics.iter().filter(|d| d.is_error()).count();
    if errors > 0 {
        return Err(FormatError::SyntaxErrors(errors));
    }
    let comments: Vec<Token> = parsed
        .tokens
        .iter()
        .copied()
        .filter(|t| matches!(t.kind, TokenKind::Comment | TokenKind::DocComment))
        .collect();
    let mut printer = Printer {
        source,
        comments,
        next_comment: 0,
        out: String::with_capacity(source.len() + source.len() / 8),
    };
    for (i, decl) in parsed.file.decls.iter().enumerate() {
        if i > 0 {
            printer.out.push('\n');
        }
        printer.leading_comments(decl.span.start, "", i > 0);
        printer.declaration(decl);
    }
    printer.leading_comments(source.len() as u32, "", true);
    Ok(printer.out)
}

struct Printer<'s> {
    source: &'s str,
    comments: Vec<Token>,
    next_comment: usize,
    out: String,
}

/// What an item prints as, before alignment within its group.
struct Line {
    start: u32,
    end: u32,
    /// Printed as-is (an item with a comment inside, a multi-line item).
    fixed: Option<String>,
    kind: LineKind,
}

enum LineKind {
    /// `head` then, aligned within the group, `because "…"`.
    Rule {
        head: String,
        because: Option<String>,
    },
    /// `cost NAME per BASIS = REST`, names and bases aligned within the group.
    Cost {
        name: String,
        basis: String,
        rest: String,
    },
    /// Anything else, one line.
    Plain(String),
    /// `objective { … }`.
    Block(Vec<String>),
}

impl<'s> Printer<'s> {
    fn text(&self, start: u32, end: u32) -> &'s str {
        &self.source[start as usize..end as usize]
    }

    fn has_comment_inside(&self, start: u32, end: u32) -> bool {
        // Comments are in order: only those before `end` can be inside.
        self.comments[self.next_comment..]
            .iter()
            .take_while(|c| c.start < end)
            .any(|c| c.start > start)
    }

    /// Prints the comments before `offset`, each on its own line.
    fn leading_comments(&mut self, offset: u32, indent: &str, blank_before_first: bool) {
        let mut first = true;
        while let Some(comment) = self.comments.get(self.next_comment).copied() {
            if comment.start >= offset {
                break;
            }
            if first
                && blank_before_first
                && !self.out.ends_with("\n\n")
                && !self.out.is_empty()
                && self.blank_line_before(comment.start)
            {
                self.out.push('\n');
            }
            first = false;
            self.out.push_str(indent);
            self.out.push_str(comment.text(self.source).trim_end());
            self.out.push('\n');
            self.next_comment += 1;
            // A blank line between a comment and what follows stays.
            if self.blank_line_after(comment.end, offset) {
                self.out.push('\n');
            }
        }
    }

    fn blank_line_before(&self, offset: u32) -> bool {
        let before = &self.source[..offset as usize];
        let trimmed = before.trim_end_matches([' ', '\t']);
        trimmed.ends_with("\n\n") || trimmed.ends_with("\n\r\n")
    }

    /// Whether a blank line separates `end` from the next comment (or `limit`).
    fn blank_line_after(&self, end: u32, limit: u32) -> bool {
        let next = self
            .comments
            .get(self.next_comment)
            .map_or(limit, |c| c.start.min(limit));
        self.text(end, next.max(end)).matches('\n').count() >= 2
    }

    /// The comment right after `end` on the same line, if any (consumed).
    fn trailing_comment(&mut self, end: u32) -> Option<String> {
        let comment = *self.comments.get(self.next_comment)?;
        let between = self.text(end, comment.start);
        if between.contains('\n') || !between.trim().is_empty() {
            return None;
        }
        self.next_comment += 1;
        Some(comment.text(self.source).trim_end().to_string())
    }

    fn declaration(&mut self, decl: &Decl) {
        match &decl.kind {
            DeclKind::Const(c) => {
                let ty =
                    c.ty.as_ref()
                        .map(|t| format!(": {}", type_expr(t)))
                        .unwrap_or_default();
                let line = format!("const {}{ty} = {}", c.name.name, self.expr(&c.value));
                self.simple_declaration(decl, line);
            }
            DeclKind::Schema(schema) => self.schema(decl, schema),
            DeclKind::Table(table) => self.table(decl, table),
            DeclKind::Policy(policy) => self.policy(decl, policy),
        }
    }

    fn simple_declaration(&mut self, decl: &Decl, line: String) {
        if self.has_comment_inside(decl.span.start, decl.span.end) {
            self.verbatim(decl.span.start, decl.span.end, "");
        } else {
            self.out.push_str(&line);
        }
        self.end_line(decl.span.end);
    }

    fn end_line(&mut self, end: u32) {
        if let Some(comment) = self.trailing_comment(end) {
            self.out.push_str("  ");
            self.out.push_str(&comment);
        }
        self.out.push('\n');
    }

    /// The original text of a piece, its first line at `indent` and the others shifted
    /// by as much as the first.
    fn verbatim(&mut self, start: u32, end: u32, indent: &str) {
        let text = self.text(start, end);
        let line_start = self.source[..start as usize]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let original_indent = start as usize - line_start;
        for (i, line) in text.lines().enumerate() {
            if i > 0 {
                self.out.push('\n');
                let strip = line.len() - line.trim_start().len();
                let keep = strip.saturating_sub(original_indent);
                self.out.push_str(indent);
                self.out.push_str(&" ".repeat(keep));
                self.out.push_str(line.trim());
            } else {
                self.out.push_str(indent);
                self.out.push_str(line.trim_end());
            }
        }
        // Comments inside were printed with the text.
        while self
            .comments
            .get(self.next_comment)
            .is_some_and(|c| c.start < end)
        {
            self.next_comment += 1;
        }
    }

    fn schema(&mut self, decl: &Decl, schema: &Schema) {
        self.out.push_str("schema {");
        self.end_line_after_open(decl);
        let mut entries: Vec<(u32, u32, String)> = schema
            .enums
            .iter()
            .map(|e| {
                let variants: Vec<&str> = e.variants.iter().map(|v| v.name.as_str()).collect();
                (
                    e.span.start,
                    e.span.end,
                    format!("enum {} {{ {} }}", e.name.name, variants.join(", ")),
                )
            })
            .chain(schema.attrs.iter().map(|a| {
                let line = format!(
                    "{}.{}: {} = {}",
                    a.owner.name,
                    a.name.name,
                    type_expr(&a.ty),
                    self.expr(&a.default)
                );
                (a.span.start, a.span.end, line)
            }))
            .collect();
        entries.sort_by_key(|e| e.0);
        let lines = entries
            .into_iter()
            .map(|(start, end, text)| Line {
                start,
                end,
                fixed: None,
                kind: LineKind::Plain(text),
            })
            .collect();
        self.block_body(lines, decl.span.end);
    }

    /// After `{`: a comment on the same line stays there.
    fn end_line_after_open(&mut self, decl: &Decl) {
        let open = self
            .text(decl.span.start, decl.span.end)
            .find('{')
            .map_or(decl.span.start, |i| decl.span.start + i as u32 + 1);
        self.end_line(open);
    }

    fn table(&mut self, decl: &Decl, table: &Table) {
        let params: Vec<String> = table
            .params
            .iter()
            .map(|p| format!("{}: {}", p.name.name, type_expr(&p.ty)))
            .collect();
        self.out.push_str(&format!(
            "table {}({}) -> {} {{",
            table.name.name,
            params.join(", "),
            type_expr(&table.result)
        ));
        self.end_line_after_open(decl);
        let rows: Vec<(String, String)> = table
            .rows
            .iter()
            .map(|row| {
                let condition = row
                    .condition
                    .as_ref()
                    .map_or("_".to_string(), |c| self.expr(c));
                (condition, self.expr(&row.value))
            })
            .collect();
        let width = rows
            .iter()
            .map(|(c, _)| c.chars().count())
            .max()
            .unwrap_or(0);
        let lines = table
            .rows
            .iter()
            .zip(rows)
            .map(|(row, (condition, value))| Line {
                start: row.span.start,
                end: row.span.end,
                fixed: None,
                kind: LineKind::Plain(format!("{condition:<width$} => {value}")),
            })
            .collect();
        self.block_body(lines, decl.span.end);
    }

    fn policy(&mut self, decl: &Decl, policy: &Policy) {
        let name = self.text(policy.name.span.start, policy.name.span.end);
        let keyword = match (policy.kind, policy.domain) {
            (PolicyKind::Policy, Domain::Returns) => "returns",
            (PolicyKind::Compliance, Domain::Returns) => "compliance returns",
            (kind, Domain::Orders) => kind.keyword(),
        };
        self.out.push_str(&format!("{keyword} {name} {{"));
        self.end_line_after_open(decl);
        let lines = policy.items.iter().map(|item| self.item(item)).collect();
        self.block_body(lines, decl.span.end);
    }

    fn item(&self, item: &Item) -> Line {
        let condition = |keyword: &str, c: &Expr| format!("{keyword} when {}", self.expr(c));
        let because = |b: &Option<StrLit>| {
            b.as_ref()
                .map(|s| self.text(s.span.start, s.span.end).to_string())
        };
        let when = |c: &Option<Expr>| {
            c.as_ref()
                .map(|c| format!(" when {}", self.expr(c)))
                .unwrap_or_default()
        };
        let kind = match &item.kind {
            ItemKind::Applies(c) => LineKind::Plain(format!("applies when {}", self.expr(c))),
            ItemKind::Priority(n) => {
                LineKind::Plain(format!("priority {}", self.text(n.span.start, n.span.end)))
            }
            ItemKind::Let { name, value } => {
                LineKind::Plain(format!("let {} = {}", name.name, self.expr(value)))
            }
            ItemKind::Exclude {
                condition: c,
                because: b,
            } => LineKind::Rule {
                head: condition("exclude", c),
                because: because(b),
            },
            ItemKind::Reject {
                condition: c,
                because: b,
            } => LineKind::Rule {
                head: condition("reject", c),
                because: because(b),
            },
            ItemKind::Hold {
                condition: c,
                because: b,
            } => LineKind::Rule {
                head: condition("hold", c),
                because: because(b),
            },
            ItemKind::Keep {
                condition: c,
                because: b,
            } => LineKind::Rule {
                head: condition("refund without return", c),
                because: because(b),
            },
            ItemKind::Dispose {
                condition: c,
                because: b,
            } => LineKind::Rule {
                head: condition("dispose", c),
                because: because(b),
            },
            ItemKind::SafetyStock { amount, condition } => LineKind::Plain(format!(
                "safety stock {}{}",
                self.expr(amount),
                when(condition)
            )),
            ItemKind::Cost {
                name,
                basis,
                value,
                condition,
            } => LineKind::Cost {
                name: name.name.clone(),
                basis: basis.keyword().to_string(),
                rest: format!("{}{}", self.expr(value), when(condition)),
            },
            ItemKind::Objective(criteria) => LineKind::Block(
                criteria
                    .iter()
                    .map(|c| {
                        let direction = match c.direction {
                            Direction::Minimize => "minimize",
                            Direction::Maximize => "maximize",
                        };
                        let measure = match &c.measure {
                            Measure::Shipments => "shipments".to_string(),
                            Measure::Cost => "cost".to_string(),
                            Measure::Aggregate(Aggregator::Max, e) => {
                                format!("max({})", self.expr(e))
                            }
                            Measure::Aggregate(Aggregator::Sum, e) => {
                                format!("sum({})", self.expr(e))
                            }
                        };
                        format!("{direction} {measure}")
                    })
                    .collect(),
            ),
            ItemKind::MaxShipments(n) => LineKind::Plain(format!(
                "max shipments {}",
                self.text(n.span.start, n.span.end)
            )),
            ItemKind::ShipComplete => LineKind::Plain("ship complete".into()),
            ItemKind::Transit(value) => LineKind::Plain(format!("transit = {}", self.expr(value))),
            ItemKind::ShipWithin { days, because: b } => LineKind::Rule {
                head: format!(
                    "ship within {} business {}",
                    days.value,
                    day_word(days.value)
                ),
                because: because(b),
            },
            ItemKind::DeliverWithin { days, because: b } => LineKind::Rule {
                head: format!("deliver within {} {}", days.value, day_word(days.value)),
                because: because(b),
            },
            ItemKind::DeliverBy { date, because: b } => LineKind::Rule {
                head: format!("deliver by {}", self.expr(date)),
                because: because(b),
            },
            ItemKind::NoLineSplit => LineKind::Plain("no line split".into()),
            ItemKind::Stage { name, condition } => LineKind::Plain(format!(
                "stage {}{}",
                self.text(name.span.start, name.span.end),
                when(condition)
            )),
            ItemKind::OnShortage { action, because: b } => LineKind::Rule {
                head: format!("on shortage {}", action.keyword()),
                because: because(b),
            },
        };
        Line {
            start: item.span.start,
            end: item.span.end,
            fixed: None,
            kind,
        }
    }

    /// The entries of a `{ … }` block, one per line, groups aligned, then `}`.
    fn block_body(&mut self, mut lines: Vec<Line>, block_end: u32) {
        for line in &mut lines {
            if self.has_comment_inside(line.start, line.end) {
                line.fixed = Some(String::new());
            }
        }
        // Groups: runs of lines with no blank line (or comment) between them.
        let mut group_start = 0;
        for i in 0..lines.len() {
            let breaks_group = i + 1 == lines.len() || {
                let between = self.text(lines[i].end, lines[i + 1].start);
                // A comment after the item on its line belongs to it; one on a line of its own parts groups.
                let after_line = between.split_once('\n').map_or("", |(_, rest)| rest);
                between.matches('\n').count() >= 2 || after_line.contains("//")
            };
            if breaks_group {
                self.align(&mut lines[group_start..=i]);
                group_start = i + 1;
            }
        }
        let mut previous_end: Option<u32> = None;
        for line in lines {
            let blank = previous_end.is_some_and(|end| {
                let until = self
                    .comments
                    .get(self.next_comment)
                    .map_or(line.start, |c| c.start.min(line.start));
                self.text(end, until.max(end)).matches('\n').count() >= 2
            });
            if blank {
                self.out.push('\n');
            }
            self.leading_comments(line.start, INDENT, false);
            match (&line.fixed, line.kind) {
                (Some(_), _) => self.verbatim(line.start, line.end, INDENT),
                (None, LineKind::Block(criteria)) => {
                    self.out.push_str(INDENT);
                    self.out.push_str("objective {\n");
                    for criterion in criteria {
                        self.out.push_str(INDENT);
                        self.out.push_str(INDENT);
                        self.out.push_str(&criterion);
                        self.out.push('\n');
                    }
                    self.out.push_str(INDENT);
                    self.out.push('}');
                }
                (None, LineKind::Plain(text)) => {
                    self.out.push_str(INDENT);
                    self.out.push_str(&text);
                }
                (None, _) => unreachable!("aligned lines are plain"),
            }
            self.end_line(line.end);
            previous_end = Some(line.end);
        }
        self.leading_comments(block_end, INDENT, true);
        self.out.push('}');
        self.end_line(block_end);
    }

    /// Turns a group's rules and costs into plain lines: aligned when every aligned
    /// line fits the width; a line too long on its own is broken and not aligned.
    fn align(&self, group: &mut [Line]) {
        let fits = |text: &str| text.chars().count() + INDENT.len() <= MAX_WIDTH;
        let single = |l: &Line| match &l.kind {
            LineKind::Rule {
                head,
                because: Some(b),
            } => Some(format!("{head} because {b}")),
            LineKind::Cost { name, basis, rest } => {
                Some(format!("cost {name} per {basis} = {rest}"))
            }
            _ => None,
        };
        let mut aligned: Vec<bool> = group
            .iter()
            .map(|l| l.fixed.is_none() && single(l).is_some_and(|t| fits(&t)))
            .collect();
        // Padding grows every aligned line to the longest: leave out the longest ones
        // until the padded lines fit.
        let (head_width, name_width, basis_width) = loop {
            let width = |f: &dyn Fn(&Line) -> Option<usize>| {
                group
                    .iter()
                    .zip(&aligned)
                    .filter(|(_, a)| **a)
                    .filter_map(|(l, _)| f(l))
                    .max()
                    .unwrap_or(0)
            };
            let head_width = width(&|l| match &l.kind {
                LineKind::Rule {
                    head,
                    because: Some(_),
                } => Some(head.chars().count()),
                _ => None,
            });
            let name_width = width(&|l| match &l.kind {
                LineKind::Cost { name, .. } => Some(name.chars().count()),
                _ => None,
            });
            let basis_width = width(&|l| match &l.kind {
                LineKind::Cost { basis, .. } => Some(basis.len()),
                _ => None,
            });
            let padded_len = |l: &Line| match &l.kind {
                LineKind::Rule {
                    because: Some(b), ..
                } => head_width + 9 + b.chars().count(),
                LineKind::Cost { rest, .. } => {
                    5 + name_width + 5 + basis_width + 3 + rest.chars().count()
                }
                _ => 0,
            };
            let overflowing = group
                .iter()
                .zip(&aligned)
                .enumerate()
                .filter(|(_, (l, a))| **a && padded_len(l) + INDENT.len() > MAX_WIDTH)
                .map(|(i, _)| i)
                .next();
            let Some(_) = overflowing else {
                break (head_width, name_width, basis_width);
            };
            // Drop the line that sets the widest column of its kind.
            let widest = group
                .iter()
                .zip(&aligned)
                .enumerate()
                .filter(|(_, (_, a))| **a)
                .max_by_key(|(i, (l, _))| {
                    let w = match &l.kind {
                        LineKind::Rule { head, .. } => head.chars().count(),
                        LineKind::Cost { name, rest, .. } => {
                            name.chars().count() + rest.chars().count()
                        }
                        _ => 0,
                    };
                    (w, std::cmp::Reverse(*i))
                })
                .map(|(i, _)| i)
                .expect("an aligned line overflows");
            aligned[widest] = false;
        };
        for (line, aligned) in group.iter_mut().zip(aligned) {
            let padded = match &line.kind {
                LineKind::Rule {
                    head,
                    because: Some(b),
                } if aligned => format!("{head:<head_width$} because {b}"),
                LineKind::Cost { name, basis, rest } if aligned => {
                    format!("cost {name:<name_width$} per {basis:<basis_width$} = {rest}")
                }
                LineKind::Rule {
                    head,
                    because: None,
                } => head.clone(),
                LineKind::Rule { .. } | LineKind::Cost { .. } => single(line).unwrap_or_default(),
                _ => continue,
            };
            // Alignment never pushes a line past the width.
            let text = if fits(&padded) {
                padded
            } else {
                single(line).unwrap_or(padded)
            };
            line.kind = LineKind::Plain(break_long(&text));
        }
    }

    fn expr(&self, e: &Expr) -> String {
        match &e.kind {
            ExprKind::Bool(b) => b.to_string(),
            ExprKind::Int(_) | ExprKind::Number(_) | ExprKind::Str(_) => {
                self.text(e.span.start, e.span.end).to_string()
            }
            ExprKind::Quantity { unit, .. } => {
                let number = self.text(e.span.start, unit.numerator.span.start).trim();
                let per = unit
                    .denominator
                    .as_ref()
                    .map(|d| format!("/{}", d.name))
                    .unwrap_or_default();
                if unit.numerator.name == "%" {
                    format!("{number}%")
                } else {
                    format!("{number} {}{per}", unit.numerator.name)
                }
            }
            ExprKind::List(items) => format!(
                "[{}]",
                items
                    .iter()
                    .map(|i| self.expr(i))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            ExprKind::Name(ident) => ident.name.clone(),
            ExprKind::Field(base, field) => format!("{}.{}", self.expr(base), field.name),
            ExprKind::Call(callee, args) => {
                format!(
                    "{}({})",
                    callee.name,
                    args.iter()
                        .map(|a| self.expr(a))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
            ExprKind::Unary(UnaryOp::Not, operand) => format!("not {}", self.expr(operand)),
            ExprKind::Unary(UnaryOp::Neg, operand) => format!("-{}", self.expr(operand)),
            ExprKind::Binary(op, l, r) => {
                format!("{} {} {}", self.expr(l), op.symbol(), self.expr(r))
            }
            ExprKind::If(c, a, b) => format!(
                "if {} then {} else {}",
                self.expr(c),
                self.expr(a),
                self.expr(b)
            ),
            ExprKind::Paren(inner) => format!("({})", self.expr(inner)),
        }
    }
}

fn type_expr(t: &TypeExpr) -> String {
    match t {
        TypeExpr::Named(ident) => ident.name.clone(),
        TypeExpr::Set(element, _) => format!("set<{}>", type_expr(element)),
    }
}

/// A line longer than [`MAX_WIDTH`] is broken before its top-level ` and ` / ` or `
/// (outside strings, brackets and parentheses), continuation lines indented by four.
fn break_long(text: &str) -> String {
    if text.chars().count() + INDENT.len() <= MAX_WIDTH {
        return text.to_string();
    }
    let mut out = String::new();
    let mut depth = 0i32;
    let mut in_string = false;
    let mut escaped = false;
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            i += 1;
            continue;
        }
        match c {
            '"' => in_string = true,
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            _ => {}
        }
        let rest: String = chars[i..].iter().take(5).collect();
        if depth == 0 && (rest.starts_with(" and ") || rest.starts_with(" or ")) {
            out.push('\n');
            out.push_str(INDENT);
            out.push_str("    ");
            i += 1;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// "day" after 1, "days" otherwise: `ship within 1 business day`.
fn day_word(n: i64) -> &'static str {
    if n == 1 { "day" } else { "days" }
}
