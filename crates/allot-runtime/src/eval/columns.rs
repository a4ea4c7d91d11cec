//! Evaluating a program at many nodes at once. Each sub-expression is computed for every
//! node before its parent, so the tree is walked once per program instead of once per
//! node, and the work per node is a step of a tight loop. What has no column form
//! (strings, sets, places, `available`) is computed node by node by the scalar
//! evaluator, with the same result. Programs have no effects, so both operands of `and`,
//! `or` and `if` may be computed where the scalar evaluator skips one.

use super::interpret::{Frame, MAX_NUM_ARGS, Params, whole_days};
use super::{Arith, Code, Compare, Env, Expr, LetCache, TableCode};
use crate::value::V;
use allot_plan::{LineAttr, Owner};

/// Where a program runs: the nodes, and per node the safety stock that `available`
/// holds back for the current line (`None`: the environment's); the policy's `let`s; and
/// columns to reuse. In a table's row, `params` holds the arguments, a column each: the
/// row runs once for all the nodes, and reads no node.
pub(crate) struct Columns<'c> {
    nodes: &'c [u32],
    safety: Option<&'c [i64]>,
    lets: &'c [Code],
    params: Option<&'c [Vec<f64>]>,
    spare: &'c mut Spare,
}

/// Columns kept for the next sub-expression, so that evaluating allocates only while the
/// columns grow.
#[derive(Default)]
pub(crate) struct Spare {
    numbers: Vec<Vec<f64>>,
    truths: Vec<Vec<bool>>,
}

impl Spare {
    pub fn numbers(&mut self) -> Vec<f64> {
        self.numbers.pop().unwrap_or_default()
    }

    pub fn truths(&mut self) -> Vec<bool> {
        self.truths.pop().unwrap_or_default()
    }

    pub fn keep_numbers(&mut self, column: Vec<f64>) {
        self.numbers.push(column);
    }

    pub fn keep_truths(&mut self, column: Vec<bool>) {
        self.truths.push(column);
    }
}

impl<'c> Columns<'c> {
    pub fn new(
        nodes: &'c [u32],
        safety: Option<&'c [i64]>,
        lets: &'c [Code],
        spare: &'c mut Spare,
    ) -> Columns<'c> {
        Columns {
            nodes,
            safety,
            lets,
            params: None,
            spare,
        }
    }
}

impl Env<'_> {
    /// A condition at every node of `at`, into `out`.
    pub fn truths(&self, code: &Code, at: &mut Columns, out: &mut Vec<bool>) {
        self.truth_column(&code.expr, at, out);
    }

    /// A rule's condition at every node of `at`, into `out`: true everywhere when it has
    /// none.
    pub fn truths_or_all(&self, code: Option<&Code>, at: &mut Columns, out: &mut Vec<bool>) {
        match code {
            Some(code) => self.truths(code, at, out),
            None => self.same_everywhere(at, out, true),
        }
    }

    /// A number at every node of `at`, into `out`.
    pub fn numbers(&self, code: &Code, at: &mut Columns, out: &mut Vec<f64>) {
        self.num_column(&code.expr, at, out);
    }

    /// `expr` by the scalar evaluator at each node in turn.
    fn node_by_node<T>(
        &self,
        at: &mut Columns,
        out: &mut Vec<T>,
        eval: impl Fn(&Env, &mut Frame) -> T,
    ) {
        out.clear();
        out.reserve(at.nodes.len());
        // An empty `let` cache: no value carries over from one node to the next.
        let mut cache = LetCache::default();
        for (i, &node) in at.nodes.iter().enumerate() {
            let mut numbers = [0.0; MAX_NUM_ARGS];
            let (node, params) = match at.params {
                // A table's row: the arguments at this node, and no node.
                Some(params) => {
                    for (number, column) in numbers.iter_mut().zip(params) {
                        *number = column[i];
                    }
                    (None, Params::Numbers(&numbers[..params.len()]))
                }
                None => (Some(node), Params::Values(&[])),
            };
            let env = Env {
                node,
                safety: at.safety.map_or(self.safety, |safety| safety[i]),
                ..*self
            };
            let mut frame = Frame {
                cache: &mut cache,
                lets: at.lets,
                params,
            };
            out.push(eval(&env, &mut frame));
        }
    }

    /// A value that does not depend on the node, at every node.
    fn same_everywhere<T: Copy>(&self, at: &mut Columns, out: &mut Vec<T>, value: T) {
        out.clear();
        out.resize(at.nodes.len(), value);
    }

    fn num_column(&self, expr: &Expr, at: &mut Columns, out: &mut Vec<f64>) {
        let nodes = at.nodes;
        match expr {
            Expr::Const(V::Num(n)) => self.same_everywhere(at, out, *n),
            Expr::PerNodeNum(values) => {
                out.clear();
                out.extend(
                    (nodes.iter()).map(|&n| values.get(n as usize).copied().unwrap_or(f64::NAN)),
                );
            }
            Expr::Param(index) if at.params.is_some() => {
                out.clear();
                match at.params.and_then(|params| params.get(*index)) {
                    Some(column) => out.extend_from_slice(column),
                    None => out.resize(nodes.len(), f64::NAN),
                }
            }
            Expr::ShipToKm if self.order.is_some() => {
                out.clear();
                out.extend(nodes.iter().map(|&n| self.world.ship_to_km(n)));
            }
            Expr::Once(x) => {
                let value = self.computed_once(x, at, Env::num);
                self.same_everywhere(at, out, value);
            }
            Expr::Shipment(_) | Expr::Line(LineAttr::Price | LineAttr::Qty | LineAttr::Weight) => {
                let value = self.computed_once(expr, at, Env::num);
                self.same_everywhere(at, out, value);
            }
            Expr::Node(attr) if expr.is_numeric() => {
                out.clear();
                out.extend(nodes.iter().map(|&n| self.node_attr_at(*attr, n).as_num()));
            }
            Expr::Custom(Owner::Node, slot) => {
                out.clear();
                out.extend(nodes.iter().map(|&n| {
                    (self.world.network.nodes[n as usize].custom.get(*slot))
                        .map_or(f64::NAN, V::as_num)
                }));
            }
            Expr::Let(index) if *index < at.lets.len() => {
                let lets = at.lets;
                self.num_column(&lets[*index].expr, at, out);
            }
            Expr::Min(args) | Expr::Max(args) if !args.is_empty() => {
                let min = matches!(expr, Expr::Min(_));
                self.num_column(&args[0], at, out);
                let mut column = at.spare.numbers();
                for arg in &args[1..] {
                    self.num_column(arg, at, &mut column);
                    for (v, x) in out.iter_mut().zip(&column) {
                        *v = if min { v.min(*x) } else { v.max(*x) };
                    }
                }
                at.spare.keep_numbers(column);
            }
            Expr::Abs(x) => {
                self.num_column(x, at, out);
                out.iter_mut().for_each(|v| *v = v.abs());
            }
            Expr::WholeDays(x) => {
                self.num_column(x, at, out);
                out.iter_mut().for_each(|v| *v = whole_days(*v));
            }
            Expr::Neg(x) => {
                self.num_column(x, at, out);
                out.iter_mut().for_each(|v| *v = -*v);
            }
            Expr::If(parts) => {
                let (mut condition, mut otherwise) = (at.spare.truths(), at.spare.numbers());
                self.truth_column(&parts[0], at, &mut condition);
                self.num_column(&parts[1], at, out);
                self.num_column(&parts[2], at, &mut otherwise);
                select(out, &condition, &otherwise);
                at.spare.keep_truths(condition);
                at.spare.keep_numbers(otherwise);
            }
            Expr::Arith(op, pair) => {
                let mut right = at.spare.numbers();
                self.num_column(&pair[0], at, out);
                self.num_column(&pair[1], at, &mut right);
                for (a, b) in out.iter_mut().zip(&right) {
                    *a = op.apply(*a, *b);
                }
                at.spare.keep_numbers(right);
            }
            Expr::ArithWith {
                op,
                x,
                constant,
                constant_first,
            } => {
                self.num_column(x, at, out);
                for v in out.iter_mut() {
                    *v = if *constant_first {
                        op.apply(*constant, *v)
                    } else {
                        op.apply(*v, *constant)
                    };
                }
            }
            Expr::NumTable(id, args) if args.len() <= MAX_NUM_ARGS => {
                let mut columns: [Vec<f64>; MAX_NUM_ARGS] = Default::default();
                for (column, arg) in columns.iter_mut().zip(args) {
                    *column = at.spare.numbers();
                    self.num_column(arg, at, column);
                }
                self.table_column(*id, &columns[..args.len()], at, out);
                for column in columns.into_iter().take(args.len()) {
                    at.spare.keep_numbers(column);
                }
            }
            _ => self.node_by_node(at, out, |env, f| env.num(expr, f)),
        }
    }

    fn truth_column(&self, expr: &Expr, at: &mut Columns, out: &mut Vec<bool>) {
        let nodes = at.nodes;
        match expr {
            Expr::Const(v) => self.same_everywhere(at, out, v.as_bool()),
            Expr::PerNodeBool(values) => {
                out.clear();
                out.extend(
                    (nodes.iter()).map(|&n| values.get(n as usize).copied().unwrap_or(false)),
                );
            }
            Expr::Not(x) => {
                self.truth_column(x, at, out);
                out.iter_mut().for_each(|v| *v = !*v);
            }
            Expr::Once(x) => {
                let value = self.computed_once(x, at, Env::truth);
                self.same_everywhere(at, out, value);
            }
            // Nothing is in an empty set (`node.region in line.item.protected_regions`).
            Expr::Compare(op @ (Compare::In | Compare::NotIn), pair)
                if self.computed_once(&pair[1], at, Env::is_empty_once) =>
            {
                self.same_everywhere(at, out, matches!(op, Compare::NotIn));
            }
            Expr::And(pair) | Expr::Or(pair) => {
                let and = matches!(expr, Expr::And(_));
                let mut right = at.spare.truths();
                self.truth_column(&pair[0], at, out);
                self.truth_column(&pair[1], at, &mut right);
                for (a, b) in out.iter_mut().zip(&right) {
                    *a = if and { *a && *b } else { *a || *b };
                }
                at.spare.keep_truths(right);
            }
            Expr::If(parts) => {
                let (mut condition, mut otherwise) = (at.spare.truths(), at.spare.truths());
                self.truth_column(&parts[0], at, &mut condition);
                self.truth_column(&parts[1], at, out);
                self.truth_column(&parts[2], at, &mut otherwise);
                select(out, &condition, &otherwise);
                at.spare.keep_truths(condition);
                at.spare.keep_truths(otherwise);
            }
            Expr::Compare(
                op @ (Compare::Lt | Compare::LtEq | Compare::Gt | Compare::GtEq),
                pair,
            ) => {
                let (mut left, mut right) = (at.spare.numbers(), at.spare.numbers());
                self.num_column(&pair[0], at, &mut left);
                self.num_column(&pair[1], at, &mut right);
                out.clear();
                out.extend(left.iter().zip(&right).map(|(&a, &b)| op.holds_with(a, b)));
                at.spare.keep_numbers(left);
                at.spare.keep_numbers(right);
            }
            Expr::CompareWith(op, x, constant) => {
                let mut values = at.spare.numbers();
                self.num_column(x, at, &mut values);
                out.clear();
                out.extend(values.iter().map(|&v| op.holds_with(v, *constant)));
                at.spare.keep_numbers(values);
            }
            Expr::Let(index) if *index < at.lets.len() => {
                let lets = at.lets;
                self.truth_column(&lets[*index].expr, at, out);
            }
            _ => self.node_by_node(at, out, |env, f| env.truth(expr, f)),
        }
    }

    /// Table `id` at every node of `at`, its arguments in `params`. A zone table (see
    /// [`TableCode`]) finds each node's row by its thresholds, and runs each row that some
    /// node takes once for all the nodes; other tables run node by node.
    fn table_column(&self, id: usize, params: &[Vec<f64>], at: &mut Columns, out: &mut Vec<f64>) {
        let table = self.tables.get(id);
        let Some((thresholds, rows)) = table.and_then(|t| Some((t.thresholds.as_ref()?, &t.rows)))
        else {
            out.clear();
            for i in 0..at.nodes.len() {
                let mut numbers = [0.0; MAX_NUM_ARGS];
                for (number, column) in numbers.iter_mut().zip(params) {
                    *number = column[i];
                }
                let numbers = Params::Numbers(&numbers[..params.len()]);
                out.push(self.rows(id, numbers, Env::num, f64::NAN));
            }
            return;
        };
        // Each node's row; a constant row gives its value at once, the others are run below.
        let mut row_of: Vec<usize> = Vec::new();
        out.clear();
        for i in 0..at.nodes.len() {
            let mut numbers = [0.0; MAX_NUM_ARGS];
            for (number, column) in numbers.iter_mut().zip(params) {
                *number = column[i];
            }
            let numbers = &numbers[..params.len()];
            let row = thresholds
                .iter()
                .position(|t| TableCode::row_holds(*t, numbers));
            out.push(match row.map(|row| (row, &rows[row].1.expr)) {
                None => f64::NAN,
                Some((_, Expr::Const(V::Num(n)))) => *n,
                Some((row, _)) => {
                    row_of.resize(at.nodes.len(), usize::MAX);
                    row_of[i] = row;
                    f64::NAN
                }
            });
        }
        if row_of.is_empty() {
            return;
        }
        // A row's value reads only the arguments (and constants).
        let body = Env {
            order: None,
            line: None,
            node: None,
            shipment: None,
            ..*self
        };
        let mut values = at.spare.numbers();
        for (r, (_, value)) in rows.iter().enumerate() {
            if !row_of.contains(&r) {
                continue;
            }
            let mut row_at = Columns {
                nodes: at.nodes,
                safety: None,
                lets: &[],
                params: Some(params),
                spare: at.spare,
            };
            body.num_column(&value.expr, &mut row_at, &mut values);
            for ((v, &row), &x) in out.iter_mut().zip(&row_of).zip(&values) {
                if row == r {
                    *v = x;
                }
            }
        }
        at.spare.keep_numbers(values);
    }

    /// What `read` gives of an expression that does not read the node, computed once.
    fn computed_once<T>(
        &self,
        expr: &Expr,
        at: &Columns,
        read: fn(&Self, &Expr, &mut Frame) -> T,
    ) -> T {
        let mut frame = Frame {
            cache: &mut LetCache::default(),
            lets: at.lets,
            params: Params::Values(&[]),
        };
        read(self, expr, &mut frame)
    }
}

/// `if`: where the condition does not hold, the value of `otherwise`.
fn select<T: Copy>(values: &mut [T], condition: &[bool], otherwise: &[T]) {
    for ((value, holds), other) in values.iter_mut().zip(condition).zip(otherwise) {
        if !holds {
            *value = *other;
        }
    }
}

impl Arith {
    pub(super) fn apply(self, a: f64, b: f64) -> f64 {
        match self {
            Arith::Add => a + b,
            Arith::Sub => a - b,
            Arith::Mul => a * b,
            Arith::Div => a / b,
        }
    }
}
