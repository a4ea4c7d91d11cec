//! Completion from the token stream around the cursor and the checked model: it works
//! in the half-typed text an editor holds, where the current item does not parse.

use crate::Ide;
use allot_check::model::{Builtin, BuiltinAttr, Context, LocationField};
use allot_check::types::{CURRENCIES, EnumId, Type, UNIT_NAMES};
use allot_diagnostics::FileId;
use allot_syntax::ast::DeclKind;
use allot_syntax::lexer::{Token, TokenKind};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CompletionKind {
    Attribute,
    Variant,
    Unit,
    Const,
    Table,
    Let,
    Function,
    Keyword,
    Snippet,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    pub label: String,
    pub kind: CompletionKind,
    pub detail: Option<String>,
    /// With `$1`-style placeholders when `snippet` is set.
    pub insert: Option<String>,
    pub snippet: bool,
}

impl Completion {
    fn plain(label: impl Into<String>, kind: CompletionKind, detail: Option<String>) -> Completion {
        Completion {
            label: label.into(),
            kind,
            detail,
            insert: None,
            snippet: false,
        }
    }

    fn snippet(label: &str, body: &str, detail: &str) -> Completion {
        Completion {
            label: label.into(),
            kind: CompletionKind::Snippet,
            detail: Some(detail.into()),
            insert: Some(body.into()),
            snippet: true,
        }
    }
}

const DECLARATION_SNIPPETS: &[(&str, &str, &str)] = &[
    (
        "policy",
        "policy \"${1:name}\" {\n  applies when ${2:order.channel == \"web\"}\n  $0\n}",
        "a routing policy",
    ),
    (
        "compliance",
        "compliance \"${1:name}\" {\n  applies when ${2:order.retailer == \"partner\"}\n  $0\n}",
        "a compliance profile",
    ),
    (
        "returns",
        "returns \"${1:name}\" {\n  applies when ${2:return.channel == \"web\"}\n  $0\n}",
        "how returned items are routed back",
    ),
    (
        "table",
        "table ${1:name}(${2:d}: ${3:distance}) -> ${4:money} {\n  ${5:d < 150 km} => ${6:6.50 USD}\n  _ => ${7:9.00 USD}\n}",
        "a lookup table",
    ),
    ("const", "const ${1:name} = ${2:value}", "a named value"),
    ("schema", "schema {\n  $0\n}", "custom attributes and enums"),
];

const ITEM_SNIPPETS: &[(&str, &str, &str)] = &[
    (
        "applies when",
        "applies when ${1:condition}",
        "the orders this is for",
    ),
    (
        "priority",
        "priority ${1:10}",
        "the highest applicable policy routes",
    ),
    ("let", "let ${1:name} = ${2:value}", "a named value"),
    (
        "exclude when",
        "exclude when ${1:condition} because \"${2:reason}\"",
        "a node that meets the condition cannot take the line",
    ),
    (
        "safety stock",
        "safety stock ${1:2} when ${2:node.kind == store}",
        "units per SKU a node keeps back",
    ),
    (
        "cost",
        "cost ${1:name} per ${2|shipment,line,unit|} = ${3:value}",
        "a money term of the plan",
    ),
    (
        "objective",
        "objective {\n  minimize ${1:shipments}\n  minimize ${2:cost}\n}",
        "ordered criteria",
    ),
    (
        "max shipments",
        "max shipments ${1:3}",
        "bounds the nodes a plan uses",
    ),
    ("ship complete", "ship complete", "one shipment, all lines"),
    (
        "transit",
        "transit = ${1:2 days}",
        "how long a shipment from the node takes to arrive",
    ),
    (
        "ship within",
        "ship within ${1:2} business days because \"${2:reason}\"",
        "a node that cannot ship in time cannot take the order",
    ),
    (
        "deliver within",
        "deliver within ${1:5} days because \"${2:reason}\"",
        "a node whose shipment would arrive later cannot take the order",
    ),
    (
        "refund without return when",
        "refund without return when ${1:line.price < 10 USD} because \"${2:reason}\"",
        "in returns: the shopper keeps the line",
    ),
    (
        "dispose when",
        "dispose when ${1:line.condition == damaged} because \"${2:reason}\"",
        "in returns: the line is not sent anywhere",
    ),
    (
        "deliver by",
        "deliver by ${1:order.promised_by} because \"${2:reason}\"",
        "a node whose shipment would arrive after the date cannot take the order",
    ),
    ("no line split", "no line split", "each line from one node"),
    (
        "stage",
        "stage \"${1:name}\" when ${2:condition}",
        "a fallback tier of nodes",
    ),
    (
        "on shortage",
        "on shortage ${1|backorder,cancel,reject|}",
        "what happens to units no node can take",
    ),
    (
        "reject when",
        "reject when ${1:condition} because \"${2:reason}\"",
        "reject the order before routing",
    ),
    (
        "hold when",
        "hold when ${1:condition} because \"${2:reason}\"",
        "hold the order for a person",
    ),
];

/// What can be written at `offset` of `file`.
pub fn completions(ide: &Ide, file: FileId, offset: u32) -> Vec<Completion> {
    let text = ide.text(file);
    let offset = offset.min(text.len() as u32);
    let tokens = ide.tokens(file);
    // The word being typed is replaced; the context is what comes before it.
    let typing = tokens
        .iter()
        .find(|t| t.kind == TokenKind::Ident && t.start < offset && offset <= t.end);
    let start = typing.map_or(offset, |t| t.start);
    let before: Vec<&Token> = tokens
        .iter()
        .filter(|t| t.end <= start && !t.is_trivia())
        .collect();
    let previous = before.last().copied();
    let word = |t: &Token| t.text(text);

    match previous.map(|t| t.kind) {
        Some(TokenKind::Dot) => return attributes(ide, &path_before(&before, text)),
        Some(TokenKind::Number) => return units(ide),
        _ => {}
    }
    let line_start = text[..start as usize].rfind('\n').map_or(0, |i| i + 1);
    let at_line_start = text[line_start..start as usize].trim().is_empty();
    let blocks = open_blocks(&before, text);
    if at_line_start {
        match blocks.last().map(String::as_str) {
            None => return snippets(DECLARATION_SNIPPETS),
            Some("policy" | "compliance") => return snippets(ITEM_SNIPPETS),
            Some("objective") => {
                return ["minimize", "maximize"]
                    .iter()
                    .map(|k| Completion::plain(*k, CompletionKind::Keyword, None))
                    .collect();
            }
            _ => {}
        }
    }
    // Where an enum is expected: after `==`, `!=`, `in`, or inside `in [ … ]`.
    if let Some(e) = expected_enum(ide, &before, text) {
        let def = &ide.model().enums[e.0 as usize];
        return def
            .variants
            .iter()
            .map(|v| Completion::plain(v, CompletionKind::Variant, Some(def.name.clone())))
            .collect();
    }
    if previous.is_some_and(|t| t.kind == TokenKind::Ident && word(t) == "per") {
        return ["shipment", "line", "unit"]
            .iter()
            .map(|k| Completion::plain(*k, CompletionKind::Keyword, None))
            .collect();
    }
    expression_names(ide, file, start)
}

fn snippets(list: &[(&str, &str, &str)]) -> Vec<Completion> {
    list.iter()
        .map(|(label, body, detail)| Completion::snippet(label, body, detail))
        .collect()
}

/// The dotted names before the final dot: `line.item.` gives `["line", "item"]`.
fn path_before(before: &[&Token], text: &str) -> Vec<String> {
    let mut path = Vec::new();
    let mut i = before.len().saturating_sub(1); // the dot
    while i > 0 && before[i].kind == TokenKind::Dot {
        let name = before[i - 1];
        if name.kind != TokenKind::Ident {
            break;
        }
        path.push(name.text(text).to_string());
        if i < 2 {
            break;
        }
        i -= 2;
    }
    path.reverse();
    path
}

/// The context a dotted path reaches, if it is a record.
fn context_of(path: &[String]) -> Option<Context> {
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    match path.as_slice() {
        ["order"] => Some(Context::Order),
        ["line"] => Some(Context::Line),
        ["line", "item"] => Some(Context::Item),
        ["node"] => Some(Context::Node),
        ["shipment"] => Some(Context::Shipment),
        ["return"] => Some(Context::Return),
        _ => None,
    }
}

fn attributes(ide: &Ide, path: &[String]) -> Vec<Completion> {
    if matches!(
        path.last().map(String::as_str),
        Some("ship_to" | "location")
    ) {
        return LocationField::ALL
            .iter()
            .map(|(_, name)| {
                Completion::plain(*name, CompletionKind::Attribute, Some("string".into()))
            })
            .collect();
    }
    let Some(context) = context_of(path) else {
        return Vec::new();
    };
    let names = ide.model().enum_names();
    let show = |ty: &Type| {
        allot_check::types::TypeDisplay {
            ty,
            enum_names: &names,
        }
        .to_string()
    };
    let mut out: Vec<Completion> = BuiltinAttr::ALL
        .iter()
        .filter(|b| b.context() == context)
        .map(|b| Completion::plain(b.name(), CompletionKind::Attribute, Some(show(&b.ty()))))
        .collect();
    if context == Context::Line {
        out.push(Completion::plain(
            "item",
            CompletionKind::Attribute,
            Some("the item's catalog attributes".into()),
        ));
    }
    out.extend(
        ide.model()
            .attrs
            .iter()
            .filter(|a| a.context == context)
            .map(|a| Completion::plain(&a.name, CompletionKind::Attribute, Some(show(&a.ty)))),
    );
    out
}

fn units(ide: &Ide) -> Vec<Completion> {
    let currency = ide.model().currency.clone();
    let mut out: Vec<Completion> = UNIT_NAMES
        .iter()
        .map(|u| {
            let dim = allot_check::types::unit_named(u).map(|u| u.dim.name().to_string());
            Completion::plain(*u, CompletionKind::Unit, dim)
        })
        .collect();
    match currency {
        Some(c) => out.push(Completion::plain(
            c,
            CompletionKind::Unit,
            Some("money".into()),
        )),
        None => out.extend(
            CURRENCIES
                .iter()
                .map(|c| Completion::plain(*c, CompletionKind::Unit, Some("money".into()))),
        ),
    }
    out
}

/// The owners of the blocks open before the cursor: `policy`, `compliance`, `schema`,
/// `table`, `objective`, or `(`/`[` for brackets.
fn open_blocks(before: &[&Token], text: &str) -> Vec<String> {
    let mut stack: Vec<String> = Vec::new();
    let mut declaration = String::new();
    for (i, token) in before.iter().enumerate() {
        match token.kind {
            TokenKind::Ident if stack.is_empty() => {
                let w = token.text(text);
                if allot_syntax::lexer::DECLARATION_KEYWORDS.contains(&w) {
                    declaration = w.to_string();
                }
            }
            TokenKind::LBrace => {
                let owner = match i.checked_sub(1).map(|j| before[j].text(text)) {
                    Some("objective") => "objective".to_string(),
                    _ if stack.is_empty() => declaration.clone(),
                    _ => "{".to_string(),
                };
                stack.push(owner);
            }
            TokenKind::LParen | TokenKind::LBracket => stack.push(token.text(text).into()),
            TokenKind::RBrace | TokenKind::RParen | TokenKind::RBracket => {
                stack.pop();
            }
            _ => {}
        }
    }
    stack
}

/// The enum the cursor's position expects, from the attribute or expression before
/// a comparison or `in`.
fn expected_enum(ide: &Ide, before: &[&Token], text: &str) -> Option<EnumId> {
    let mut i = before.len().checked_sub(1)?;
    // Inside `in [a, b, |`: go back over the list to its `[`.
    if before[i].kind == TokenKind::Comma {
        while before[i].kind != TokenKind::LBracket {
            if !matches!(before[i].kind, TokenKind::Comma | TokenKind::Ident) {
                return None;
            }
            i = i.checked_sub(1)?;
        }
    }
    if before[i].kind == TokenKind::LBracket {
        i = i.checked_sub(1)?;
    }
    let operator = before[i];
    let is_operator = matches!(operator.kind, TokenKind::EqEq | TokenKind::NotEq)
        || operator.kind == TokenKind::Ident && operator.text(text) == "in";
    if !is_operator {
        return None;
    }
    // `not in`: the operand is before `not`.
    let mut end = i;
    if end > 0 && before[end - 1].text(text) == "not" {
        end -= 1;
    }
    let operand = &before[..end];
    let path = {
        let mut names = Vec::new();
        let mut j = operand.len();
        while j > 0 && operand[j - 1].kind == TokenKind::Ident {
            names.push(operand[j - 1].text(text).to_string());
            if j >= 2 && operand[j - 2].kind == TokenKind::Dot {
                j -= 2;
            } else {
                break;
            }
        }
        names.reverse();
        names
    };
    let (last, record) = path.split_last()?;
    let model = ide.model();
    let ty = match context_of(record) {
        Some(context) => BuiltinAttr::ALL
            .iter()
            .find(|b| b.context() == context && b.name() == last)
            .map(|b| b.ty())
            .or_else(|| {
                model
                    .attrs
                    .iter()
                    .find(|a| a.context == context && a.name == *last)
                    .map(|a| a.ty.clone())
            }),
        None if record.is_empty() => model
            .consts
            .iter()
            .find(|c| c.name == *last)
            .map(|c| c.ty.clone()),
        None => None,
    }?;
    match ty {
        Type::Enum(e) => Some(e),
        Type::Set(element) => match *element {
            Type::Enum(e) => Some(e),
            _ => None,
        },
        _ => None,
    }
}

/// Names an expression can use at `offset`: the enclosing policy's `let`s, consts,
/// tables, built-in functions, the records, and literals.
fn expression_names(ide: &Ide, file: FileId, offset: u32) -> Vec<Completion> {
    let model = ide.model();
    let names = model.enum_names();
    let show = |ty: &Type| {
        allot_check::types::TypeDisplay {
            ty,
            enum_names: &names,
        }
        .to_string()
    };
    let mut out = Vec::new();
    // The policy around the cursor, by the declaration that contains it.
    let enclosing = ide.files().get(file.0 as usize).and_then(|&source| {
        allot_db::parsed_file(ide.db, source)
            .file
            .decls
            .iter()
            .find(|d| d.span.start <= offset && offset <= d.span.end)
            .and_then(|d| match &d.kind {
                DeclKind::Policy(p) => Some(p.name.value.clone()),
                _ => None,
            })
    });
    if let Some(policy) = enclosing.and_then(|name| model.policies.iter().find(|p| p.name == name))
    {
        out.extend(
            policy
                .lets
                .iter()
                .map(|l| Completion::plain(&l.name, CompletionKind::Let, Some(show(&l.value.ty)))),
        );
    }
    out.extend(
        model
            .consts
            .iter()
            .map(|c| Completion::plain(&c.name, CompletionKind::Const, Some(show(&c.ty)))),
    );
    out.extend(model.tables.iter().map(|t| Completion {
        label: t.name.clone(),
        kind: CompletionKind::Table,
        detail: Some(format!("table -> {}", show(&t.result))),
        insert: Some(format!("{}($1)", t.name)),
        snippet: true,
    }));
    out.extend(Builtin::ALL.iter().map(|(_, name, doc)| Completion {
        label: name.to_string(),
        kind: CompletionKind::Function,
        detail: Some(doc.to_string()),
        insert: Some(format!("{name}($1)")),
        snippet: true,
    }));
    for (word, detail) in [
        ("order", "the order"),
        ("line", "the line being placed"),
        ("node", "the candidate node"),
        ("shipment", "the shipment (per-shipment costs)"),
        ("return", "the return (in returns policies)"),
    ] {
        out.push(Completion::plain(
            word,
            CompletionKind::Keyword,
            Some(detail.into()),
        ));
    }
    for word in ["not", "if", "true", "false", "and", "or", "in"] {
        out.push(Completion::plain(word, CompletionKind::Keyword, None));
    }
    out
}
