//! Lowering, at load: a program's expression tree becomes [`Code`], with every
//! sub-expression that reads only the (static) node computed for every node, every
//! constant one folded, and the parts that read only the order or the line marked to be
//! computed once per run. Nothing here reads stock, load or an order.

use super::interpret::{Frame, MAX_NUM_ARGS, Params};
use super::*;
use allot_plan::{Op, Program, Tree};

/// What lowering needs: the network to compute node-level parts at load, the tables
/// and `let`s already lowered.
pub(crate) struct Lowering<'a> {
    pub world: &'a World<'a>,
    pub tables: &'a [TableCode],
    /// Table parameter counts, for reading programs as trees.
    pub table_params: &'a [usize],
    /// The policy's `let`s lowered so far, and what each reads.
    pub lets: Vec<Code>,
    let_reads: Vec<Reads>,
}

impl<'a> Lowering<'a> {
    pub fn new(
        world: &'a World<'a>,
        tables: &'a [TableCode],
        table_params: &'a [usize],
    ) -> Lowering<'a> {
        Lowering {
            world,
            tables,
            table_params,
            lets: Vec::new(),
            let_reads: Vec::new(),
        }
    }

    /// Lowers a policy's `let`s, each after those it reads (a `let` may read a later one).
    pub fn lower_lets(&mut self, lets: &[&Program]) {
        self.lets = vec![Code::unreadable(); lets.len()];
        self.let_reads = vec![Reads::NONE; lets.len()];
        let mut done = vec![false; lets.len()];
        for i in 0..lets.len() {
            self.lower_let(i, lets, &mut done);
        }
    }

    fn lower_let(&mut self, i: usize, lets: &[&Program], done: &mut [bool]) {
        if done[i] {
            return;
        }
        // Validation refuses cycles; in a plan that skipped it, a cyclic `let` is `false`.
        done[i] = true;
        for op in &lets[i].ops {
            if let Op::Let(j) = op
                && (*j as usize) < lets.len()
            {
                self.lower_let(*j as usize, lets, done);
            }
        }
        let (code, reads) = self.lower_with_reads(lets[i]);
        self.lets[i] = code;
        self.let_reads[i] = reads;
    }

    pub fn lower(&self, program: &Program) -> Code {
        self.lower_with_reads(program).0
    }

    fn lower_with_reads(&self, program: &Program) -> (Code, Reads) {
        let level = program.level();
        let params = |id: u32| self.table_params.get(id as usize).copied();
        match program.tree(&params) {
            Ok(tree) => {
                let (expr, reads) = self.expr(&tree);
                let expr = self.hoist(expr, reads, true).once_if(reads);
                let reads_order_or_line =
                    reads.0 & (Reads::ORDER.0 | Reads::LINE.0) != 0 && expr.foldable();
                let code = Code {
                    expr,
                    level,
                    reads_order_or_line,
                };
                (code, reads)
            }
            Err(_) => (Code::unreadable(), Reads::NONE),
        }
    }

    /// Replaces a sub-expression by its value when it is constant, or by its value at
    /// every node when it reads the static node alone. A leaf inside a program (not
    /// `top`) is replaced only by a compact column (numbers or truth values), which is read
    /// faster than the node's record; a column of other values would cost as much as the
    /// leaf.
    fn hoist(&self, expr: Expr, reads: Reads, top: bool) -> Expr {
        let leaf = expr.is_read() || matches!(expr, Expr::Let(_));
        let compact_only = leaf && !top;
        if matches!(
            expr,
            Expr::Const(_) | Expr::PerNode(_) | Expr::PerNodeBool(_) | Expr::PerNodeNum(_)
        ) || (compact_only && reads != Reads::NODE)
        {
            return expr;
        }
        let run = |node: Option<u32>| {
            let env = Env {
                world: self.world,
                tables: self.tables,
                order: None,
                line: None,
                node,
                shipment: None,
                safety: 0,
            };
            let mut cache = LetCache::new(self.lets.len());
            let mut frame = Frame {
                cache: &mut cache,
                lets: &self.lets,
                params: Params::Values(&[]),
            };
            env.value(&expr, &mut frame)
        };
        if reads == Reads::NONE {
            Expr::Const(run(None))
        } else if reads == Reads::NODE {
            let values: Vec<V> = (0..self.world.network.nodes.len() as u32)
                .map(|n| run(Some(n)))
                .collect();
            if values.iter().all(|v| matches!(v, V::Bool(_))) {
                Expr::PerNodeBool(values.iter().map(V::as_bool).collect())
            } else if values.iter().all(|v| matches!(v, V::Num(_))) {
                Expr::PerNodeNum(values.iter().map(V::as_num).collect())
            } else if compact_only {
                expr
            } else {
                Expr::PerNode(values.into())
            }
        } else {
            expr
        }
    }

    /// Lowers the operands of a node; those that can be computed earlier than the node
    /// itself are hoisted.
    fn operands<'t>(
        &self,
        args: impl IntoIterator<Item = &'t Tree<'t>>,
        reads: &mut Reads,
    ) -> Vec<Expr> {
        let lowered: Vec<(Expr, Reads)> = args.into_iter().map(|a| self.expr(a)).collect();
        *reads = lowered.iter().fold(*reads, |all, (_, r)| all.with(*r));
        let all = *reads;
        lowered
            .into_iter()
            .map(|(e, r)| match r != all {
                true if !all.order_or_line_only() => self.hoist(e, r, false).once_if(r),
                true => self.hoist(e, r, false),
                false => e,
            })
            .collect()
    }

    fn fixed<'t, const N: usize>(
        &self,
        args: impl IntoIterator<Item = &'t Tree<'t>>,
        reads: &mut Reads,
    ) -> Box<[Expr; N]> {
        array(self.operands(args, reads))
    }

    fn list(&self, args: &[Tree], reads: &mut Reads) -> Box<[Expr]> {
        self.operands(args, reads).into()
    }

    fn expr(&self, tree: &Tree) -> (Expr, Reads) {
        let mut reads = Reads::NONE;
        let expr = match tree {
            Tree::And(a, b) => Expr::And(self.fixed([&**a, &**b], &mut reads)),
            Tree::Or(a, b) => Expr::Or(self.fixed([&**a, &**b], &mut reads)),
            Tree::If(c, a, b) => Expr::If(self.fixed([&**c, &**a, &**b], &mut reads)),
            Tree::Apply(op, args) => match op {
                Op::Push(literal) => Expr::Const(V::from_literal(literal)),
                Op::Order(attr) => {
                    reads = Reads::ORDER;
                    Expr::Order(*attr)
                }
                Op::Line(attr) => {
                    reads = Reads::LINE;
                    Expr::Line(*attr)
                }
                Op::Node(attr) => {
                    reads = match attr {
                        NodeAttr::Load | NodeAttr::Utilization => Reads::NODE.with(Reads::BATCH),
                        // When the node ships depends on when the order was placed.
                        NodeAttr::ShipDate | NodeAttr::ShipDays | NodeAttr::ShipBusinessDays => {
                            Reads::NODE.with(Reads::ORDER)
                        }
                        _ => Reads::NODE,
                    };
                    Expr::Node(*attr)
                }
                Op::Shipment(attr) => {
                    reads = Reads::SHIPMENT;
                    Expr::Shipment(*attr)
                }
                Op::Custom(owner, index) => {
                    reads = match owner {
                        Owner::Order => Reads::ORDER,
                        Owner::Node => Reads::NODE,
                        Owner::Item => Reads::LINE,
                    };
                    let slot = self.world.schema.slot.get(*index as usize).copied();
                    Expr::Custom(*owner, slot.unwrap_or(usize::MAX))
                }
                Op::Field(field) => {
                    let [place] = *self.fixed::<1>(args, &mut reads);
                    Expr::Field(*field, Box::new(place))
                }
                Op::CandidateNode => {
                    reads = Reads::NODE;
                    Expr::CandidateNode
                }
                Op::Let(index) => {
                    let index = *index as usize;
                    reads = self.let_reads.get(index).copied().unwrap_or(Reads::NONE);
                    match self.lets.get(index).map(|code| &code.expr) {
                        // A `let` that costs a read (`d = distance(node, order.ship_to)`) is
                        // read in place: its cache would cost more than it saves.
                        Some(expr) if expr.is_read() => expr.clone(),
                        _ => Expr::Let(index),
                    }
                }
                Op::Param(index) => {
                    reads = Reads::PARAM;
                    Expr::Param(*index as usize)
                }
                Op::Distance => {
                    let pair = self.fixed::<2>(args, &mut reads);
                    fn is(e: &Expr, node: bool) -> bool {
                        match e {
                            Expr::CandidateNode => node,
                            Expr::Node(NodeAttr::Location) => node,
                            Expr::Order(OrderAttr::ShipTo) => !node,
                            Expr::Once(x) => is(x, node),
                            _ => false,
                        }
                    }
                    if (is(&pair[0], true) && is(&pair[1], false))
                        || (is(&pair[0], false) && is(&pair[1], true))
                    {
                        Expr::ShipToKm
                    } else {
                        Expr::Distance(pair)
                    }
                }
                Op::Available => {
                    let pair = self.fixed::<2>(args, &mut reads);
                    reads = reads.with(Reads::BATCH).with(Reads::LINE);
                    Expr::Available(pair)
                }
                Op::Need => {
                    let pair = self.fixed::<2>(args, &mut reads);
                    reads = reads.with(Reads::BATCH).with(Reads::LINE);
                    Expr::Need(pair)
                }
                Op::Min(_) => Expr::Min(self.list(args, &mut reads)),
                Op::Max(_) => Expr::Max(self.list(args, &mut reads)),
                Op::Abs => {
                    let [x] = *self.fixed::<1>(args, &mut reads);
                    Expr::Abs(Box::new(x))
                }
                Op::Neg => {
                    let [x] = *self.fixed::<1>(args, &mut reads);
                    Expr::Neg(Box::new(x))
                }
                Op::WholeDays => {
                    let [x] = *self.fixed::<1>(args, &mut reads);
                    Expr::WholeDays(Box::new(x))
                }
                Op::Not => {
                    let [x] = *self.fixed::<1>(args, &mut reads);
                    Expr::Not(Box::new(x))
                }
                Op::Table(id) => {
                    let args = self.list(args, &mut reads);
                    // A table not lowered yet (tables calling tables) cannot run at load.
                    if self.tables.get(*id as usize).is_none() {
                        reads = reads.with(Reads::PARAM);
                    }
                    if args.len() <= MAX_NUM_ARGS && args.iter().all(Expr::is_numeric) {
                        Expr::NumTable(*id as usize, args)
                    } else {
                        Expr::Table(*id as usize, args)
                    }
                }
                Op::List(_) => Expr::List(self.list(args, &mut reads)),
                Op::Eq => Expr::Compare(Compare::Eq, self.fixed(args, &mut reads)),
                Op::NotEq => Expr::Compare(Compare::NotEq, self.fixed(args, &mut reads)),
                Op::Lt => Expr::compare(Compare::Lt, self.fixed(args, &mut reads)),
                Op::LtEq => Expr::compare(Compare::LtEq, self.fixed(args, &mut reads)),
                Op::Gt => Expr::compare(Compare::Gt, self.fixed(args, &mut reads)),
                Op::GtEq => Expr::compare(Compare::GtEq, self.fixed(args, &mut reads)),
                Op::In => Expr::Compare(Compare::In, self.fixed(args, &mut reads)),
                Op::NotIn => Expr::Compare(Compare::NotIn, self.fixed(args, &mut reads)),
                Op::Add => Expr::arith(Arith::Add, *self.fixed(args, &mut reads)),
                Op::Sub => Expr::arith(Arith::Sub, *self.fixed(args, &mut reads)),
                Op::Mul => Expr::arith(Arith::Mul, *self.fixed(args, &mut reads)),
                Op::Div => Expr::arith(Arith::Div, *self.fixed(args, &mut reads)),
                // The tree reader makes jumps into `and`, `or` and `if`.
                Op::AndThen(_) | Op::OrElse(_) | Op::JumpIfFalse(_) | Op::Jump(_) => {
                    Expr::Const(V::Bool(false))
                }
            },
        };
        (expr, reads)
    }
}
