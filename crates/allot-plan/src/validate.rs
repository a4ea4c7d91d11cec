//! Checks that a plan is well-formed before the runtime trusts it: every index in
//! range, every jump inside its program, and every program leaving exactly one value
//! on the stack on every path. A plan from the compiler always passes; a damaged or
//! hand-made one is refused instead of crashing the runtime.

use crate::plan::*;
use crate::program::{Literal, Op, Program};

/// The built-in enums the runtime relies on, with their variant counts.
const BUILTIN_ENUMS: &[(&str, usize)] = &[("NodeKind", 6), ("Method", 3), ("Service", 3)];

impl Plan {
    pub fn validate(&self) -> Result<(), String> {
        for (i, (name, variants)) in BUILTIN_ENUMS.iter().enumerate() {
            match self.enums.get(i) {
                Some(e) if e.name == *name && e.variants.len() == *variants => {}
                _ => return Err(format!("the built-in enum {name} is missing or altered")),
            }
        }
        for attribute in &self.attributes {
            self.literal(&attribute.default)
                .map_err(|e| format!("attribute {}: {e}", attribute.name))?;
        }
        for table in &self.tables {
            for (condition, value) in &table.rows {
                for program in condition.iter().chain(std::iter::once(value)) {
                    self.program(program, 0, table.params)
                        .map_err(|e| format!("table {}: {e}", table.name))?;
                }
            }
        }
        for policy in &self.policies {
            let lets = policy.lets.len();
            let check = |p: &Program| {
                self.program(p, lets, 0)
                    .map_err(|e| format!("policy \"{}\": {e}", policy.name))
            };
            let mut programs: Vec<&Program> = Vec::new();
            programs.extend(&policy.applies);
            programs.extend(policy.lets.iter().map(|l| &l.value));
            for rule in policy
                .excludes
                .iter()
                .chain(&policy.rejects)
                .chain(&policy.holds)
            {
                programs.push(&rule.condition);
                if let Some(guard) = &rule.guard {
                    programs.extend(&guard.node_condition);
                }
            }
            for s in &policy.safety_stock {
                programs.push(&s.amount);
                programs.extend(&s.condition);
            }
            for c in &policy.costs {
                programs.push(&c.value);
                programs.extend(&c.condition);
            }
            for s in &policy.stages {
                programs.extend(&s.condition);
            }
            for c in &policy.objective {
                if let Measure::Max(p) | Measure::Sum(p) = &c.measure {
                    programs.push(p);
                }
            }
            for p in programs {
                check(p)?;
            }
            if policy.kind == PolicyKind::Policy && policy.objective.is_empty() {
                return Err(format!("policy \"{}\" has no objective", policy.name));
            }
            if self.files.len() <= policy.origin.file as usize {
                return Err(format!(
                    "policy \"{}\" names a file the plan does not list",
                    policy.name
                ));
            }
        }
        Ok(())
    }

    fn literal(&self, literal: &Literal) -> Result<(), String> {
        match literal {
            Literal::Enum(id, variant) => match self.enums.get(*id as usize) {
                Some(e) if (*variant as usize) < e.variants.len() => Ok(()),
                _ => Err(format!("enum value {id}:{variant} does not exist")),
            },
            Literal::Set(items) => items.iter().try_for_each(|i| self.literal(i)),
            _ => Ok(()),
        }
    }

    /// Walks every path of a program, tracking the stack depth at each instruction.
    fn program(&self, program: &Program, lets: usize, params: u32) -> Result<(), String> {
        let ops = &program.ops;
        let n = ops.len();
        let mut depth_at: Vec<Option<usize>> = vec![None; n + 1];
        let mut work = vec![(0usize, 0usize)];
        let fail =
            |pc: usize, why: &str| Err(format!("`{}`: instruction {pc}: {why}", program.source));
        while let Some((pc, depth)) = work.pop() {
            if pc > n {
                return fail(pc, "jumps outside the program");
            }
            match depth_at[pc] {
                Some(known) if known == depth => continue,
                Some(_) => return fail(pc, "the stack depth differs between paths"),
                None => depth_at[pc] = Some(depth),
            }
            if pc == n {
                if depth != 1 {
                    return fail(pc, "the program does not leave exactly one value");
                }
                continue;
            }
            let (pops, pushes) = match &ops[pc] {
                Op::Push(literal) => {
                    self.literal(literal)?;
                    (0, 1)
                }
                Op::Order(_) | Op::Line(_) | Op::Node(_) | Op::Shipment(_) | Op::CandidateNode => {
                    (0, 1)
                }
                Op::Custom(owner, index) => match self.attributes.get(*index as usize) {
                    Some(a) if a.owner == *owner => (0, 1),
                    _ => return fail(pc, "reads an attribute the plan does not declare"),
                },
                Op::Let(index) if (*index as usize) < lets => (0, 1),
                Op::Let(_) => return fail(pc, "reads a `let` that does not exist"),
                Op::Param(index) if *index < params => (0, 1),
                Op::Param(_) => return fail(pc, "reads a parameter that does not exist"),
                Op::Field(_) | Op::Abs | Op::Not | Op::Neg => (1, 1),
                Op::Distance | Op::Available => (2, 1),
                Op::Min(k) | Op::Max(k) | Op::List(k) => {
                    if matches!(ops[pc], Op::Min(_) | Op::Max(_)) && *k == 0 {
                        return fail(pc, "takes no values");
                    }
                    (*k as usize, 1)
                }
                Op::Table(id) => match self.tables.get(*id as usize) {
                    Some(t) => (t.params as usize, 1),
                    None => return fail(pc, "calls a table that does not exist"),
                },
                Op::Eq | Op::NotEq | Op::Lt | Op::LtEq | Op::Gt | Op::GtEq | Op::In | Op::NotIn => {
                    (2, 1)
                }
                Op::Add | Op::Sub | Op::Mul | Op::Div => (2, 1),
                Op::AndThen(target) | Op::OrElse(target) => {
                    if depth == 0 {
                        return fail(pc, "tests an empty stack");
                    }
                    work.push((*target as usize, depth));
                    work.push((pc + 1, depth - 1));
                    continue;
                }
                Op::JumpIfFalse(target) => {
                    if depth == 0 {
                        return fail(pc, "tests an empty stack");
                    }
                    work.push((*target as usize, depth - 1));
                    work.push((pc + 1, depth - 1));
                    continue;
                }
                Op::Jump(target) => {
                    work.push((*target as usize, depth));
                    continue;
                }
            };
            if depth < pops {
                return fail(pc, "needs more values than the stack holds");
            }
            work.push((pc + 1, depth - pops + pushes));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::program::{Deps, Op, Program};
    use crate::{EnumInfo, Plan, TablePlan};

    fn plan_with(ops: Vec<Op>) -> Plan {
        let program = Program {
            deps: Deps::NONE,
            ops,
            source: "x".into(),
        };
        Plan {
            currency: None,
            enums: [("NodeKind", 6), ("Method", 3), ("Service", 3)]
                .iter()
                .map(|(name, n)| EnumInfo {
                    name: name.to_string(),
                    variants: (0..*n).map(|v| format!("v{v}")).collect(),
                })
                .collect(),
            attributes: Vec::new(),
            tables: vec![TablePlan {
                name: "t".into(),
                params: 1,
                rows: vec![(None, program)],
            }],
            policies: Vec::new(),
            files: Vec::new(),
        }
    }

    #[test]
    fn malformed_programs_are_refused() {
        use crate::Literal::Num;
        assert!(plan_with(vec![Op::Param(0)]).validate().is_ok());
        for (ops, why) in [
            (vec![Op::Add], "needs more values"),
            (
                vec![Op::Push(Num(1.0)), Op::Push(Num(2.0))],
                "exactly one value",
            ),
            (vec![Op::Param(3)], "parameter that does not exist"),
            (vec![Op::Let(0)], "`let` that does not exist"),
            (
                vec![Op::Push(Num(1.0)), Op::Table(9)],
                "table that does not exist",
            ),
            (vec![Op::Jump(7)], "outside the program"),
            (
                vec![
                    Op::Push(crate::Literal::Bool(true)),
                    Op::JumpIfFalse(3),
                    Op::Push(Num(1.0)),
                ],
                "depth differs",
            ),
        ] {
            let error = plan_with(ops.clone()).validate().unwrap_err();
            assert!(error.contains(why), "{ops:?}: {error}");
        }
    }
}
