//! The diagnostics of a knowledge load: every problem, each naming its file and entry, collected
//! rather than stopping at the first, and the reading of the files they are about.

use std::fmt;

use serde::de::DeserializeOwned;

/// One problem in the knowledge files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnowledgeError {
    pub file: String,
    pub entry: String,
    pub message: String,
}

impl fmt::Display for KnowledgeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.entry.is_empty() {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}: {}: {}", self.file, self.entry, self.message)
        }
    }
}

/// Every problem found; the service does not start while there is one.
#[derive(Debug, Clone)]
pub struct KnowledgeErrors(pub Vec<KnowledgeError>);

impl fmt::Display for KnowledgeErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "the knowledge files have {} problem(s):", self.0.len())?;
        for e in &self.0 {
            writeln!(f, "  - {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for KnowledgeErrors {}

/// Reads the knowledge files and collects what is wrong with them.
pub(crate) struct Diagnostics {
    pub(crate) dir: std::path::PathBuf,
    pub(crate) errors: Vec<KnowledgeError>,
}

impl Diagnostics {
    pub(crate) fn error(&mut self, file: &str, entry: impl Into<String>, message: impl Into<String>) {
        self.errors.push(KnowledgeError { file: file.to_string(), entry: entry.into(), message: message.into() });
    }

    pub(crate) fn exists(&self, rel: &str) -> bool {
        self.dir.join(rel).is_file()
    }

    pub(crate) fn read_text(&mut self, rel: &str) -> Option<String> {
        let path = self.dir.join(rel);
        match std::fs::read_to_string(&path) {
            Ok(t) => Some(t),
            Err(e) => {
                self.error(rel, "", format!("cannot read {}: {e}", path.display()));
                None
            }
        }
    }

    pub(crate) fn read<T: DeserializeOwned>(&mut self, rel: &str) -> Option<T> {
        let text = self.read_text(rel)?;
        match toml::from_str(&text) {
            Ok(v) => Some(v),
            Err(e) => {
                self.error(rel, "", format!("not valid: {}", e.to_string().trim()));
                None
            }
        }
    }

    /// `*.toml` files of a sub-directory, sorted, as paths relative to the knowledge dir.
    pub(crate) fn list(&mut self, sub: &str) -> Vec<String> {
        let path = self.dir.join(sub);
        let mut files = Vec::new();
        match std::fs::read_dir(&path) {
            Ok(entries) => {
                for entry in entries.flatten() {
                    let name = entry.file_name().to_string_lossy().to_string();
                    if name.ends_with(".toml") {
                        files.push(format!("{sub}/{name}"));
                    }
                }
            }
            Err(e) => self.error(sub, "", format!("cannot list {}: {e}", path.display())),
        }
        files.sort();
        files
    }
}

/// A required text left empty.
pub(crate) fn blank(s: &str) -> bool {
    s.trim().is_empty()
}

/// An id that stands in a URL as it is (a service's path, a preference's anchor): lowercase
/// letters, digits and `-`, not empty.
pub(crate) fn plain_id(id: &str) -> bool {
    !id.is_empty() && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}
