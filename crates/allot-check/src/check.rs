//! The checker: collects the declarations of every file of a ruleset, resolves names
//! and types, and builds the [`Model`]. This module holds the entry points and the
//! [`Checker`] state; the declarations that make the environment (enums, constants,
//! tables, schema attributes) are checked in `check/environment.rs`, policies and their
//! items in `check/policy.rs`, expressions in `expr.rs`; constant folding is in
//! `fold.rs`, warnings in `lint.rs`.

use crate::clause::Clause;
use crate::fold::fold;
use crate::model::*;
use crate::types::{EnumId, Type, TypeDisplay};
use allot_diagnostics::{Code, Diagnostic, Span, sort_diagnostics};
use allot_syntax::ParsedFile;
use allot_syntax::ast::{self, DeclKind};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

mod environment;
mod policy;

/// A checked ruleset and everything found wrong with it, sorted by position.
#[derive(Clone, Debug)]
pub struct CheckResult {
    pub model: Model,
    pub diagnostics: Vec<Diagnostic>,
}

impl CheckResult {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Checks the files of one ruleset together: declarations in one file see those of all.
pub fn check(files: &[&ParsedFile]) -> CheckResult {
    let unparsed: HashSet<String> = files
        .iter()
        .flat_map(|f| f.unparsed_names.iter().cloned())
        .collect();
    let decls: Vec<&ast::Decl> = files.iter().flat_map(|f| f.file.decls.iter()).collect();
    let environment = check_environment(&decls, &unparsed);
    let policies = decls
        .iter()
        .filter_map(|decl| check_policy(&environment, &unparsed, decl))
        .collect();
    // Uses may hide in what did not parse: then "never used" would be a guess.
    let report_unused = !files
        .iter()
        .any(|f| f.diagnostics.iter().any(Diagnostic::is_error));
    assemble(environment, policies, report_unused)
}

/// What every policy is checked against: the schema, the consts and the tables, checked
/// once. A policy's check depends on this and its own declaration only, so that the
/// language server re-checks just the policy being edited.
#[derive(Clone, Debug, Default)]
pub struct Environment {
    /// The model without policies; consts folded.
    pub model: Model,
    pub(crate) diagnostics: Vec<Diagnostic>,
    pub(crate) attr_index: HashMap<(Context, String), AttrId>,
    pub(crate) enum_index: HashMap<String, EnumId>,
    pub(crate) const_index: HashMap<String, ConstId>,
    pub(crate) table_index: HashMap<String, TableId>,
    /// Consts and tables used by other consts, tables and schema defaults.
    consts_used: Vec<bool>,
    tables_used: Vec<bool>,
    /// Every money literal's currency, in checking order.
    pub(crate) currency_uses: Vec<(String, Span)>,
}

/// One policy or profile, checked against an [`Environment`].
#[derive(Clone, Debug)]
pub struct CheckedPolicy {
    pub def: PolicyDef,
    pub(crate) diagnostics: Vec<Diagnostic>,
    consts_used: Vec<bool>,
    tables_used: Vec<bool>,
    pub(crate) currency_uses: Vec<(String, Span)>,
}

/// Checks the schema, consts and tables among `decls` (policies are skipped).
/// `unparsed`: names declared in text that did not parse, which are not reported unknown.
pub fn check_environment(decls: &[&ast::Decl], unparsed: &HashSet<String>) -> Environment {
    let mut checker = Checker::new(Cow::Owned(Environment::default()), unparsed);
    checker.declare_enums(decls);
    checker.declare_consts_and_tables(decls);
    checker.declare_attrs(decls);
    checker.check_consts();
    checker.check_tables();
    let Checker {
        env,
        mut diagnostics,
        consts_used,
        tables_used,
        currency_uses,
        ..
    } = checker;
    let mut env = env.into_owned();
    for index in 0..env.model.consts.len() {
        env.model.consts[index].folded = fold(&env.model, &env.model.consts[index].value);
    }
    diagnostics.extend(crate::lint::lint_environment(&env.model));
    Environment {
        diagnostics,
        consts_used,
        tables_used,
        currency_uses,
        ..env
    }
}

/// Checks one policy or profile declaration; `None` for any other declaration.
pub fn check_policy(
    env: &Environment,
    unparsed: &HashSet<String>,
    decl: &ast::Decl,
) -> Option<CheckedPolicy> {
    let DeclKind::Policy(policy) = &decl.kind else {
        return None;
    };
    let mut checker = Checker::new(Cow::Borrowed(env), unparsed);
    let def = checker.policy(policy, decl);
    let mut diagnostics = checker.diagnostics;
    diagnostics.extend(crate::lint::lint_policy(&env.model, &def));
    Some(CheckedPolicy {
        def,
        diagnostics,
        consts_used: checker.consts_used,
        tables_used: checker.tables_used,
        currency_uses: checker.currency_uses,
    })
}

/// The ruleset from its environment and its checked policies, in declaration order:
/// what needs them all (duplicate names, the one currency, unused declarations,
/// priority ties, looser profiles). `report_unused` is false when some text did not
/// parse, since uses may hide in it.
pub fn assemble(
    env: Environment,
    policies: Vec<CheckedPolicy>,
    report_unused: bool,
) -> CheckResult {
    let Environment {
        mut model,
        mut diagnostics,
        mut consts_used,
        mut tables_used,
        mut currency_uses,
        ..
    } = env;
    let mut policy_names: HashMap<String, Span> = HashMap::new();
    for policy in policies {
        let name = &policy.def.name;
        if let Some(&first) = policy_names.get(name) {
            diagnostics.push(
                Diagnostic::new(
                    Code::DUPLICATE_DECLARATION,
                    policy.def.span,
                    format!("a policy or profile named \"{name}\" is declared twice"),
                )
                .with_label(first, "first declared here"),
            );
            continue;
        }
        policy_names.insert(name.clone(), policy.def.span);
        diagnostics.extend(
            policy
                .diagnostics
                .into_iter()
                .filter(|d| report_unused || d.code != Code::UNUSED_LET),
        );
        for (all, used) in [
            (&mut consts_used, policy.consts_used),
            (&mut tables_used, policy.tables_used),
        ] {
            for (all, used) in all.iter_mut().zip(used) {
                *all |= used;
            }
        }
        currency_uses.extend(policy.currency_uses);
        model.policies.push(policy.def);
    }
    model.currency = currency_uses.first().map(|(code, _)| code.clone());
    diagnostics.extend(mixed_currencies(&currency_uses));
    if !report_unused {
        consts_used.fill(true);
        tables_used.fill(true);
    }
    diagnostics.extend(crate::lint::lint_ruleset(
        &model,
        &consts_used,
        &tables_used,
    ));
    sort_diagnostics(&mut diagnostics);
    diagnostics.dedup();
    CheckResult { model, diagnostics }
}

/// One currency per ruleset: the first money literal sets it.
fn mixed_currencies(uses: &[(String, Span)]) -> Vec<Diagnostic> {
    let Some((first, first_span)) = uses.first() else {
        return Vec::new();
    };
    uses.iter()
        .filter(|(code, _)| code != first)
        .map(|(code, span)| {
            Diagnostic::new(
                Code::MIXED_CURRENCY,
                *span,
                format!("this ruleset uses {first}; a money amount in {code} cannot mix with it"),
            )
            .with_label(*first_span, format!("{first} first used here"))
            .with_help("a ruleset uses one currency, the one its network data declares")
        })
        .collect()
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum State {
    #[default]
    Unchecked,
    InProgress,
    Done,
}

pub(crate) struct Scope<'s> {
    pub clause: Clause,
    pub params: &'s [(String, Type)],
}

impl Scope<'_> {
    pub fn of(clause: Clause) -> Scope<'static> {
        Scope {
            clause,
            params: &[],
        }
    }
}

struct LetSlot<'a> {
    name: &'a ast::Ident,
    value: &'a ast::Expr,
    span: Span,
    state: State,
    checked: Option<Expr>,
    used: bool,
}

pub(crate) struct Checker<'a> {
    /// Owned while the environment is being built; borrowed to check a policy.
    pub env: Cow<'a, Environment>,
    diagnostics: Vec<Diagnostic>,
    const_asts: Vec<&'a ast::Const>,
    const_state: Vec<State>,
    pub consts_used: Vec<bool>,
    table_asts: Vec<&'a ast::Table>,
    pub tables_used: Vec<bool>,
    /// For each table, the tables its rows call (to find recursion).
    pub table_calls: Vec<Vec<(TableId, Span)>>,
    pub current_table: Option<TableId>,
    pub unparsed: &'a HashSet<String>,
    /// Every money literal's currency seen by this check, in order.
    pub currency_uses: Vec<(String, Span)>,
    lets: Vec<LetSlot<'a>>,
    /// Whether the policy being checked has a `transit`, so delivery dates exist.
    delivery: Delivery,
    /// What the policy being checked routes: orders, or returns.
    pub(crate) domain: allot_syntax::ast::Domain,
}

/// Whether delivery dates can be read where a policy's items are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// The policy has a `transit`.
    Known,
    /// A policy without a `transit`.
    NoTransit,
    /// A compliance profile: delivery dates use the routing policy's transit (the
    /// whole-ruleset check makes sure every policy it can be layered on has one).
    Profile,
}

impl<'a> Checker<'a> {
    fn new(env: Cow<'a, Environment>, unparsed: &'a HashSet<String>) -> Checker<'a> {
        Checker {
            consts_used: vec![false; env.model.consts.len()],
            tables_used: vec![false; env.model.tables.len()],
            env,
            diagnostics: Vec::new(),
            const_asts: Vec::new(),
            const_state: Vec::new(),
            table_asts: Vec::new(),
            table_calls: Vec::new(),
            current_table: None,
            unparsed,
            currency_uses: Vec::new(),
            lets: Vec::new(),
            delivery: Delivery::NoTransit,
            domain: allot_syntax::ast::Domain::Orders,
        }
    }

    /// The currency to suggest: the environment's, or else the first this check saw.
    pub(crate) fn currency(&self) -> Option<&str> {
        let uses = &self.env.currency_uses;
        uses.first()
            .or(self.currency_uses.first())
            .map(|(code, _)| code.as_str())
    }

    /// The environment being built (never called while checking a policy).
    fn env_mut(&mut self) -> &mut Environment {
        self.env.to_mut()
    }

    pub(crate) fn error(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    pub(crate) fn show(&self, ty: &Type) -> String {
        let names: Vec<String> = self
            .env
            .model
            .enums
            .iter()
            .map(|e| e.name.clone())
            .collect();
        TypeDisplay {
            ty,
            enum_names: &names,
        }
        .to_string()
    }

    fn duplicate(&mut self, code: Code, what: &str, name: &ast::Ident, first: Span) {
        self.error(
            Diagnostic::new(
                code,
                name.span,
                format!("{what} `{}` is declared twice", name.name),
            )
            .with_label(first, "first declared here"),
        );
    }

    /// Reports `e` if its type is not `ty`; true when it fits.
    pub(crate) fn expect_type(&mut self, e: &Expr, ty: &Type, what: &str) -> bool {
        if e.ty.compatible(ty) {
            return true;
        }
        let message = format!("{what} {}, but this is {}", self.show(ty), self.show(&e.ty));
        let mut diagnostic = Diagnostic::new(Code::TYPE_MISMATCH, e.span, message);
        if let Some(fix) = self.unit_fix(e, ty) {
            diagnostic = diagnostic.with_fix(e.span, fix.clone(), format!("write `{fix}`"));
        }
        self.error(diagnostic);
        false
    }
}
