//! A program read back as the expression tree it was compiled from. The compiler emits
//! jumps in three shapes only (`and`, `or`, `if … then … else`); reading a program as a
//! tree checks that it has exactly those shapes and leaves one value, so a runtime can
//! evaluate trees without a stack and without loops.

use crate::program::{Op, Program};

/// Trees deeper than this are refused: the parser already stops expressions at 200
/// levels, so only a hand-made plan gets here, and evaluation recurses over the tree.
pub const MAX_TREE_DEPTH: usize = 1_000;

#[derive(Clone, Debug, PartialEq)]
pub enum Tree<'p> {
    /// An instruction and the values it pops, in the order they were pushed.
    Apply(&'p Op, Vec<Tree<'p>>),
    And(Box<Tree<'p>>, Box<Tree<'p>>),
    Or(Box<Tree<'p>>, Box<Tree<'p>>),
    If(Box<Tree<'p>>, Box<Tree<'p>>, Box<Tree<'p>>),
}

/// How many values an instruction pops (`None` for the jumps, which are structure).
fn arity(op: &Op, table_params: &dyn Fn(u32) -> Option<usize>) -> Result<usize, &'static str> {
    Ok(match op {
        Op::Push(_)
        | Op::Order(_)
        | Op::Line(_)
        | Op::Node(_)
        | Op::Shipment(_)
        | Op::Custom(..)
        | Op::CandidateNode
        | Op::Let(_)
        | Op::Param(_) => 0,
        Op::Field(_) | Op::Abs | Op::Not | Op::Neg | Op::WholeDays => 1,
        Op::Distance | Op::Available | Op::Need => 2,
        Op::Min(0) | Op::Max(0) => return Err("takes no values"),
        Op::Min(k) | Op::Max(k) | Op::List(k) => *k as usize,
        Op::Table(id) => table_params(*id).ok_or("calls a table that does not exist")?,
        Op::Eq
        | Op::NotEq
        | Op::Lt
        | Op::LtEq
        | Op::Gt
        | Op::GtEq
        | Op::In
        | Op::NotIn
        | Op::Add
        | Op::Sub
        | Op::Mul
        | Op::Div => 2,
        Op::AndThen(_) | Op::OrElse(_) | Op::JumpIfFalse(_) | Op::Jump(_) => {
            return Err("jumps where no `and`, `or` or `if` can");
        }
    })
}

impl Program {
    /// The program as a tree; `table_params` gives the parameter count of a table.
    pub fn tree(&self, table_params: &dyn Fn(u32) -> Option<usize>) -> Result<Tree<'_>, String> {
        Reader {
            ops: &self.ops,
            table_params,
        }
        .read(0, self.ops.len(), 0)
        .map(|(tree, _)| tree)
        .map_err(|(pc, why)| format!("`{}`: instruction {pc}: {why}", self.source))
    }
}

struct Reader<'p, 'f> {
    ops: &'p [Op],
    table_params: &'f dyn Fn(u32) -> Option<usize>,
}

type Failure = (usize, &'static str);

impl<'p> Reader<'p, '_> {
    /// The one value that `ops[start..end]` leaves, and its height; `depth` is how deep
    /// in the whole tree it sits.
    fn read(&self, start: usize, end: usize, depth: usize) -> Result<(Tree<'p>, usize), Failure> {
        let mut values: Vec<(Tree<'p>, usize)> = Vec::new();
        let mut pc = start;
        let target = |pc: usize, t: u32, from: usize| {
            let t = t as usize;
            if t < from || t > end {
                Err((pc, "jumps outside its expression"))
            } else {
                Ok(t)
            }
        };
        while pc < end {
            let op = &self.ops[pc];
            let (tree, height) = match op {
                Op::AndThen(t) | Op::OrElse(t) => {
                    let t = target(pc, *t, pc + 2)?;
                    let (left, lh) = values.pop().ok_or((pc, "tests an empty stack"))?;
                    let (right, rh) = self.read(pc + 1, t, depth + 1)?;
                    let (left, right) = (Box::new(left), Box::new(right));
                    pc = t;
                    let tree = match op {
                        Op::AndThen(_) => Tree::And(left, right),
                        _ => Tree::Or(left, right),
                    };
                    (tree, lh.max(rh) + 1)
                }
                Op::JumpIfFalse(t) => {
                    let else_at = target(pc, *t, pc + 3)?;
                    let Op::Jump(e) = self.ops[else_at - 1] else {
                        return Err((pc, "an `if` without its `else`"));
                    };
                    let end_at = target(else_at - 1, e, else_at + 1)?;
                    let (condition, ch) = values.pop().ok_or((pc, "tests an empty stack"))?;
                    let (then, th) = self.read(pc + 1, else_at - 1, depth + 1)?;
                    let (otherwise, oh) = self.read(else_at, end_at, depth + 1)?;
                    pc = end_at;
                    let tree = Tree::If(Box::new(condition), Box::new(then), Box::new(otherwise));
                    (tree, ch.max(th).max(oh) + 1)
                }
                _ => {
                    let n = arity(op, self.table_params).map_err(|why| (pc, why))?;
                    if values.len() < n {
                        return Err((pc, "needs more values than the stack holds"));
                    }
                    let args: Vec<(Tree, usize)> = values.split_off(values.len() - n);
                    let height = args.iter().map(|(_, h)| h + 1).max().unwrap_or(1);
                    pc += 1;
                    (
                        Tree::Apply(op, args.into_iter().map(|(t, _)| t).collect()),
                        height,
                    )
                }
            };
            if depth + height > MAX_TREE_DEPTH {
                return Err((pc, "nested too deeply"));
            }
            values.push((tree, height));
        }
        match (values.pop(), values.is_empty()) {
            (Some(value), true) => Ok(value),
            _ => Err((end, "does not leave exactly one value")),
        }
    }
}
