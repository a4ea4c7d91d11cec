//! How a per-shipment program moves as its shipment grows. When no per-shipment cost can
//! fall as lines are added to a shipment, the cost of a partial plan whose shipments are
//! all open is a lower bound of every way to complete it: the search prunes with it.
//!
//! The analysis is conservative: what it cannot show (a product of a total and a number
//! of unknown sign, a table whose rows a total selects in no increasing order…) counts
//! as possibly falling, and the search then does without the bound.

use super::{Arith, Code, Compare, Expr, Lowering, TableCode, V};
use crate::network::Network;
use allot_plan::{LineAttr, NodeAttr, Owner};

/// How deep `let`s and table calls may nest before the analysis gives up (only a plan
/// that skipped validation has a cyclic one).
const MAX_DEPTH: usize = 64;

/// How a number moves as the shipment it is computed for grows (more weight, units,
/// lines or value), all else staying the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trend {
    Flat,
    Rising,
    Falling,
}

impl Trend {
    fn flip(self) -> Trend {
        match self {
            Trend::Flat => Trend::Flat,
            Trend::Rising => Trend::Falling,
            Trend::Falling => Trend::Rising,
        }
    }

    /// The trend of a sum, a minimum, a maximum or a choice of the two.
    fn join(self, other: Trend) -> Option<Trend> {
        match (self, other) {
            (Trend::Flat, t) | (t, Trend::Flat) => Some(t),
            (a, b) if a == b => Some(a),
            _ => None,
        }
    }
}

impl Code {
    /// Whether the number never falls as its shipment grows, wherever it runs; `false`
    /// when that cannot be shown. `lowering` is the policy's, its `let`s lowered.
    pub fn never_falls(&self, lowering: &Lowering) -> bool {
        matches!(
            Analysis::new(lowering).trend(&self.expr),
            Some(Trend::Flat | Trend::Rising)
        )
    }

    /// Whether the program does not read the shipment.
    pub fn ignores_shipment(&self, lowering: &Lowering) -> bool {
        Analysis::new(lowering).trend(&self.expr) == Some(Trend::Flat)
    }
}

/// What is known of a table's argument inside its rows.
#[derive(Clone, Copy, Debug)]
struct Arg {
    trend: Trend,
    nonnegative: bool,
}

/// The least and the greatest a number can be.
type Range = (f64, f64);

const ANY: Range = (f64::NEG_INFINITY, f64::INFINITY);
const NONNEGATIVE: Range = (0.0, f64::INFINITY);

/// A product in which zero times an unbounded end is zero (the end stands for finite
/// numbers).
fn times(a: f64, b: f64) -> f64 {
    if a == 0.0 || b == 0.0 { 0.0 } else { a * b }
}

/// A range whose ends came out NaN (an unbounded sum of opposite signs) made unbounded.
fn widened((lo, hi): Range) -> Range {
    (
        if lo.is_nan() { f64::NEG_INFINITY } else { lo },
        if hi.is_nan() { f64::INFINITY } else { hi },
    )
}

/// `constant + Σ per_arg[i] × argument i`.
#[derive(Clone, Debug)]
struct Affine {
    constant: f64,
    per_arg: Vec<f64>,
}

impl Affine {
    fn constant(constant: f64, width: usize) -> Affine {
        Affine {
            constant,
            per_arg: vec![0.0; width],
        }
    }

    fn is_constant(&self) -> bool {
        self.per_arg.iter().all(|&c| c == 0.0)
    }

    fn scaled(mut self, factor: f64) -> Affine {
        self.constant = times(self.constant, factor);
        for c in &mut self.per_arg {
            *c = times(*c, factor);
        }
        self
    }

    fn minus(&self, other: &Affine) -> Affine {
        Affine {
            constant: self.constant - other.constant,
            per_arg: (self.per_arg.iter().zip(&other.per_arg))
                .map(|(a, b)| a - b)
                .collect(),
        }
    }
}

struct Analysis<'a> {
    lets: &'a [Code],
    tables: &'a [TableCode],
    /// For the range of node attributes.
    network: &'a Network,
    /// Inside a table's rows: its arguments.
    args: &'a [Arg],
    depth: usize,
}

impl<'a> Analysis<'a> {
    fn new(lowering: &'a Lowering) -> Analysis<'a> {
        Analysis {
            lets: &lowering.lets,
            tables: lowering.tables,
            network: lowering.world.network,
            args: &[],
            depth: 0,
        }
    }

    /// The analysis of a `let` (at the next depth), if it may go deeper.
    fn let_code(&self, index: usize) -> Option<(&'a Code, Analysis<'a>)> {
        let code = self.lets.get(index).filter(|_| self.depth < MAX_DEPTH)?;
        let deeper = Analysis {
            depth: self.depth + 1,
            ..*self
        };
        Some((code, deeper))
    }

    /// The trend of an expression, or `None` when it cannot be shown.
    fn trend(&self, expr: &Expr) -> Option<Trend> {
        let flat = |xs: &[Expr]| {
            xs.iter()
                .all(|x| self.trend(x) == Some(Trend::Flat))
                .then_some(Trend::Flat)
        };
        match expr {
            Expr::Shipment(_) => Some(Trend::Rising),
            Expr::Once(x) => self.trend(x),
            Expr::Let(index) => {
                let (code, deeper) = self.let_code(*index)?;
                deeper.trend(&code.expr)
            }
            Expr::Param(index) => self.args.get(*index).map(|a| a.trend),
            // Every other single read is of the order, a line or the node.
            read if read.is_read() => Some(Trend::Flat),
            Expr::Field(_, x) | Expr::Abs(x) | Expr::Not(x) | Expr::CompareWith(_, x, _) => {
                flat(std::slice::from_ref(&**x))
            }
            Expr::Distance(pair)
            | Expr::Available(pair)
            | Expr::Need(pair)
            | Expr::And(pair)
            | Expr::Or(pair)
            | Expr::Compare(_, pair) => flat(&pair[..]),
            Expr::List(xs) => flat(xs),
            Expr::Table(id, args) | Expr::NumTable(id, args) => self.table(*id, args),
            Expr::Neg(x) => self.trend(x).map(Trend::flip),
            // Rounding up keeps the direction of change.
            Expr::WholeDays(x) => self.trend(x),
            Expr::Min(xs) | Expr::Max(xs) => xs
                .iter()
                .try_fold(Trend::Flat, |acc, x| acc.join(self.trend(x)?)),
            Expr::If(parts) => {
                let [condition, then, otherwise] = &**parts;
                if self.trend(condition)? != Trend::Flat {
                    return None;
                }
                self.trend(then)?.join(self.trend(otherwise)?)
            }
            Expr::Arith(op, pair) => {
                let [a, b] = &**pair;
                let (ta, tb) = (self.trend(a)?, self.trend(b)?);
                match op {
                    Arith::Add => ta.join(tb),
                    Arith::Sub => ta.join(tb.flip()),
                    Arith::Mul => match (ta, tb) {
                        (Trend::Flat, Trend::Flat) => Some(Trend::Flat),
                        (Trend::Flat, t) => self.nonnegative(a).then_some(t),
                        (t, Trend::Flat) => self.nonnegative(b).then_some(t),
                        (Trend::Rising, Trend::Rising) => {
                            (self.nonnegative(a) && self.nonnegative(b)).then_some(Trend::Rising)
                        }
                        _ => None,
                    },
                    Arith::Div => (ta == Trend::Flat && tb == Trend::Flat).then_some(Trend::Flat),
                }
            }
            Expr::ArithWith {
                op,
                x,
                constant,
                constant_first,
            } => {
                let t = self.trend(x)?;
                if t == Trend::Flat {
                    return Some(Trend::Flat);
                }
                let c = *constant;
                match op {
                    Arith::Add => Some(t),
                    Arith::Sub if *constant_first => Some(t.flip()),
                    Arith::Sub => Some(t),
                    Arith::Mul if c >= 0.0 => Some(t),
                    Arith::Mul if c < 0.0 => Some(t.flip()),
                    Arith::Div if !*constant_first && c > 0.0 => Some(t),
                    Arith::Div if !*constant_first && c < 0.0 => Some(t.flip()),
                    _ => None,
                }
            }
            // Nothing else can be shown.
            _ => None,
        }
    }

    /// The trend of a table call. Rising when the rows are chosen by arguments that do
    /// not move and each rises or stays; or when they are chosen by increasing thresholds
    /// (`<`, `<=`) on the one argument that rises, ending with `_`, each row rises or
    /// stays, and no row starts below where the one before it ends.
    fn table(&self, id: usize, args: &[Expr]) -> Option<Trend> {
        let table = self.tables.get(id).filter(|_| self.depth < MAX_DEPTH)?;
        let args: Vec<Arg> = args
            .iter()
            .map(|x| {
                Some(Arg {
                    trend: self.trend(x)?,
                    nonnegative: self.nonnegative(x),
                })
            })
            .collect::<Option<_>>()?;
        if args.iter().all(|a| a.trend == Trend::Flat) {
            return Some(Trend::Flat);
        }
        let rows = Analysis {
            lets: &[],
            args: &args,
            depth: self.depth + 1,
            ..*self
        };
        let values = table.rows.iter().try_fold(Trend::Flat, |acc, (_, value)| {
            acc.join(rows.trend(&value.expr)?)
        })?;
        let conditions_flat = table.rows.iter().all(|(condition, _)| {
            condition
                .as_ref()
                .is_none_or(|c| rows.trend(&c.expr) == Some(Trend::Flat))
        });
        if conditions_flat {
            return Some(values);
        }
        // Thresholds on the one rising argument.
        let [rising] = args
            .iter()
            .enumerate()
            .filter(|(_, a)| a.trend != Trend::Flat)
            .map(|(i, _)| i)
            .collect::<Vec<_>>()[..]
        else {
            return None;
        };
        if values == Trend::Falling || args[rising].trend != Trend::Rising {
            return None;
        }
        let thresholds = table.thresholds.as_ref()?;
        let mut previous: Option<(f64, &Code)> = None;
        for (threshold, (_, value)) in thresholds.iter().zip(&table.rows) {
            if let Some((at, before)) = previous
                && !rows.no_drop(&before.expr, &value.expr, rising, at)
            {
                return None;
            }
            match threshold {
                None => return Some(Trend::Rising),
                Some((param, Compare::Lt | Compare::LtEq, c))
                    if *param == rising && previous.is_none_or(|(at, _)| *c >= at) =>
                {
                    previous = Some((*c, value));
                }
                Some(_) => return None,
            }
        }
        // Past the last threshold the table has no value (the checker refuses such a
        // table).
        None
    }

    /// Whether a table row's value `after` starts no lower than the row `before` ends,
    /// at the threshold `at` of argument `rising` between them, whatever the other
    /// arguments: their difference there is an affine form with no negative part, or the
    /// least `after` can be there is no less than the most `before` can be.
    fn no_drop(&self, before: &Expr, after: &Expr, rising: usize, at: f64) -> bool {
        let forms = self
            .affine(after, rising, at)
            .zip(self.affine(before, rising, at));
        if let Some((after, before)) = forms {
            let rise = after.minus(&before);
            let parts_rise = rise.per_arg.iter().enumerate().all(|(i, &c)| {
                c == 0.0 || (c > 0.0 && self.args.get(i).is_some_and(|a| a.nonnegative))
            });
            if rise.constant >= 0.0 && parts_rise {
                return true;
            }
        }
        let at = Some((rising, at));
        self.range(after, at).0 >= self.range(before, at).1
    }

    /// A table row's value as an affine form of the arguments, argument `rising` at
    /// `at`; `None` when it is not one.
    fn affine(&self, expr: &Expr, rising: usize, at: f64) -> Option<Affine> {
        let of = |x: &Expr| self.affine(x, rising, at);
        let width = self.args.len();
        Some(match expr {
            Expr::Const(V::Num(n)) => Affine::constant(*n, width),
            Expr::Param(i) if *i == rising => Affine::constant(at, width),
            Expr::Param(i) if *i < width => {
                let mut form = Affine::constant(0.0, width);
                form.per_arg[*i] = 1.0;
                form
            }
            Expr::Once(x) => of(x)?,
            Expr::Neg(x) => of(x)?.scaled(-1.0),
            Expr::Arith(op, pair) => {
                let (a, b) = (of(&pair[0])?, of(&pair[1])?);
                match op {
                    Arith::Add => a.minus(&b.scaled(-1.0)),
                    Arith::Sub => a.minus(&b),
                    Arith::Mul if a.is_constant() => b.scaled(a.constant),
                    Arith::Mul if b.is_constant() => a.scaled(b.constant),
                    _ => return None,
                }
            }
            Expr::ArithWith {
                op,
                x,
                constant,
                constant_first,
            } => {
                let (x, c) = (of(x)?, Affine::constant(*constant, width));
                match (op, constant_first) {
                    (Arith::Add, _) => x.minus(&c.scaled(-1.0)),
                    (Arith::Sub, false) => x.minus(&c),
                    (Arith::Sub, true) => c.minus(&x),
                    (Arith::Mul, _) => x.scaled(*constant),
                    (Arith::Div, false) if *constant != 0.0 => x.scaled(1.0 / constant),
                    _ => return None,
                }
            }
            _ => return None,
        })
    }

    /// Whether the number is never negative, wherever it runs (`false` when that cannot
    /// be shown).
    fn nonnegative(&self, expr: &Expr) -> bool {
        self.range(expr, None).0 >= 0.0
    }

    /// The range of a number; `fixed` gives one table argument a value.
    fn range(&self, expr: &Expr, fixed: Option<(usize, f64)>) -> Range {
        let of = |x: &Expr| self.range(x, fixed);
        let range = match expr {
            Expr::Const(V::Num(n)) => (*n, *n),
            Expr::Once(x) => of(x),
            Expr::PerNodeNum(values) => values
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                    (lo.min(v), hi.max(v))
                }),
            Expr::Param(index) => match (fixed, self.args.get(*index)) {
                (Some((param, value)), _) if param == *index => (value, value),
                (_, Some(a)) if a.nonnegative => NONNEGATIVE,
                _ => ANY,
            },
            Expr::Let(index) => match self.let_code(*index) {
                Some((code, deeper)) => deeper.range(&code.expr, fixed),
                None => ANY,
            },
            Expr::Custom(Owner::Node, slot) => {
                let values = self.network.nodes.iter().map(|n| n.custom.get(*slot));
                values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| match v {
                    Some(V::Num(v)) => (lo.min(*v), hi.max(*v)),
                    _ => ANY,
                })
            }
            // Validated when read: capacity at least 1, the rest not negative.
            Expr::Shipment(_)
            | Expr::ShipToKm
            | Expr::Distance(_)
            | Expr::Line(LineAttr::Qty | LineAttr::Price | LineAttr::Weight)
            | Expr::Node(
                NodeAttr::Capacity
                | NodeAttr::Load
                | NodeAttr::Utilization
                | NodeAttr::HandlingCost
                | NodeAttr::PickCost,
            ) => NONNEGATIVE,
            Expr::Neg(x) => {
                let (lo, hi) = of(x);
                (-hi, -lo)
            }
            Expr::Abs(x) => {
                let (lo, hi) = of(x);
                if lo >= 0.0 {
                    (lo, hi)
                } else {
                    (0.0, hi.max(-lo))
                }
            }
            Expr::Min(xs) | Expr::Max(xs) if !xs.is_empty() => {
                let min = matches!(expr, Expr::Min(_));
                xs.iter()
                    .map(of)
                    .reduce(|a, b| match min {
                        true => (a.0.min(b.0), a.1.min(b.1)),
                        false => (a.0.max(b.0), a.1.max(b.1)),
                    })
                    .unwrap_or(ANY)
            }
            Expr::If(parts) => {
                let (a, b) = (of(&parts[1]), of(&parts[2]));
                (a.0.min(b.0), a.1.max(b.1))
            }
            Expr::Arith(op, pair) => arith(*op, of(&pair[0]), of(&pair[1])),
            Expr::ArithWith {
                op,
                x,
                constant,
                constant_first,
            } => {
                let (x, c) = (of(x), (*constant, *constant));
                if *constant_first {
                    arith(*op, c, x)
                } else {
                    arith(*op, x, c)
                }
            }
            _ => ANY,
        };
        widened(range)
    }
}

/// The range of `a op b`.
fn arith(op: Arith, a: Range, b: Range) -> Range {
    match op {
        Arith::Add => (a.0 + b.0, a.1 + b.1),
        Arith::Sub => (a.0 - b.1, a.1 - b.0),
        Arith::Mul => {
            let products = [
                times(a.0, b.0),
                times(a.0, b.1),
                times(a.1, b.0),
                times(a.1, b.1),
            ];
            let lo = products.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = products.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            (lo, hi)
        }
        // Only by a constant other than zero.
        Arith::Div if b.0 == b.1 && b.0 != 0.0 => arith(Arith::Mul, a, (1.0 / b.0, 1.0 / b.0)),
        Arith::Div => ANY,
    }
}
