//! Reading, validating and compiling the knowledge files. Like a policy engine's validator, it
//! checks the whole knowledge base before any of it runs, and names the file and entry of each
//! problem so a reviewer can fix the data without reading Rust. One function per section:
//! terminology, card sources, rules (through the rule-language compiler), service.

mod diagnostics;
mod expansions;
mod rules;
mod service;
mod terminology;
#[cfg(test)]
mod tests;

use std::path::Path;

pub(crate) use diagnostics::Diagnostics;
pub use diagnostics::{KnowledgeError, KnowledgeErrors};

use super::Knowledge;
use super::spec::*;

/// Load and validate the knowledge directory.
pub(super) fn load(dir: &Path) -> Result<Knowledge, KnowledgeErrors> {
    let mut diag = Diagnostics { dir: dir.to_path_buf(), errors: Vec::new() };
    let catalogue: Option<CatalogueFile> = diag.read("catalogue.toml");
    let service: Option<ServiceFile> = diag.read("service.toml");
    let systems: Option<SystemsFile> = diag.read("systems.toml");
    let drugs: Option<DrugsFile> = diag.read("drugs.toml");
    let definitions: Option<DefinitionsFile> = diag.read("definitions.toml");
    let units: Option<UnitsFile> = diag.read("units.toml");
    let preferences: Option<PreferencesFile> = diag.read("preferences.toml");
    let alternatives: Option<AlternativesFile> = diag.read("alternatives.toml");
    let messages: Option<MessagesFile> = diag.read("messages.toml");
    let matrix: Option<MatrixFile> = diag.read("matrix.toml");
    let value_set_files: Vec<(String, ValueSetsFile)> =
        diag.list("value-sets").into_iter().filter_map(|f| diag.read(&f).map(|v| (f, v))).collect();
    let rule_files: Vec<(String, RuleSpec)> =
        diag.list("rules").into_iter().filter_map(|f| diag.read(&f).map(|r| (f, r))).collect();
    let (
        Some(catalogue),
        Some(service),
        Some(systems),
        Some(drugs),
        Some(definitions),
        Some(units),
        Some(preferences),
        Some(alternatives),
        Some(messages),
        Some(matrix),
    ) = (catalogue, service, systems, drugs, definitions, units, preferences, alternatives, messages, matrix)
    else {
        return Err(KnowledgeErrors(diag.errors));
    };

    let mut unverified = Vec::new();
    let t = terminology::compile(&mut diag, &systems, &drugs, &value_set_files, &units, &mut unverified);
    let (sources, override_reasons) = service::sources(&mut diag, &service, &mut unverified);
    let rules = rules::compile(&mut diag, &catalogue, &definitions, &rule_files, &t, &sources, &mut unverified);
    let discovery = service::discovery(&mut diag, &service, &t, &rules);
    let preference_rows = service::preferences(&mut diag, &preferences, &t);
    let alternative_sets = service::alternative_sets(&mut diag, &alternatives, &t);
    let messages = service::messages(&mut diag, &messages);
    let matrix = service::matrix(&mut diag, &matrix, &t, &rules.rules, &alternative_sets);
    if !diag.errors.is_empty() {
        return Err(KnowledgeErrors(diag.errors));
    }
    Ok(Knowledge {
        rule_id_system: service.rule_id_system,
        override_reason_system: service.override_reason_system,
        services: discovery.services,
        prefetch: discovery.prefetch,
        server_queries: service.server_queries,
        sources,
        override_reasons,
        classes: t.classes,
        drugs: t.drugs,
        value_sets: t.value_sets,
        codes: t.codes,
        rules: rules.rules,
        alternative_sets,
        messages,
        quantities: t.quantities,
        preferences: preference_rows,
        preferences_source: preferences.source,
        matrix,
        definitions: rules.definitions,
        system_uris: t.system_uris,
        terminology_sources: t.terminology_sources,
        text_cues: t.text_cues,
        generic_yes: t.generic_yes,
        generic_no: t.generic_no,
        unverified,
        not_implemented: rules.not_implemented,
    })
}
