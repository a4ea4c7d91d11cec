// Starts `allot lsp` for .allot files. The executable is the `allot.server.path`
// setting (default: `allot` on the PATH).
const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const command = vscode.workspace.getConfiguration("allot").get("server.path", "allot");
  const server = { command, args: ["lsp"], transport: TransportKind.stdio };
  client = new LanguageClient(
    "allot",
    "Allot",
    { run: server, debug: server },
    { documentSelector: [{ scheme: "file", language: "allot" }, { scheme: "untitled", language: "allot" }] },
  );
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration("allot.server.path")) {
        vscode.window.showInformationMessage("Reload the window to use the new Allot server path.");
      }
    }),
  );
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
