//! The Allot language server: LSP over stdio on top of the front end's incremental
//! database. This crate is the only one that knows LSP; the features are `allot-ide`'s.
//!
//! Writes (opening, editing, closing documents) take the state's lock and set inputs of
//! the database; reads clone the database handle and run on a blocking thread, so an
//! edit that arrives meanwhile cancels them (salsa unwinds them) and the request is
//! answered with `ContentModified`. A panic inside a request is caught, logged and
//! answered with an error; the server goes on.

mod convert;
mod state;

use allot_ide::{CompletionKind, Ide, OutlineKind, SemanticKind};
use convert::Lines;
use state::State;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer, LspService, Server};

/// Serves LSP on standard input and output until the client exits.
pub fn serve_stdio() -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let (service, socket) = LspService::new(Backend::new);
        Server::new(tokio::io::stdin(), tokio::io::stdout(), socket)
            .serve(service)
            .await;
    });
    Ok(())
}

pub struct Backend {
    client: Client,
    state: Arc<Mutex<State>>,
}

/// What a read needs: a handle on the database and where the document is.
struct Snapshot {
    db: allot_db::Database,
    ruleset: allot_db::Ruleset,
    file: allot_diagnostics::FileId,
    uris: Vec<Uri>,
    network: Option<Arc<allot_ide::NodeDirectory>>,
}

impl Backend {
    pub fn new(client: Client) -> Backend {
        Backend {
            client,
            state: Arc::new(Mutex::new(State::default())),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves the state as the last write made it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn snapshot(&self, uri: &Uri) -> Option<Snapshot> {
        let state = self.lock();
        let (ruleset, file) = state.document(uri)?;
        Some(Snapshot {
            db: state.db.clone(),
            ruleset,
            file,
            uris: state.uris(ruleset),
            network: state.network(ruleset),
        })
    }

    /// Runs a read on a blocking thread: cancelled by a newer edit, or caught if it panics.
    async fn read<R: Send + 'static>(
        &self,
        uri: &Uri,
        f: impl FnOnce(&Ide, &Snapshot) -> R + Send + 'static,
    ) -> Result<Option<R>> {
        let Some(snapshot) = self.snapshot(uri) else {
            return Ok(None);
        };
        let result = tokio::task::spawn_blocking(move || {
            std::panic::catch_unwind(AssertUnwindSafe(|| {
                salsa::Cancelled::catch(AssertUnwindSafe(|| {
                    let ide = Ide {
                        db: &snapshot.db,
                        ruleset: snapshot.ruleset,
                        network: snapshot.network.as_deref(),
                    };
                    f(&ide, &snapshot)
                }))
            }))
        })
        .await;
        let outcome = result.unwrap_or_else(|join| Err(panic_of_join(join)));
        match outcome {
            Ok(Ok(value)) => Ok(Some(value)),
            Ok(Err(_cancelled)) => Err(Error::content_modified()),
            Err(panic) => {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "unknown panic".into());
                self.client
                    .log_message(
                        MessageType::ERROR,
                        format!("allot lsp: a request failed: {message}"),
                    )
                    .await;
                Err(Error::internal_error())
            }
        }
    }

    /// Publishes the diagnostics of every file of the ruleset `uri` belongs to.
    async fn publish(&self, uri: &Uri) {
        let published = self
            .read(uri, |ide, snapshot| {
                let mut by_file: HashMap<u32, Vec<Diagnostic>> = HashMap::new();
                for (i, _) in snapshot.uris.iter().enumerate() {
                    by_file.insert(i as u32, Vec::new());
                }
                let mut locator = Locator::new(ide, snapshot);
                for d in allot_db::diagnostics(ide.db, ide.ruleset) {
                    let related = d
                        .labels
                        .iter()
                        .filter_map(|label| {
                            Some(DiagnosticRelatedInformation {
                                location: locator.location(label.span)?,
                                message: label.message.clone(),
                            })
                        })
                        .collect::<Vec<_>>();
                    let message = match &d.help {
                        Some(help) => format!("{}\nhelp: {help}", d.message),
                        None => d.message.clone(),
                    };
                    by_file.entry(d.span.file.0).or_default().push(Diagnostic {
                        range: locator.range(d.span),
                        severity: Some(if d.is_error() {
                            DiagnosticSeverity::ERROR
                        } else {
                            DiagnosticSeverity::WARNING
                        }),
                        code: Some(NumberOrString::String(d.code.as_str().to_string())),
                        source: Some("allot".into()),
                        message,
                        related_information: (!related.is_empty()).then_some(related),
                        ..Diagnostic::default()
                    });
                }
                by_file
                    .into_iter()
                    .filter_map(|(i, diagnostics)| {
                        Some((snapshot.uris.get(i as usize)?.clone(), diagnostics))
                    })
                    .collect::<Vec<_>>()
            })
            .await;
        // Cancelled by a newer edit: that edit publishes.
        if let Ok(Some(files)) = published {
            for (uri, diagnostics) in files {
                self.client
                    .publish_diagnostics(uri, diagnostics, None)
                    .await;
            }
        }
    }
}

/// A join error carries the panic of a blocking task that could not be caught inside.
fn panic_of_join(error: tokio::task::JoinError) -> Box<dyn std::any::Any + Send> {
    match error.try_into_panic() {
        Ok(panic) => panic,
        Err(error) => Box::new(error.to_string()),
    }
}

pub fn semantic_legend() -> SemanticTokensLegend {
    SemanticTokensLegend {
        token_types: SemanticKind::ALL
            .iter()
            .map(|kind| match kind {
                SemanticKind::Keyword => SemanticTokenType::KEYWORD,
                SemanticKind::Comment | SemanticKind::DocComment => SemanticTokenType::COMMENT,
                SemanticKind::String => SemanticTokenType::STRING,
                SemanticKind::Number => SemanticTokenType::NUMBER,
                SemanticKind::Operator => SemanticTokenType::OPERATOR,
                SemanticKind::Property => SemanticTokenType::PROPERTY,
                SemanticKind::Function => SemanticTokenType::FUNCTION,
                SemanticKind::Variable => SemanticTokenType::VARIABLE,
                SemanticKind::Type => SemanticTokenType::TYPE,
            })
            .collect(),
        token_modifiers: vec![SemanticTokenModifier::DOCUMENTATION],
    }
}

/// Spans of any file of the ruleset as LSP locations; each file's lines are indexed once.
struct Locator<'a> {
    ide: &'a Ide<'a>,
    uris: &'a [Uri],
    lines: HashMap<u32, Lines<'a>>,
}

impl<'a> Locator<'a> {
    fn new(ide: &'a Ide<'a>, snapshot: &'a Snapshot) -> Locator<'a> {
        Locator {
            ide,
            uris: &snapshot.uris,
            lines: HashMap::new(),
        }
    }

    fn range(&mut self, span: allot_diagnostics::Span) -> Range {
        let ide = self.ide;
        self.lines
            .entry(span.file.0)
            .or_insert_with(|| Lines::new(ide.text(span.file)))
            .range(span.start, span.end)
    }

    fn location(&mut self, span: allot_diagnostics::Span) -> Option<Location> {
        let uri = self.uris.get(span.file.0 as usize)?.clone();
        Some(Location {
            uri,
            range: self.range(span),
        })
    }
}

fn edits_by_uri(
    locator: &mut Locator,
    edits: &[(allot_diagnostics::Span, String)],
) -> HashMap<Uri, Vec<TextEdit>> {
    let mut changes: HashMap<Uri, Vec<TextEdit>> = HashMap::new();
    for (span, new_text) in edits {
        if let Some(l) = locator.location(*span) {
            changes.entry(l.uri).or_default().push(TextEdit {
                range: l.range,
                new_text: new_text.clone(),
            });
        }
    }
    changes
}

fn symbol_kind(kind: OutlineKind) -> SymbolKind {
    match kind {
        OutlineKind::Schema => SymbolKind::NAMESPACE,
        OutlineKind::Enum => SymbolKind::ENUM,
        OutlineKind::Attribute => SymbolKind::FIELD,
        OutlineKind::Const => SymbolKind::CONSTANT,
        OutlineKind::Table => SymbolKind::FUNCTION,
        OutlineKind::Policy | OutlineKind::Profile => SymbolKind::MODULE,
        OutlineKind::Let => SymbolKind::VARIABLE,
        OutlineKind::Cost => SymbolKind::PROPERTY,
        OutlineKind::Stage => SymbolKind::EVENT,
    }
}

#[allow(deprecated)] // `DocumentSymbol::deprecated` must still be written.
fn document_symbol(lines: &Lines, outline: allot_ide::Outline) -> DocumentSymbol {
    DocumentSymbol {
        name: outline.name,
        detail: None,
        kind: symbol_kind(outline.kind),
        tags: None,
        deprecated: None,
        range: lines.range(outline.span.start, outline.span.end),
        selection_range: lines.range(outline.name_span.start, outline.name_span.end),
        children: Some(
            outline
                .children
                .into_iter()
                .map(|c| document_symbol(lines, c))
                .collect(),
        ),
    }
}

impl LanguageServer for Backend {
    async fn initialize(&self, _: InitializeParams) -> Result<InitializeResult> {
        Ok(InitializeResult {
            server_info: Some(ServerInfo {
                name: "allot".into(),
                version: Some(env!("CARGO_PKG_VERSION").into()),
            }),
            capabilities: ServerCapabilities {
                text_document_sync: Some(TextDocumentSyncCapability::Kind(
                    TextDocumentSyncKind::FULL,
                )),
                hover_provider: Some(HoverProviderCapability::Simple(true)),
                completion_provider: Some(CompletionOptions {
                    trigger_characters: Some(vec![".".into(), " ".into()]),
                    ..CompletionOptions::default()
                }),
                definition_provider: Some(OneOf::Left(true)),
                references_provider: Some(OneOf::Left(true)),
                rename_provider: Some(OneOf::Left(true)),
                document_symbol_provider: Some(OneOf::Left(true)),
                workspace_symbol_provider: Some(OneOf::Left(true)),
                code_action_provider: Some(CodeActionProviderCapability::Simple(true)),
                inlay_hint_provider: Some(OneOf::Left(true)),
                document_formatting_provider: Some(OneOf::Left(true)),
                semantic_tokens_provider: Some(
                    SemanticTokensServerCapabilities::SemanticTokensOptions(
                        SemanticTokensOptions {
                            legend: semantic_legend(),
                            full: Some(SemanticTokensFullOptions::Bool(true)),
                            range: None,
                            ..SemanticTokensOptions::default()
                        },
                    ),
                ),
                ..ServerCapabilities::default()
            },
            ..InitializeResult::default()
        })
    }

    async fn shutdown(&self) -> Result<()> {
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        let document = params.text_document;
        self.lock()
            .open(&document.uri, document.version, document.text);
        self.publish(&document.uri).await;
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        let uri = params.text_document.uri;
        // Full sync: the last change holds the whole text.
        let Some(change) = params.content_changes.into_iter().last() else {
            return;
        };
        let applied = self
            .lock()
            .change(&uri, params.text_document.version, change.text);
        if applied {
            self.publish(&uri).await;
        }
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        let uri = params.text_document.uri;
        self.lock().close(&uri);
        self.publish(&uri).await;
    }

    async fn hover(&self, params: HoverParams) -> Result<Option<Hover>> {
        let at = params.text_document_position_params;
        let uri = at.text_document.uri;
        let found = self
            .read(&uri, move |ide, s| {
                let lines = Lines::new(ide.text(s.file));
                let hover = ide.hover(s.file, lines.offset(at.position))?;
                Some(Hover {
                    contents: HoverContents::Markup(MarkupContent {
                        kind: MarkupKind::Markdown,
                        value: hover.text,
                    }),
                    range: Some(lines.range(hover.span.start, hover.span.end)),
                })
            })
            .await?;
        Ok(found.flatten())
    }

    async fn goto_definition(
        &self,
        params: GotoDefinitionParams,
    ) -> Result<Option<GotoDefinitionResponse>> {
        let at = params.text_document_position_params;
        let uri = at.text_document.uri;
        let found = self
            .read(&uri, move |ide, s| {
                let at = Lines::new(ide.text(s.file)).offset(at.position);
                let span = ide.definition(s.file, at)?;
                Locator::new(ide, s)
                    .location(span)
                    .map(GotoDefinitionResponse::Scalar)
            })
            .await?;
        Ok(found.flatten())
    }

    async fn references(&self, params: ReferenceParams) -> Result<Option<Vec<Location>>> {
        let at = params.text_document_position;
        let uri = at.text_document.uri;
        let with_declaration = params.context.include_declaration;
        self.read(&uri, move |ide, s| {
            let offset = Lines::new(ide.text(s.file)).offset(at.position);
            let mut locator = Locator::new(ide, s);
            ide.references(s.file, offset, with_declaration)
                .into_iter()
                .filter_map(|span| locator.location(span))
                .collect()
        })
        .await
    }

    async fn rename(&self, params: RenameParams) -> Result<Option<WorkspaceEdit>> {
        let at = params.text_document_position;
        let uri = at.text_document.uri;
        let new_name = params.new_name;
        let result = self
            .read(&uri, move |ide, s| {
                let offset = Lines::new(ide.text(s.file)).offset(at.position);
                ide.rename(s.file, offset, &new_name)
                    .map(|edits| WorkspaceEdit {
                        changes: Some(edits_by_uri(&mut Locator::new(ide, s), &edits)),
                        ..WorkspaceEdit::default()
                    })
            })
            .await?;
        match result {
            None => Ok(None),
            Some(Ok(edit)) => Ok(Some(edit)),
            Some(Err(message)) => Err(Error::invalid_params(message)),
        }
    }

    async fn document_symbol(
        &self,
        params: DocumentSymbolParams,
    ) -> Result<Option<DocumentSymbolResponse>> {
        let uri = params.text_document.uri;
        self.read(&uri, |ide, s| {
            let lines = Lines::new(ide.text(s.file));
            DocumentSymbolResponse::Nested(
                ide.outline(s.file)
                    .into_iter()
                    .map(|o| document_symbol(&lines, o))
                    .collect(),
            )
        })
        .await
    }

    async fn symbol(
        &self,
        params: WorkspaceSymbolParams,
    ) -> Result<Option<WorkspaceSymbolResponse>> {
        let documents = self.lock().any_document_per_ruleset();
        let mut found = Vec::new();
        for uri in documents {
            let query = params.query.clone();
            #[allow(deprecated)] // `SymbolInformation::deprecated` must still be written.
            let symbols = self
                .read(&uri, move |ide, s| {
                    let mut locator = Locator::new(ide, s);
                    ide.workspace_symbols(&query)
                        .into_iter()
                        .filter_map(|o| {
                            Some(SymbolInformation {
                                name: o.name.clone(),
                                kind: symbol_kind(o.kind),
                                tags: None,
                                deprecated: None,
                                location: locator.location(o.name_span)?,
                                container_name: None,
                            })
                        })
                        .collect::<Vec<_>>()
                })
                .await?;
            found.extend(symbols.into_iter().flatten());
        }
        Ok(Some(WorkspaceSymbolResponse::Flat(found)))
    }

    async fn completion(&self, params: CompletionParams) -> Result<Option<CompletionResponse>> {
        let at = params.text_document_position;
        let uri = at.text_document.uri;
        let items = self
            .read(&uri, move |ide, s| {
                let offset = Lines::new(ide.text(s.file)).offset(at.position);
                allot_ide::completions(ide, s.file, offset)
                    .into_iter()
                    .map(|c| CompletionItem {
                        label: c.label,
                        kind: Some(match c.kind {
                            CompletionKind::Attribute => CompletionItemKind::FIELD,
                            CompletionKind::Variant => CompletionItemKind::ENUM_MEMBER,
                            CompletionKind::Unit => CompletionItemKind::UNIT,
                            CompletionKind::Const => CompletionItemKind::CONSTANT,
                            CompletionKind::Table | CompletionKind::Function => {
                                CompletionItemKind::FUNCTION
                            }
                            CompletionKind::Let => CompletionItemKind::VARIABLE,
                            CompletionKind::Keyword => CompletionItemKind::KEYWORD,
                            CompletionKind::Snippet => CompletionItemKind::SNIPPET,
                        }),
                        detail: c.detail,
                        insert_text: c.insert,
                        insert_text_format: Some(if c.snippet {
                            InsertTextFormat::SNIPPET
                        } else {
                            InsertTextFormat::PLAIN_TEXT
                        }),
                        ..CompletionItem::default()
                    })
                    .collect::<Vec<_>>()
            })
            .await?;
        Ok(items.map(CompletionResponse::Array))
    }

    async fn semantic_tokens_full(
        &self,
        params: SemanticTokensParams,
    ) -> Result<Option<SemanticTokensResult>> {
        let uri = params.text_document.uri;
        let tokens = self
            .read(&uri, |ide, s| {
                let text = ide.text(s.file);
                let lines = Lines::new(text);
                let mut data = Vec::new();
                let (mut line, mut column) = (0, 0);
                for (start, end, kind) in allot_ide::semantic_tokens(text) {
                    let at = lines.position(start);
                    let length: u32 = text[start as usize..end as usize]
                        .chars()
                        .map(|c| c.len_utf16() as u32)
                        .sum();
                    let delta_line = at.line - line;
                    let delta_start = if delta_line == 0 {
                        at.character - column
                    } else {
                        at.character
                    };
                    data.push(SemanticToken {
                        delta_line,
                        delta_start,
                        length,
                        token_type: SemanticKind::ALL
                            .iter()
                            .position(|k| *k == kind)
                            .unwrap_or(0) as u32,
                        token_modifiers_bitset: u32::from(kind == SemanticKind::DocComment),
                    });
                    (line, column) = (at.line, at.character);
                }
                SemanticTokensResult::Tokens(SemanticTokens {
                    result_id: None,
                    data,
                })
            })
            .await?;
        Ok(tokens)
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        let uri = params.text_document.uri;
        let requested = params.range;
        self.read(&uri, move |ide, s| {
            let lines = Lines::new(ide.text(s.file));
            let span = allot_diagnostics::Span {
                file: s.file,
                start: lines.offset(requested.start),
                end: lines.offset(requested.end),
            };
            let mut locator = Locator::new(ide, s);
            ide.quick_fixes(span)
                .into_iter()
                .map(|fix| {
                    let diagnostic = Diagnostic {
                        range: lines.range(fix.diagnostic.span.start, fix.diagnostic.span.end),
                        code: Some(NumberOrString::String(fix.diagnostic.code.as_str().into())),
                        source: Some("allot".into()),
                        message: fix.diagnostic.message.clone(),
                        ..Diagnostic::default()
                    };
                    CodeActionOrCommand::CodeAction(CodeAction {
                        title: fix.title,
                        kind: Some(CodeActionKind::QUICKFIX),
                        diagnostics: Some(vec![diagnostic]),
                        edit: Some(WorkspaceEdit {
                            changes: Some(edits_by_uri(&mut locator, &fix.edits)),
                            ..WorkspaceEdit::default()
                        }),
                        is_preferred: Some(true),
                        ..CodeAction::default()
                    })
                })
                .collect()
        })
        .await
    }

    async fn inlay_hint(&self, params: InlayHintParams) -> Result<Option<Vec<InlayHint>>> {
        let uri = params.text_document.uri;
        self.read(&uri, |ide, s| {
            let lines = Lines::new(ide.text(s.file));
            ide.inlay_hints(s.file)
                .into_iter()
                .map(|(at, label)| InlayHint {
                    position: lines.position(at),
                    label: InlayHintLabel::String(label),
                    kind: Some(InlayHintKind::TYPE),
                    text_edits: None,
                    tooltip: None,
                    padding_left: None,
                    padding_right: None,
                    data: None,
                })
                .collect()
        })
        .await
    }

    async fn formatting(&self, params: DocumentFormattingParams) -> Result<Option<Vec<TextEdit>>> {
        let uri = params.text_document.uri;
        let result = self
            .read(&uri, |ide, s| {
                let text = ide.text(s.file);
                allot_fmt::format(text).map(|formatted| {
                    if formatted == text {
                        Vec::new()
                    } else {
                        vec![TextEdit {
                            range: Lines::new(text).range(0, text.len() as u32),
                            new_text: formatted,
                        }]
                    }
                })
            })
            .await?;
        match result {
            None => Ok(None),
            Some(Ok(edits)) => Ok(Some(edits)),
            Some(Err(error)) => {
                self.client
                    .show_message(MessageType::WARNING, format!("not formatted: {error}"))
                    .await;
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn open(backend: &Backend, uri: &Uri, text: &str) {
        backend
            .did_open(DidOpenTextDocumentParams {
                text_document: TextDocumentItem {
                    uri: uri.clone(),
                    language_id: "allot".into(),
                    version: 1,
                    text: text.into(),
                },
            })
            .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panic_inside_a_request_is_answered_with_an_error_and_the_server_goes_on() {
        let (service, _socket) = LspService::new(Backend::new);
        let backend = service.inner();
        let uri = Uri::from_file_path("/nowhere/a.allot").expect("a file URI");
        open(backend, &uri, "const a = 1 km\n").await;
        let failed = backend
            .read(&uri, |_, _| -> u32 { panic!("a bug in a feature") })
            .await;
        assert_eq!(failed, Err(Error::internal_error()));
        let answered = backend.read(&uri, |ide, s| ide.text(s.file).len()).await;
        assert_eq!(answered, Ok(Some(15)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_edit_cancels_a_read_in_flight_which_answers_content_modified() {
        let (service, _socket) = LspService::new(Backend::new);
        let backend = service.inner();
        let uri = Uri::from_file_path("/nowhere/b.allot").expect("a file URI");
        open(backend, &uri, "const a = 1 km\n").await;
        // The read signals that it runs, then keeps asking the database until an
        // edit cancels it (salsa unwinds a query of an outdated revision).
        let (started, running) = std::sync::mpsc::channel();
        let read = backend.read(&uri, move |ide, _| {
            started.send(()).expect("the test waits");
            loop {
                allot_db::diagnostics(ide.db, ide.ruleset);
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        });
        let edit = async {
            tokio::task::spawn_blocking(move || running.recv().expect("the read starts"))
                .await
                .expect("waited");
            let state = backend.state.clone();
            let uri = uri.clone();
            // Setting an input waits until the reads of the old revision let go.
            tokio::task::spawn_blocking(move || {
                let mut state = state.lock().expect("the state");
                state.change(&uri, 2, "const a = 2 km\n".into())
            })
            .await
            .expect("edited")
        };
        let (answer, applied) = tokio::join!(read, edit);
        assert!(applied);
        assert_eq!(answer, Err::<Option<()>, _>(Error::content_modified()));
        let text = backend
            .read(&uri, |ide, s| ide.text(s.file).to_string())
            .await;
        assert_eq!(text, Ok(Some("const a = 2 km\n".to_string())));
    }
}
