//! Finding and reading the files of rulesets.

use allot_diagnostics::Sources;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// A problem with the paths themselves (exit status 2), as opposed to their contents.
#[derive(Debug)]
pub enum LoadError {
    NotFound(PathBuf),
    NoRulesetFiles(PathBuf),
    Unreadable(PathBuf, std::io::Error),
    NotUtf8(PathBuf),
    /// Over [`allot_syntax::MAX_SOURCE_BYTES`]: refused before it is read.
    TooLarge(PathBuf, u64),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::NotFound(p) => write!(f, "{}: no such file or directory", p.display()),
            LoadError::NoRulesetFiles(p) => write!(
                f,
                "{}: no .allot files in this directory or below",
                p.display()
            ),
            LoadError::Unreadable(p, e) => write!(f, "{}: cannot read: {e}", p.display()),
            LoadError::NotUtf8(p) => write!(f, "{}: not a text file (invalid UTF-8)", p.display()),
            LoadError::TooLarge(p, len) => {
                write!(
                    f,
                    "{}: {}",
                    p.display(),
                    allot_syntax::too_large_message(*len)
                )
            }
        }
    }
}

/// Every file the paths name: files as given, directories walked for `*.allot`.
pub fn files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, LoadError> {
    let mut out = Vec::new();
    for path in paths {
        let metadata = std::fs::metadata(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => LoadError::NotFound(path.clone()),
            _ => LoadError::Unreadable(path.clone(), e),
        })?;
        if metadata.is_dir() {
            let before = out.len();
            walk(path, &mut out)?;
            if out.len() == before {
                return Err(LoadError::NoRulesetFiles(path.clone()));
            }
        } else {
            out.push(path.clone());
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Reads a file as text.
pub fn read(path: &Path) -> Result<String, LoadError> {
    let unreadable = |e| LoadError::Unreadable(path.to_path_buf(), e);
    let len = std::fs::metadata(path).map_err(unreadable)?.len();
    if len > allot_syntax::MAX_SOURCE_BYTES as u64 {
        return Err(LoadError::TooLarge(path.to_path_buf(), len));
    }
    let bytes = std::fs::read(path).map_err(unreadable)?;
    String::from_utf8(bytes).map_err(|_| LoadError::NotUtf8(path.to_path_buf()))
}

/// The files of each ruleset, keyed by the ruleset (a directory, or a lone file).
pub fn collect(paths: &[PathBuf]) -> Result<Vec<Sources>, LoadError> {
    let mut groups: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
    for path in paths {
        let is_dir = std::fs::metadata(path).is_ok_and(|m| m.is_dir());
        for file in files(std::slice::from_ref(path))? {
            // A file given by name is a ruleset by itself; below a directory, its folder is.
            let key = if is_dir {
                file.parent().map(Path::to_path_buf).unwrap_or_default()
            } else {
                file.clone()
            };
            groups.entry(key).or_default().push(file);
        }
    }
    let mut rulesets = Vec::new();
    for (_, mut files) in groups {
        files.sort();
        files.dedup();
        let mut sources = Sources::new();
        for file in files {
            let text = read(&file)?;
            sources.add(file.to_string_lossy(), text);
        }
        rulesets.push(sources);
    }
    Ok(rulesets)
}

/// Every `.allot` file below `dir`. Symbolic links to directories are not followed,
/// so a link cycle cannot make the walk endless.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| LoadError::Unreadable(dir.to_path_buf(), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| LoadError::Unreadable(dir.to_path_buf(), e))?;
        let path = entry.path();
        let file_type = entry
            .file_type()
            .map_err(|e| LoadError::Unreadable(path.clone(), e))?;
        if file_type.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "allot") && !file_type.is_symlink()
            || is_linked_file(&path)
        {
            out.push(path);
        }
    }
    Ok(())
}

fn is_linked_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "allot")
        && std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
        && std::fs::metadata(path).is_ok_and(|m| m.is_file())
}
