//! Editor features of Allot, in terms of files and byte offsets: hover, definitions,
//! references, rename, completion, symbols, semantic tokens, inlay hints and quick
//! fixes. The language server translates them to LSP; nothing here knows LSP.

mod complete;
mod docs;
mod index;
mod network;
mod tokens;

pub use complete::{Completion, CompletionKind, completions};
pub use index::{Index, Occurrence, Symbol};
pub use network::NodeDirectory;
pub use tokens::{SemanticKind, semantic_tokens};

use allot_check::model::Model;
use allot_check::types::{Type, TypeDisplay};
use allot_db::{Database, Ruleset, SourceFile};
use allot_diagnostics::{FileId, Span};
use allot_syntax::ast::{DeclKind, ItemKind};

/// The symbol index of a ruleset, built once per revision of its files.
#[salsa::tracked(returns(ref), no_eq)]
pub fn symbol_index(db: &dyn salsa::Database, ruleset: Ruleset) -> Index {
    Index::new(allot_db::model(db, ruleset))
}

/// Editor features over one ruleset of the database.
pub struct Ide<'db> {
    pub db: &'db Database,
    pub ruleset: Ruleset,
    /// The nodes of the ruleset's network snapshot, when the editor found one.
    pub network: Option<&'db NodeDirectory>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hover {
    pub span: Span,
    /// Markdown.
    pub text: String,
}

/// An outline entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outline {
    pub name: String,
    pub kind: OutlineKind,
    /// The whole declaration or item.
    pub span: Span,
    /// Its name.
    pub name_span: Span,
    pub children: Vec<Outline>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutlineKind {
    Schema,
    Enum,
    Attribute,
    Const,
    Table,
    Policy,
    Profile,
    Let,
    Cost,
    Stage,
}

/// A quick fix: its title and the edits that make it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuickFix {
    pub title: String,
    pub diagnostic: allot_diagnostics::Diagnostic,
    pub edits: Vec<(Span, String)>,
}

impl<'db> Ide<'db> {
    pub fn model(&self) -> &'db Model {
        allot_db::model(self.db, self.ruleset)
    }

    fn index(&self) -> &'db Index {
        symbol_index(self.db, self.ruleset)
    }

    pub fn files(&self) -> &'db [SourceFile] {
        self.ruleset.files(self.db)
    }

    /// The file's tokens, from its (remembered) parse.
    pub fn tokens(&self, file: FileId) -> &'db [allot_syntax::lexer::Token] {
        self.files().get(file.0 as usize).map_or(&[], |&source| {
            allot_db::parsed_file(self.db, source).tokens.as_slice()
        })
    }

    pub fn text(&self, file: FileId) -> &'db str {
        self.files()
            .get(file.0 as usize)
            .map_or("", |f| f.text(self.db).as_str())
    }

    fn show(&self, ty: &Type) -> String {
        TypeDisplay {
            ty,
            enum_names: &self.model().enum_names(),
        }
        .to_string()
    }

    /// What is at `offset`: a name's definition and documentation, an expression's
    /// type and unit, or a keyword's meaning.
    pub fn hover(&self, file: FileId, offset: u32) -> Option<Hover> {
        if let Some(hover) = self.node_hover(file, offset) {
            return Some(hover);
        }
        let index = self.index();
        if let Some(occurrence) = index.occurrence_at(file, offset) {
            return Some(Hover {
                span: occurrence.span,
                text: self.describe(occurrence.symbol),
            });
        }
        if let Some(typed) = index.expression_at(file, offset) {
            let deps = typed.deps.names();
            let evaluated = if deps.is_empty() {
                "a constant".to_string()
            } else {
                format!("depends on {}", deps.join(", "))
            };
            return Some(Hover {
                span: typed.span,
                text: format!("```allot\n{}\n```\n{evaluated}", self.show(&typed.ty)),
            });
        }
        let text = self.text(file);
        let token = *self
            .tokens(file)
            .iter()
            .find(|t| t.start <= offset && offset < t.end)?;
        let word = token.text(text);
        let doc = docs::keyword(word)
            .map(str::to_string)
            .or_else(|| docs::unit(word))?;
        Some(Hover {
            span: Span {
                file,
                start: token.start,
                end: token.end,
            },
            text: doc,
        })
    }

    /// The network's node whose id is the string at `offset`.
    fn node_hover(&self, file: FileId, offset: u32) -> Option<Hover> {
        let token = *self
            .tokens(file)
            .iter()
            .find(|t| t.start <= offset && offset < t.end)?;
        if token.kind != allot_syntax::lexer::TokenKind::String {
            return None;
        }
        let quoted = token.text(self.text(file));
        let id = quoted.get(1..quoted.len().saturating_sub(1))?;
        Some(Hover {
            span: Span {
                file,
                start: token.start,
                end: token.end,
            },
            text: self.network?.describe(id)?.to_string(),
        })
    }

    /// Markdown for a symbol: its signature and documentation.
    pub fn describe(&self, symbol: Symbol) -> String {
        let model = self.model();
        let code = |signature: String, doc: Option<&str>| match doc {
            Some(doc) => format!("```allot\n{signature}\n```\n\n{doc}"),
            None => format!("```allot\n{signature}\n```"),
        };
        match symbol {
            Symbol::Const(id) => {
                let c = &model.consts[id.0 as usize];
                code(
                    format!("const {}: {}", c.name, self.show(&c.ty)),
                    c.doc.as_deref(),
                )
            }
            Symbol::Table(id) => {
                let t = &model.tables[id.0 as usize];
                let params: Vec<String> = t
                    .params
                    .iter()
                    .map(|(n, ty)| format!("{n}: {}", self.show(ty)))
                    .collect();
                code(
                    format!(
                        "table {}({}) -> {}",
                        t.name,
                        params.join(", "),
                        self.show(&t.result)
                    ),
                    t.doc.as_deref(),
                )
            }
            Symbol::Let(p, id) => {
                let def = &model.policies[p].lets[id.0 as usize];
                let deps = def.value.deps.names();
                let when = if deps.is_empty() {
                    "computed once".to_string()
                } else {
                    format!("computed once per {}", deps.join(" × "))
                };
                code(
                    format!("let {}: {}", def.name, self.show(&def.value.ty)),
                    Some(&when),
                )
            }
            Symbol::Attr(id) => {
                let a = &model.attrs[id.0 as usize];
                code(
                    format!("{}.{}: {}", a.context.path(), a.name, self.show(&a.ty)),
                    a.doc.as_deref(),
                )
            }
            Symbol::Builtin(b) => code(
                format!(
                    "{}.{}: {}",
                    b.context().path(),
                    b.name(),
                    self.show(&b.ty())
                ),
                Some(b.doc()),
            ),
            Symbol::Variant(e, v) => {
                let def = &model.enums[e.0 as usize];
                code(
                    format!("{}.{}", def.name, def.variants[v as usize]),
                    def.doc.as_deref(),
                )
            }
            Symbol::Enum(e) => {
                let def = &model.enums[e.0 as usize];
                code(
                    format!("enum {} {{ {} }}", def.name, def.variants.join(", ")),
                    def.doc.as_deref(),
                )
            }
            Symbol::Function(function) => {
                let (_, name, doc) = allot_check::model::Builtin::ALL
                    .iter()
                    .find(|(b, _, _)| *b == function)
                    .expect("every built-in is listed");
                code(format!("fn {name}"), Some(doc))
            }
            Symbol::Policy(p) => {
                let def = &model.policies[p];
                code(
                    format!("{} \"{}\"", def.kind.keyword(), def.name),
                    def.doc.as_deref(),
                )
            }
        }
    }

    /// Where the name at `offset` is declared.
    pub fn definition(&self, file: FileId, offset: u32) -> Option<Span> {
        let index = self.index();
        let symbol = index.occurrence_at(file, offset)?.symbol;
        index
            .occurrences_of(symbol)
            .find(|o| o.definition)
            .map(|o| o.span)
    }

    /// Every place the name at `offset` is written, its declaration first when asked.
    pub fn references(&self, file: FileId, offset: u32, with_declaration: bool) -> Vec<Span> {
        let index = self.index();
        let Some(symbol) = index.occurrence_at(file, offset).map(|o| o.symbol) else {
            return Vec::new();
        };
        let mut spans: Vec<(bool, Span)> = index
            .occurrences_of(symbol)
            .filter(|o| with_declaration || !o.definition)
            .map(|o| (!o.definition, o.span))
            .collect();
        spans.sort_by_key(|(use_, s)| (*use_, s.file, s.start));
        spans.dedup();
        spans.into_iter().map(|(_, s)| s).collect()
    }

    /// The edits that rename the name at `offset` everywhere in the ruleset.
    pub fn rename(
        &self,
        file: FileId,
        offset: u32,
        new_name: &str,
    ) -> Result<Vec<(Span, String)>, String> {
        let index = self.index();
        let symbol = index
            .occurrence_at(file, offset)
            .ok_or("there is no name here to rename")?
            .symbol;
        match symbol {
            Symbol::Builtin(_) | Symbol::Function(_) => {
                return Err("built-in names cannot be renamed".into());
            }
            Symbol::Policy(_) => return Err("rename a policy by editing its name".into()),
            Symbol::Enum(e) | Symbol::Variant(e, _)
                if self.model().enums[e.0 as usize].span.is_none() =>
            {
                return Err("built-in enums cannot be renamed".into());
            }
            _ => {}
        }
        let valid = new_name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && new_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid || allot_syntax::lexer::KEYWORDS.contains(&new_name) {
            return Err(format!("`{new_name}` is not a valid name"));
        }
        let mut edits: Vec<(Span, String)> = index
            .occurrences_of(symbol)
            .map(|o| (o.span, new_name.to_string()))
            .collect();
        edits.sort_by_key(|(s, _)| (s.file, s.start));
        edits.dedup();
        Ok(edits)
    }

    /// The outline of a file: declarations, and inside policies their lets, costs and
    /// stages.
    pub fn outline(&self, file: FileId) -> Vec<Outline> {
        let Some(&source) = self.files().get(file.0 as usize) else {
            return Vec::new();
        };
        let parsed = allot_db::parsed_file(self.db, source);
        let text = self.text(file);
        parsed
            .file
            .decls
            .iter()
            .map(|decl| {
                let node = |name: String, kind, span, name_span, children| Outline {
                    name,
                    kind,
                    span,
                    name_span,
                    children,
                };
                match &decl.kind {
                    DeclKind::Schema(schema) => {
                        let mut children: Vec<Outline> = schema
                            .enums
                            .iter()
                            .map(|e| {
                                node(
                                    e.name.name.clone(),
                                    OutlineKind::Enum,
                                    e.span,
                                    e.name.span,
                                    Vec::new(),
                                )
                            })
                            .collect();
                        children.extend(schema.attrs.iter().map(|a| {
                            node(
                                format!("{}.{}", a.owner.name, a.name.name),
                                OutlineKind::Attribute,
                                a.span,
                                a.name.span,
                                Vec::new(),
                            )
                        }));
                        let keyword = Span {
                            end: decl.span.start + 6,
                            ..decl.span
                        };
                        node(
                            "schema".into(),
                            OutlineKind::Schema,
                            decl.span,
                            keyword,
                            children,
                        )
                    }
                    DeclKind::Const(c) => node(
                        c.name.name.clone(),
                        OutlineKind::Const,
                        decl.span,
                        c.name.span,
                        Vec::new(),
                    ),
                    DeclKind::Table(t) => node(
                        t.name.name.clone(),
                        OutlineKind::Table,
                        decl.span,
                        t.name.span,
                        Vec::new(),
                    ),
                    DeclKind::Policy(p) => {
                        let children = p
                            .items
                            .iter()
                            .filter_map(|item| {
                                let (label, kind, at) = match &item.kind {
                                    ItemKind::Let { name, .. } => {
                                        (name.name.clone(), OutlineKind::Let, name.span)
                                    }
                                    ItemKind::Cost { name, .. } => {
                                        (name.name.clone(), OutlineKind::Cost, name.span)
                                    }
                                    ItemKind::Stage { name, .. } => {
                                        (name.value.clone(), OutlineKind::Stage, name.span)
                                    }
                                    _ => return None,
                                };
                                Some(node(label, kind, item.span, at, Vec::new()))
                            })
                            .collect();
                        let kind = match p.kind {
                            allot_syntax::ast::PolicyKind::Policy => OutlineKind::Policy,
                            allot_syntax::ast::PolicyKind::Compliance => OutlineKind::Profile,
                        };
                        let name = text
                            .get(p.name.span.start as usize..p.name.span.end as usize)
                            .unwrap_or(&p.name.value)
                            .to_string();
                        node(name, kind, decl.span, p.name.span, children)
                    }
                }
            })
            .collect()
    }

    /// Declarations of every file whose name contains `query` (case-insensitive).
    pub fn workspace_symbols(&self, query: &str) -> Vec<Outline> {
        let query = query.to_lowercase();
        let mut found = Vec::new();
        for (i, _) in self.files().iter().enumerate() {
            let mut stack = self.outline(FileId(i as u32));
            while let Some(entry) = stack.pop() {
                if entry.name.to_lowercase().contains(&query) {
                    found.push(Outline {
                        children: Vec::new(),
                        ..entry.clone()
                    });
                }
                stack.extend(entry.children);
            }
        }
        found.sort_by_key(|o| (o.span.file, o.span.start));
        found
    }

    /// The type of each `let` of the file, to show after its name.
    pub fn inlay_hints(&self, file: FileId) -> Vec<(u32, String)> {
        let mut hints: Vec<(u32, String)> = self
            .model()
            .policies
            .iter()
            .flat_map(|p| &p.lets)
            .filter(|l| l.name_span.file == file && !l.value.ty.is_error())
            .map(|l| (l.name_span.end, format!(": {}", self.show(&l.value.ty))))
            .collect();
        hints.sort();
        hints
    }

    /// Quick fixes of the diagnostics that touch `span`: did-you-mean and missing units.
    pub fn quick_fixes(&self, span: Span) -> Vec<QuickFix> {
        allot_db::diagnostics(self.db, self.ruleset)
            .iter()
            .filter(|d| {
                d.span.file == span.file && d.span.start <= span.end && span.start <= d.span.end
            })
            .filter_map(|d| {
                let fix = d.fix.as_ref()?;
                Some(QuickFix {
                    title: d
                        .help
                        .clone()
                        .unwrap_or_else(|| format!("replace with `{}`", fix.replacement)),
                    diagnostic: d.clone(),
                    edits: vec![(fix.span, fix.replacement.clone())],
                })
            })
            .collect()
    }
}
