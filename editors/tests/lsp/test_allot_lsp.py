"""End-to-end tests: the real `allot lsp` binary, driven over stdio by pytest-lsp.

The binary is $ALLOT (default: target/debug/allot from the repository root).
"""

import os
import pathlib

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

ROOT = pathlib.Path(__file__).resolve().parents[3]
ALLOT = os.environ.get("ALLOT", str(ROOT / "target" / "debug" / "allot"))
EXAMPLE = ROOT / "rulesets" / "example"
POLICIES = EXAMPLE / "policies.allot"
URI = POLICIES.as_uri()


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[ALLOT, "lsp"]))
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(
        types.InitializeParams(capabilities=types.ClientCapabilities())
    )
    yield
    await lsp_client.shutdown_session()


def open_policies(client: LanguageClient, text: str | None = None) -> str:
    text = POLICIES.read_text() if text is None else text
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=URI, language_id="allot", version=1, text=text
            )
        )
    )
    return text


def position_of(text: str, needle: str, delta: int = 0) -> types.Position:
    offset = text.index(needle) + delta
    line = text.count("\n", 0, offset)
    column = offset - (text.rfind("\n", 0, offset) + 1)
    return types.Position(line=line, character=column)


async def test_diagnostics_are_published_on_open_and_change(client: LanguageClient):
    text = open_policies(client)
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert list(client.diagnostics.get(URI, [])) == []

    broken = text.replace("> store_radius", "> store_radus", 1)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=URI, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=broken)],
        )
    )
    for _ in range(10):
        await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        if client.diagnostics.get(URI):
            break
    (diagnostic,) = client.diagnostics[URI]
    assert diagnostic.code == "E0101"
    assert diagnostic.message.startswith("unknown name `store_radus`")
    assert diagnostic.range.start == position_of(broken, "store_radus")


async def test_hover_gives_the_type_and_the_doc(client: LanguageClient):
    text = open_policies(client)
    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=URI),
            position=position_of(text, "store_radius", 3),
        )
    )
    assert "const store_radius: distance" in hover.contents.value
    assert "How far a store may ship" in hover.contents.value


async def test_hover_on_a_node_id_shows_the_node_and_its_calendar(client: LanguageClient):
    partners = ROOT / "rulesets" / "dropship-compliance" / "partners.allot"
    text = partners.read_text()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=partners.as_uri(), language_id="allot", version=1, text=text
            )
        )
    )
    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=partners.as_uri()),
            position=position_of(text, '"DC-ATL"', 2),
        )
    )
    assert "**DC-ATL**: dc" in hover.contents.value
    assert "before 14:00 (America/New_York)" in hover.contents.value
    assert "closed 2026-12-25" in hover.contents.value


async def test_definition_goes_to_another_file(client: LanguageClient):
    text = open_policies(client)
    found = await client.text_document_definition_async(
        types.DefinitionParams(
            text_document=types.TextDocumentIdentifier(uri=URI),
            position=position_of(text, "store_radius", 3),
        )
    )
    assert found.uri == (EXAMPLE / "rates.allot").as_uri()
    assert found.range.start.line == 1


async def test_completion_after_a_dot_lists_attributes(client: LanguageClient):
    text = open_policies(client)
    items = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=URI),
            position=position_of(text, "node.kind == store and line", 5),
        )
    )
    labels = {item.label for item in items}
    assert {"kind", "utilization", "gift_wrap", "lead_time"} <= labels


async def test_rename_edits_every_file(client: LanguageClient):
    text = open_policies(client)
    edit = await client.text_document_rename_async(
        types.RenameParams(
            text_document=types.TextDocumentIdentifier(uri=URI),
            position=position_of(text, "store_radius", 1),
            new_name="ship_radius",
        )
    )
    assert set(edit.changes) == {URI, (EXAMPLE / "rates.allot").as_uri()}


async def test_quick_fix_for_a_missing_unit(client: LanguageClient):
    text = open_policies(client).replace("d > store_radius", "d > 300", 1)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=URI, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )
    at = position_of(text, "d > 300", 4)
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=URI),
            range=types.Range(start=at, end=at),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    (action,) = actions
    assert action.kind == types.CodeActionKind.QuickFix
    (change,) = action.edit.changes[URI]
    assert change.new_text == "300 km"


async def test_semantic_tokens_and_symbols_on_a_broken_file(client: LanguageClient):
    open_policies(client, 'policy "half {\n  exclude when node.\n')
    tokens = await client.text_document_semantic_tokens_full_async(
        types.SemanticTokensParams(text_document=types.TextDocumentIdentifier(uri=URI))
    )
    assert len(tokens.data) > 0 and len(tokens.data) % 5 == 0
    symbols = await client.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=types.TextDocumentIdentifier(uri=URI))
    )
    assert symbols is not None


async def test_formatting_returns_the_canonical_layout(client: LanguageClient):
    open_policies(client, 'const   a=1 km\n')
    edits = await client.text_document_formatting_async(
        types.DocumentFormattingParams(
            text_document=types.TextDocumentIdentifier(uri=URI),
            options=types.FormattingOptions(tab_size=2, insert_spaces=True),
        )
    )
    (edit,) = edits
    assert edit.new_text == "const a = 1 km\n"


async def test_inlay_hints_show_let_types(client: LanguageClient):
    open_policies(client)
    hints = await client.text_document_inlay_hint_async(
        types.InlayHintParams(
            text_document=types.TextDocumentIdentifier(uri=URI),
            range=types.Range(
                start=types.Position(line=0, character=0),
                end=types.Position(line=200, character=0),
            ),
        )
    )
    assert ": distance" in {hint.label for hint in hints}
