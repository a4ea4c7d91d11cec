//! Turns pest pairs into the syntax tree. The grammar guarantees the shape of every
//! pair, so the builder only reports what the grammar cannot: numbers out of range
//! and invalid string escapes.

use crate::ast::*;
use crate::grammar::Rule;
use allot_diagnostics::{Code, Diagnostic, FileId, Span};
use pest::iterators::{Pair, Pairs};
use rust_decimal::Decimal;
use std::str::FromStr;

pub(crate) struct Builder<'a> {
    pub file: FileId,
    /// The file's tokens, to end spans at their last token.
    pub tokens: &'a [crate::lexer::Token],
    /// Byte offset of the parsed piece within its file.
    pub base: usize,
    pub diagnostics: &'a mut Vec<Diagnostic>,
}

/// The only significant pairs of a rule: keywords are matched, not kept.
fn significant<'i>(pairs: Pairs<'i, Rule>) -> impl Iterator<Item = Pair<'i, Rule>> {
    pairs.filter(|p| !is_keyword(p.as_rule()))
}

fn is_keyword(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::kw_and
            | Rule::kw_applies
            | Rule::kw_backorder
            | Rule::kw_because
            | Rule::kw_business
            | Rule::kw_by
            | Rule::kw_cancel
            | Rule::kw_complete
            | Rule::kw_compliance
            | Rule::kw_const
            | Rule::kw_cost
            | Rule::kw_day
            | Rule::kw_days
            | Rule::kw_deliver
            | Rule::kw_dispose
            | Rule::kw_else
            | Rule::kw_enum
            | Rule::kw_exclude
            | Rule::kw_false
            | Rule::kw_hold
            | Rule::kw_if
            | Rule::kw_in
            | Rule::kw_let
            | Rule::kw_line
            | Rule::kw_max
            | Rule::kw_maximize
            | Rule::kw_minimize
            | Rule::kw_no
            | Rule::kw_not
            | Rule::kw_objective
            | Rule::kw_on
            | Rule::kw_or
            | Rule::kw_per
            | Rule::kw_policy
            | Rule::kw_priority
            | Rule::kw_refund
            | Rule::kw_reject
            | Rule::kw_return
            | Rule::kw_returns
            | Rule::kw_safety
            | Rule::kw_schema
            | Rule::kw_set
            | Rule::kw_ship
            | Rule::kw_shipment
            | Rule::kw_shipments
            | Rule::kw_shortage
            | Rule::kw_split
            | Rule::kw_stage
            | Rule::kw_stock
            | Rule::kw_sum
            | Rule::kw_table
            | Rule::kw_then
            | Rule::kw_transit
            | Rule::kw_true
            | Rule::kw_unit
            | Rule::kw_when
            | Rule::kw_within
            | Rule::kw_without
    )
}

impl Builder<'_> {
    /// The pair's span without the white space and comments pest lets a rule swallow
    /// at its end: a node ends with its last token.
    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let s = pair.as_span();
        let (start, mut end) = (self.base + s.start(), self.base + s.end());
        // The first token ending after `end`, then back over trivia.
        let mut i = self.tokens.partition_point(|t| (t.end as usize) <= end);
        while i > 0 && self.tokens[i - 1].is_trivia() && self.tokens[i - 1].start as usize >= start
        {
            i -= 1;
            end = self.tokens[i].start as usize;
        }
        Span::new(self.file, start..end)
    }

    fn ident(&self, pair: Pair<'_, Rule>) -> Ident {
        Ident {
            name: pair.as_str().to_string(),
            span: self.span(&pair),
        }
    }

    pub fn declaration(&mut self, pair: Pair<'_, Rule>) -> (DeclKind, Span) {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::schema_decl => DeclKind::Schema(self.schema(pair)),
            Rule::const_decl => DeclKind::Const(self.const_decl(pair)),
            Rule::table_decl => DeclKind::Table(self.table(pair)),
            Rule::policy_decl => DeclKind::Policy(self.policy(pair, PolicyKind::Policy)),
            Rule::compliance_decl => DeclKind::Policy(self.policy(pair, PolicyKind::Compliance)),
            Rule::returns_decl => DeclKind::Policy(self.policy(pair, PolicyKind::Policy)),
            rule => unreachable!("not a declaration: {rule:?}"),
        };
        (kind, span)
    }

    fn schema(&mut self, pair: Pair<'_, Rule>) -> Schema {
        let mut schema = Schema {
            enums: Vec::new(),
            attrs: Vec::new(),
        };
        for entry in significant(pair.into_inner()) {
            self.schema_entry(entry, &mut schema);
        }
        schema
    }

    pub fn schema_entry(&mut self, entry: Pair<'_, Rule>, schema: &mut Schema) {
        let span = self.span(&entry);
        match entry.as_rule() {
            Rule::enum_decl => {
                let mut idents = significant(entry.into_inner()).map(|p| self.ident(p));
                let name = idents.next().expect("enum name");
                schema.enums.push(EnumDecl {
                    name,
                    variants: idents.collect(),
                    span,
                    doc: None,
                });
            }
            Rule::attr_decl => {
                let mut inner = significant(entry.into_inner());
                let owner = self.ident(inner.next().expect("owner"));
                let name = self.ident(inner.next().expect("attribute"));
                let ty = self.type_expr(inner.next().expect("type"));
                let default = self.expr(inner.next().expect("default"));
                schema.attrs.push(AttrDecl {
                    owner,
                    name,
                    ty,
                    default,
                    span,
                    doc: None,
                });
            }
            rule => unreachable!("not a schema entry: {rule:?}"),
        }
    }

    fn type_expr(&mut self, pair: Pair<'_, Rule>) -> TypeExpr {
        let inner = pair.into_inner().next().expect("type");
        match inner.as_rule() {
            Rule::ident => TypeExpr::Named(self.ident(inner)),
            Rule::set_type => {
                let span = self.span(&inner);
                let element = significant(inner.into_inner())
                    .next()
                    .expect("element type");
                TypeExpr::Set(Box::new(self.type_expr(element)), span)
            }
            rule => unreachable!("not a type: {rule:?}"),
        }
    }

    fn const_decl(&mut self, pair: Pair<'_, Rule>) -> Const {
        let mut name = None;
        let mut ty = None;
        let mut value = None;
        for p in significant(pair.into_inner()) {
            match p.as_rule() {
                Rule::ident => name = Some(self.ident(p)),
                Rule::type_expr => ty = Some(self.type_expr(p)),
                Rule::expr => value = Some(self.expr(p)),
                _ => {}
            }
        }
        Const {
            name: name.expect("const name"),
            ty,
            value: value.expect("const value"),
        }
    }

    fn table(&mut self, pair: Pair<'_, Rule>) -> Table {
        let mut inner = significant(pair.into_inner());
        let name = self.ident(inner.next().expect("table name"));
        let params = inner
            .next()
            .expect("params")
            .into_inner()
            .map(|param| {
                let mut p = param.into_inner();
                let name = self.ident(p.next().expect("param name"));
                let ty = self.type_expr(p.next().expect("param type"));
                Param { name, ty }
            })
            .collect();
        let result = self.type_expr(inner.next().expect("result type"));
        let rows = inner
            .map(|row| {
                let span = self.span(&row);
                let mut r = row.into_inner();
                let head = r.next().expect("row condition");
                let condition = match head.as_rule() {
                    Rule::wildcard => None,
                    _ => Some(self.expr(head)),
                };
                let value = self.expr(r.next().expect("row value"));
                TableRow {
                    condition,
                    value,
                    span,
                }
            })
            .collect();
        Table {
            name,
            params,
            result,
            rows,
        }
    }

    fn policy(&mut self, pair: Pair<'_, Rule>, kind: PolicyKind) -> Policy {
        let mut domain = match pair.as_rule() {
            Rule::returns_decl => Domain::Returns,
            _ => Domain::Orders,
        };
        let mut inner = significant(pair.into_inner()).peekable();
        if inner
            .next_if(|p| p.as_rule() == Rule::returns_domain)
            .is_some()
        {
            domain = Domain::Returns;
        }
        let name = self.string(inner.next().expect("policy name"));
        let items = inner.map(|item| self.item(item)).collect();
        Policy {
            kind,
            domain,
            name,
            items,
        }
    }

    fn because(&mut self, pair: Option<Pair<'_, Rule>>) -> Option<StrLit> {
        pair.map(|p| self.string(significant(p.into_inner()).next().expect("because text")))
    }

    fn when(&mut self, pair: Option<Pair<'_, Rule>>) -> Option<Expr> {
        pair.map(|p| self.expr(significant(p.into_inner()).next().expect("when condition")))
    }

    fn count(&mut self, pair: Pair<'_, Rule>) -> Count {
        let span = self.span(&pair);
        let value = pair.as_str().parse().unwrap_or_else(|_| {
            self.diagnostics.push(Diagnostic::new(
                Code::INVALID_NUMBER,
                span,
                format!("`{}` is too large for a whole number", pair.as_str()),
            ));
            0
        });
        Count { value, span }
    }

    pub fn item(&mut self, pair: Pair<'_, Rule>) -> Item {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let mut inner = significant(pair.into_inner());
        let kind = match rule {
            Rule::applies_item => ItemKind::Applies(self.expr(inner.next().expect("condition"))),
            Rule::priority_item => ItemKind::Priority(self.count(inner.next().expect("priority"))),
            Rule::let_item => ItemKind::Let {
                name: self.ident(inner.next().expect("let name")),
                value: self.expr(inner.next().expect("let value")),
            },
            Rule::exclude_item => ItemKind::Exclude {
                condition: self.expr(inner.next().expect("condition")),
                because: self.because(inner.next()),
            },
            Rule::safety_item => ItemKind::SafetyStock {
                amount: self.expr(inner.next().expect("amount")),
                condition: self.when(inner.next()),
            },
            Rule::cost_item => {
                let name = self.ident(inner.next().expect("cost name"));
                let basis_pair = inner.next().expect("basis");
                let basis = match basis_pair.as_str() {
                    "shipment" => CostBasis::Shipment,
                    "line" => CostBasis::Line,
                    _ => CostBasis::Unit,
                };
                ItemKind::Cost {
                    name,
                    basis,
                    value: self.expr(inner.next().expect("cost value")),
                    condition: self.when(inner.next()),
                }
            }
            Rule::objective_item => ItemKind::Objective(inner.map(|c| self.criterion(c)).collect()),
            Rule::max_shipments_item => {
                ItemKind::MaxShipments(self.count(inner.next().expect("count")))
            }
            Rule::ship_complete_item => ItemKind::ShipComplete,
            Rule::no_line_split_item => ItemKind::NoLineSplit,
            Rule::stage_item => ItemKind::Stage {
                name: self.string(inner.next().expect("stage name")),
                condition: self.when(inner.next()),
            },
            Rule::shortage_item => {
                let action = match inner.next().expect("action").as_str() {
                    "backorder" => ShortageAction::Backorder,
                    "cancel" => ShortageAction::Cancel,
                    _ => ShortageAction::Reject,
                };
                ItemKind::OnShortage {
                    action,
                    because: self.because(inner.next()),
                }
            }
            Rule::reject_item => ItemKind::Reject {
                condition: self.expr(inner.next().expect("condition")),
                because: self.because(inner.next()),
            },
            Rule::hold_item => ItemKind::Hold {
                condition: self.expr(inner.next().expect("condition")),
                because: self.because(inner.next()),
            },
            Rule::transit_item => ItemKind::Transit(self.expr(inner.next().expect("transit"))),
            Rule::ship_within_item => ItemKind::ShipWithin {
                days: self.count(inner.next().expect("days")),
                because: self.because(inner.next()),
            },
            Rule::deliver_within_item => ItemKind::DeliverWithin {
                days: self.count(inner.next().expect("days")),
                because: self.because(inner.next()),
            },
            Rule::deliver_by_item => ItemKind::DeliverBy {
                date: self.expr(inner.next().expect("date")),
                because: self.because(inner.next()),
            },
            Rule::keep_item => ItemKind::Keep {
                condition: self.expr(inner.next().expect("condition")),
                because: self.because(inner.next()),
            },
            Rule::dispose_item => ItemKind::Dispose {
                condition: self.expr(inner.next().expect("condition")),
                because: self.because(inner.next()),
            },
            rule => unreachable!("not a policy item: {rule:?}"),
        };
        Item { kind, span }
    }

    fn criterion(&mut self, pair: Pair<'_, Rule>) -> Criterion {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let direction = match inner.next().expect("direction").as_str() {
            "minimize" => Direction::Minimize,
            _ => Direction::Maximize,
        };
        let measure = inner.next().expect("measure");
        let measure = match measure.as_rule() {
            Rule::kw_shipments => Measure::Shipments,
            Rule::kw_cost => Measure::Cost,
            _ => {
                let mut agg = measure.into_inner();
                let aggregator = match agg.next().expect("aggregator").as_str() {
                    "max" => Aggregator::Max,
                    _ => Aggregator::Sum,
                };
                Measure::Aggregate(
                    aggregator,
                    self.expr(agg.next().expect("aggregated expression")),
                )
            }
        };
        Criterion {
            direction,
            measure,
            span,
        }
    }

    pub fn expr(&mut self, pair: Pair<'_, Rule>) -> Expr {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::expr => self.expr(pair.into_inner().next().expect("expression")),
            Rule::if_expr => {
                let mut parts = significant(pair.into_inner())
                    .map(|p| self.expr(p))
                    .collect::<Vec<_>>();
                let otherwise = parts.pop().expect("else");
                let then = parts.pop().expect("then");
                let condition = parts.pop().expect("if");
                Expr {
                    kind: ExprKind::If(Box::new(condition), Box::new(then), Box::new(otherwise)),
                    span,
                }
            }
            Rule::or_expr | Rule::and_expr | Rule::add_expr | Rule::mul_expr | Rule::cmp_expr => {
                let mut inner = pair.into_inner();
                let mut left = self.expr(inner.next().expect("operand"));
                while let Some(op) = inner.next() {
                    let op = binary_op(&op);
                    let right = self.expr(inner.next().expect("right operand"));
                    let span = left.span.to(right.span);
                    left = Expr {
                        kind: ExprKind::Binary(op, Box::new(left), Box::new(right)),
                        span,
                    };
                }
                left
            }
            Rule::not_expr => {
                let mut inner = pair.into_inner();
                let first = inner.next().expect("operand");
                match first.as_rule() {
                    Rule::op_not => {
                        let operand = self.expr(inner.next().expect("negated operand"));
                        Expr {
                            kind: ExprKind::Unary(UnaryOp::Not, Box::new(operand)),
                            span,
                        }
                    }
                    _ => self.expr(first),
                }
            }
            Rule::unary_expr => {
                let inner: Vec<_> = pair.into_inner().collect();
                let (operand, negations) = inner.split_last().expect("operand");
                let mut expr = self.expr(operand.clone());
                for neg in negations.iter().rev() {
                    let start = self.span(neg);
                    expr = Expr {
                        span: start.to(expr.span),
                        kind: ExprKind::Unary(UnaryOp::Neg, Box::new(expr)),
                    };
                }
                expr
            }
            Rule::postfix_expr => {
                let mut inner = pair.into_inner();
                let mut expr = self.expr(inner.next().expect("primary"));
                for field in inner {
                    let name = self.ident(field.into_inner().next().expect("field name"));
                    expr = Expr {
                        span: expr.span.to(name.span),
                        kind: ExprKind::Field(Box::new(expr), name),
                    };
                }
                expr
            }
            Rule::paren => {
                let inner = self.expr(pair.into_inner().next().expect("parenthesized"));
                Expr {
                    kind: ExprKind::Paren(Box::new(inner)),
                    span,
                }
            }
            Rule::list => {
                let items = pair.into_inner().map(|p| self.expr(p)).collect();
                Expr {
                    kind: ExprKind::List(items),
                    span,
                }
            }
            Rule::call => {
                let mut inner = pair.into_inner();
                let callee = self.ident(inner.next().expect("callee"));
                let args = inner.map(|p| self.expr(p)).collect();
                Expr {
                    kind: ExprKind::Call(callee, args),
                    span,
                }
            }
            Rule::ident => Expr {
                kind: ExprKind::Name(self.ident(pair)),
                span,
            },
            Rule::kw_true => Expr {
                kind: ExprKind::Bool(true),
                span,
            },
            Rule::kw_false => Expr {
                kind: ExprKind::Bool(false),
                span,
            },
            Rule::string => {
                let lit = self.string(pair);
                Expr {
                    kind: ExprKind::Str(lit.value),
                    span,
                }
            }
            Rule::number => Expr {
                kind: self.number(&pair),
                span,
            },
            Rule::quantity => {
                let mut inner = pair.into_inner();
                let number = inner.next().expect("number");
                let value = match self.number(&number) {
                    ExprKind::Int(i) => Decimal::from(i),
                    ExprKind::Number(d) => d,
                    _ => Decimal::ZERO,
                };
                let unit = inner.next().expect("unit");
                let mut words = unit.into_inner();
                let first = words.next().expect("unit word");
                let numerator = Ident {
                    name: first.as_str().to_string(),
                    span: self.span(&first),
                };
                let denominator = words.next().map(|w| Ident {
                    name: w.as_str().to_string(),
                    span: self.span(&w),
                });
                Expr {
                    kind: ExprKind::Quantity {
                        value,
                        unit: UnitText {
                            numerator,
                            denominator,
                        },
                    },
                    span,
                }
            }
            rule => unreachable!("not an expression: {rule:?}"),
        }
    }

    /// An integer literal becomes `Int`, one with a fraction `Number`.
    fn number(&mut self, pair: &Pair<'_, Rule>) -> ExprKind {
        let text: String = pair.as_str().chars().filter(|&c| c != '_').collect();
        let parsed = if text.contains('.') {
            Decimal::from_str(&text).ok().map(ExprKind::Number)
        } else {
            text.parse::<i64>().ok().map(ExprKind::Int)
        };
        parsed.unwrap_or_else(|| {
            self.diagnostics.push(Diagnostic::new(
                Code::INVALID_NUMBER,
                self.span(pair),
                format!("the number `{}` is out of range", pair.as_str()),
            ));
            ExprKind::Int(0)
        })
    }

    fn string(&mut self, pair: Pair<'_, Rule>) -> StrLit {
        let span = self.span(&pair);
        let inner = pair.into_inner().next().expect("string contents");
        let raw = inner.as_str();
        let raw_start = self.base + inner.as_span().start();
        let mut value = String::with_capacity(raw.len());
        let mut chars = raw.char_indices();
        while let Some((i, c)) = chars.next() {
            if c != '\\' {
                value.push(c);
                continue;
            }
            let Some((j, escaped)) = chars.next() else {
                break;
            };
            match escaped {
                '"' => value.push('"'),
                '\\' => value.push('\\'),
                'n' => value.push('\n'),
                't' => value.push('\t'),
                other => {
                    let at = Span::new(self.file, raw_start + i..raw_start + j + other.len_utf8());
                    self.diagnostics.push(
                        Diagnostic::new(
                            Code::INVALID_ESCAPE,
                            at,
                            format!("unknown escape `\\{other}` in a string"),
                        )
                        .with_help("the escapes are `\\\"`, `\\\\`, `\\n` and `\\t`"),
                    );
                    value.push(other);
                }
            }
        }
        StrLit { value, span }
    }
}

fn binary_op(pair: &Pair<'_, Rule>) -> BinaryOp {
    match pair.as_rule() {
        Rule::op_or => BinaryOp::Or,
        Rule::op_and => BinaryOp::And,
        _ => match pair.as_str() {
            "==" => BinaryOp::Eq,
            "!=" => BinaryOp::NotEq,
            "<" => BinaryOp::Lt,
            "<=" => BinaryOp::LtEq,
            ">" => BinaryOp::Gt,
            ">=" => BinaryOp::GtEq,
            "+" => BinaryOp::Add,
            "-" => BinaryOp::Sub,
            "*" => BinaryOp::Mul,
            "/" => BinaryOp::Div,
            "in" => BinaryOp::In,
            // `not in`, with any spacing between the two words.
            _ => BinaryOp::NotIn,
        },
    }
}
