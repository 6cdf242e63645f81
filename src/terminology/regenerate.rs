//! `advanced-therapy-cds terminology expand --server URL`: the shipped expansions made again by
//! a terminology server from the value sets' ECL definitions, written in place, with what
//! changed, for review before commit.

use std::collections::BTreeMap;
use std::path::Path;

use super::server::{SNOMED, TerminologyServer};
use crate::knowledge::{ExpansionFile, Knowledge};

/// The source id the server's expansions cite (`terminology/sources.local.toml`).
pub const SERVER_SOURCE: &str = "terminology-server";
/// Sources of locally regenerated expansions, beside the published ones of `sources.toml`.
pub const LOCAL_SOURCES: &str = "terminology/sources.local.toml";

/// What changed in one expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpansionChange {
    pub value_set: String,
    pub before: usize,
    pub after: usize,
    /// (code, display) added and removed.
    pub added: Vec<(String, String)>,
    pub removed: Vec<(String, String)>,
}

/// Expand every value set that has a shipped expansion (or only `only`), write the files, and
/// say what changed. Nothing is written when any expansion fails.
pub async fn regenerate(
    knowledge_dir: &Path,
    knowledge: &Knowledge,
    server: &TerminologyServer,
    only: &[String],
    today: &str,
) -> Result<Vec<ExpansionChange>, String> {
    let mut results = Vec::new();
    let mut version = None;
    for vs in &knowledge.value_sets {
        let Some(ecl) = &vs.ecl else { continue };
        let Some(shipped) = vs.expansions.iter().find(|x| x.system == SNOMED) else { continue };
        if !only.is_empty() && !only.contains(&vs.key) {
            continue;
        }
        let (members, used) = server
            .expand_with_version(&ecl.to_string(), 1000)
            .await
            .map_err(|e| format!("value set `{}`: {e}", vs.key))?;
        version = version.or(used);
        let path = knowledge_dir.join(&shipped.file);
        let old = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| ExpansionFile::parse(&t).ok())
            .map(|f| f.members.into_iter().map(|m| (m.code, m.display)).collect::<BTreeMap<_, _>>())
            .unwrap_or_default();
        let new: BTreeMap<String, String> = members.into_iter().map(|m| (m.code, m.display)).collect();
        let change = ExpansionChange {
            value_set: vs.key.clone(),
            before: old.len(),
            after: new.len(),
            added: new.iter().filter(|(c, _)| !old.contains_key(*c)).map(|(c, d)| (c.clone(), d.clone())).collect(),
            removed: old.iter().filter(|(c, _)| !new.contains_key(*c)).map(|(c, d)| (c.clone(), d.clone())).collect(),
        };
        results.push((path, vs.key.clone(), ecl.to_string(), new, change));
    }
    let version = version.unwrap_or_else(|| "as the server gave it (no used-codesystem parameter)".into());
    for (path, key, ecl, members, _) in &results {
        let mut text = format!(
            "# expansion: {key}\n# system: {SNOMED}\n# version: {version}\n# date: {today}\n# method: ValueSet/$expand of the ECL definition `{ecl}` on {} (advanced-therapy-cds terminology expand)\ncode\tdisplay\tfrom\n",
            server.base()
        );
        let mut sorted: Vec<(&String, &String)> = members.iter().collect();
        sorted.sort_by_key(|(c, _)| c.parse::<u64>().unwrap_or(u64::MAX));
        for (code, display) in sorted {
            text.push_str(&format!("{code}\t{}\t{SERVER_SOURCE}\n", display.replace(['\t', '\n'], " ")));
        }
        std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    let sources = format!(
        "# Sources of expansions regenerated here by `advanced-therapy-cds terminology expand`.\n[sources.{SERVER_SOURCE}]\ntitle = \"FHIR terminology server ($expand of the ECL definitions in ecl.toml)\"\nurl = \"{}\"\nversion = \"{}\"\nvia = \"advanced-therapy-cds terminology expand, {today}\"\n",
        server.base(),
        version.replace('"', "'")
    );
    std::fs::write(knowledge_dir.join(LOCAL_SOURCES), sources)
        .map_err(|e| format!("cannot write {LOCAL_SOURCES}: {e}"))?;
    Ok(results.into_iter().map(|(_, _, _, _, change)| change).collect())
}
