//! Checks that a plan is well-formed before the runtime trusts it: every index in
//! range, every program readable as an expression tree (jumps in the shapes of `and`,
//! `or` and `if`, exactly one value left), and no `let` reading itself. A plan from the compiler always passes; a damaged or
//! hand-made one is refused instead of crashing the runtime.

use crate::plan::*;
use crate::program::{Literal, Op, Program};

/// The built-in enums the runtime relies on, with their variant counts.
pub(crate) const BUILTIN_ENUMS: &[(&str, usize)] = &[
    ("NodeKind", 6),
    ("Method", 3),
    ("Service", 3),
    ("Condition", 4),
];

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
            for p in policy.programs() {
                check(p)?;
            }
            Self::let_cycle(policy)?;
            if let Some(index) = policy.for_policy {
                match self.policies.get(index as usize) {
                    Some(p)
                        if p.kind == PolicyKind::Policy
                            && policy.kind == PolicyKind::Compliance => {}
                    _ => {
                        return Err(format!(
                            "profile \"{}\" is compiled for policy {index}, which is not a policy of the plan",
                            policy.name
                        ));
                    }
                }
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

    /// Reads the program as a tree (which checks its jumps and its stack) and checks
    /// every index it holds.
    fn program(&self, program: &Program, lets: usize, params: u32) -> Result<(), String> {
        program.tree(&|id| self.tables.get(id as usize).map(|t| t.params as usize))?;
        for (pc, op) in program.ops.iter().enumerate() {
            let why = match op {
                Op::Push(literal) => self.literal(literal).err(),
                Op::Custom(owner, index) => match self.attributes.get(*index as usize) {
                    Some(a) if a.owner == *owner => None,
                    _ => Some("reads an attribute the plan does not declare".to_string()),
                },
                Op::Let(index) if *index as usize >= lets => {
                    Some("reads a `let` that does not exist".to_string())
                }
                Op::Param(index) if *index >= params => {
                    Some("reads a parameter that does not exist".to_string())
                }
                _ => None,
            };
            if let Some(why) = why {
                return Err(format!("`{}`: instruction {pc}: {why}", program.source));
            }
        }
        Ok(())
    }

    /// `let`s read other `let`s: refuses a cycle, which would never finish evaluating.
    fn let_cycle(policy: &PolicyPlan) -> Result<(), String> {
        let reads = |i: usize| {
            policy.lets[i].value.ops.iter().filter_map(|op| match op {
                Op::Let(j) => Some(*j as usize),
                _ => None,
            })
        };
        // 0: not visited, 1: on the current path, 2: done.
        let mut state = vec![0u8; policy.lets.len()];
        for root in 0..policy.lets.len() {
            let mut path = vec![(root, reads(root).collect::<Vec<_>>())];
            state[root] = 1;
            while let Some((at, next)) = path.last_mut() {
                match next.pop() {
                    Some(j) if state[j] == 1 => {
                        return Err(format!(
                            "policy \"{}\": let {} reads itself through other lets",
                            policy.name, policy.lets[j].name
                        ));
                    }
                    Some(j) if state[j] == 0 => {
                        state[j] = 1;
                        path.push((j, reads(j).collect()));
                    }
                    Some(_) => {}
                    None => {
                        state[*at] = 2;
                        path.pop();
                    }
                }
            }
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
            enums: super::BUILTIN_ENUMS
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
            (vec![Op::Jump(7)], "jumps where no"),
            (
                vec![
                    Op::Push(crate::Literal::Bool(true)),
                    Op::JumpIfFalse(3),
                    Op::Push(Num(1.0)),
                ],
                "outside its expression",
            ),
        ] {
            let error = plan_with(ops.clone()).validate().unwrap_err();
            assert!(error.contains(why), "{ops:?}: {error}");
        }
    }
}
