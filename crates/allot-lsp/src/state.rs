//! Which documents belong to which ruleset, and their texts in the database.
//!
//! As for `allot check`, the `.allot` files directly in one directory form one ruleset.
//! Opening a document loads its directory's other files from disk, so names declared
//! there resolve; open documents hold the editor's text. A `network.json` in the
//! directory, read then too, is the ruleset's network: hover shows its nodes.

use allot_db::{Database, Ruleset, SourceFile};
use allot_diagnostics::FileId;
use allot_ide::NodeDirectory;
use salsa::Setter;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tower_lsp_server::ls_types::Uri;

#[derive(Default)]
pub struct State {
    pub db: Database,
    rulesets: Vec<Loaded>,
    /// Document → (index in `rulesets`, file).
    documents: HashMap<Uri, (usize, FileId)>,
    /// The last version applied, per open document: older changes are ignored.
    versions: HashMap<Uri, i32>,
}

struct Loaded {
    /// The directory, or the URI of a document that has no file.
    key: PathBuf,
    ruleset: Ruleset,
    uris: Vec<Uri>,
    files: Vec<SourceFile>,
    network: Option<Arc<NodeDirectory>>,
}

/// The `.allot` files directly in `dir`, sorted, with their texts; unreadable ones are
/// left out (the editor will say so when they are opened).
fn ruleset_files(dir: &Path) -> Vec<(PathBuf, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "allot") && p.is_file())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .filter_map(|p| {
            let text = std::fs::read_to_string(&p).ok()?;
            Some((p, text))
        })
        .collect()
}

impl State {
    pub fn document(&self, uri: &Uri) -> Option<(Ruleset, FileId)> {
        let &(index, file) = self.documents.get(uri)?;
        Some((self.rulesets[index].ruleset, file))
    }

    pub fn uris(&self, ruleset: Ruleset) -> Vec<Uri> {
        self.rulesets
            .iter()
            .find(|l| l.ruleset == ruleset)
            .map_or_else(Vec::new, |l| l.uris.clone())
    }

    /// The nodes of the ruleset's network, if its directory has one.
    pub fn network(&self, ruleset: Ruleset) -> Option<Arc<NodeDirectory>> {
        (self.rulesets.iter().find(|l| l.ruleset == ruleset)).and_then(|l| l.network.clone())
    }

    /// One document of each loaded ruleset.
    pub fn any_document_per_ruleset(&self) -> Vec<Uri> {
        self.rulesets
            .iter()
            .filter_map(|l| l.uris.first().cloned())
            .collect()
    }

    pub fn open(&mut self, uri: &Uri, version: i32, text: String) {
        self.versions.insert(uri.clone(), version);
        if let Some((ruleset, file)) = self.documents.get(uri).copied() {
            let source = self.rulesets[ruleset].files[file.0 as usize];
            source.set_text(&mut self.db).to(text);
            return;
        }
        let path = uri.to_file_path().map(|p| p.into_owned());
        let key = match path.as_deref().and_then(Path::parent) {
            Some(dir) => dir.to_path_buf(),
            None => PathBuf::from(uri.as_str()),
        };
        let index = match self.rulesets.iter().position(|l| l.key == key) {
            Some(index) => index,
            None => self.load(key, path.as_deref()),
        };
        // The document itself: known from disk (by path), or new to the ruleset.
        let loaded = &mut self.rulesets[index];
        let known = path.as_ref().and_then(|p| {
            loaded
                .uris
                .iter()
                .position(|u| u.to_file_path().is_some_and(|q| q.as_ref() == p))
        });
        let file = match known {
            Some(i) => {
                loaded.uris[i] = uri.clone();
                let source = loaded.files[i];
                source.set_text(&mut self.db).to(text);
                FileId(i as u32)
            }
            None => {
                let id = FileId(loaded.files.len() as u32);
                let name = path.map_or_else(
                    || uri.as_str().to_string(),
                    |p| p.to_string_lossy().into_owned(),
                );
                let source = SourceFile::new(&self.db, id, name, text);
                loaded.files.push(source);
                loaded.uris.push(uri.clone());
                loaded
                    .ruleset
                    .set_files(&mut self.db)
                    .to(loaded.files.clone());
                id
            }
        };
        for (i, u) in self.rulesets[index].uris.iter().enumerate() {
            self.documents.insert(u.clone(), (index, FileId(i as u32)));
        }
        self.documents.insert(uri.clone(), (index, file));
    }

    /// Loads the other files of the document's directory.
    fn load(&mut self, key: PathBuf, path: Option<&Path>) -> usize {
        let on_disk = match path {
            Some(_) => ruleset_files(&key),
            None => Vec::new(),
        };
        let mut uris = Vec::new();
        let mut files = Vec::new();
        for (p, text) in on_disk {
            let Some(uri) = Uri::from_file_path(&p) else {
                continue;
            };
            let id = FileId(files.len() as u32);
            files.push(SourceFile::new(
                &self.db,
                id,
                p.to_string_lossy().into_owned(),
                text,
            ));
            uris.push(uri);
        }
        let ruleset = Ruleset::new(&self.db, files.clone());
        let network = path
            .and_then(|_| std::fs::read_to_string(key.join("network.json")).ok())
            .and_then(|text| NodeDirectory::from_json(&text))
            .map(Arc::new);
        self.rulesets.push(Loaded {
            key,
            ruleset,
            uris,
            files,
            network,
        });
        self.rulesets.len() - 1
    }

    /// Applies a change; false when it is older than one already applied.
    pub fn change(&mut self, uri: &Uri, version: i32, text: String) -> bool {
        if self.versions.get(uri).is_some_and(|&v| v >= version) {
            return false;
        }
        let Some((index, file)) = self.documents.get(uri).copied() else {
            // A change to a document never opened: open it now.
            self.open(uri, version, text);
            return true;
        };
        self.versions.insert(uri.clone(), version);
        let source = self.rulesets[index].files[file.0 as usize];
        source.set_text(&mut self.db).to(text);
        true
    }

    /// A closed document goes back to what is on disk.
    pub fn close(&mut self, uri: &Uri) {
        self.versions.remove(uri);
        let Some((index, file)) = self.documents.get(uri).copied() else {
            return;
        };
        let disk = uri
            .to_file_path()
            .and_then(|p| std::fs::read_to_string(p.as_ref()).ok());
        if let Some(text) = disk {
            let source = self.rulesets[index].files[file.0 as usize];
            source.set_text(&mut self.db).to(text);
        }
    }
}
