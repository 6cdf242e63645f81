//! Compiling the service: card sources and override reasons, the CDS services and their
//! prefetch templates, and the patient-preference table.

use std::collections::{BTreeMap, BTreeSet};

use super::diagnostics::{Diagnostics, blank, plain_id};
use super::rules::Rules;
use super::terminology::Terminology;
use crate::knowledge::codes::ValueSetId;
use crate::knowledge::spec::*;
use crate::knowledge::*;

/// The prefetch keys other systems rely on (DEVELOPERS.md, "Contracts").
pub const PREFETCH_KEYS: [&str; 5] = ["patient", "conditions", "medications", "observations", "immunizations"];
const HOOKS: [&str; 2] = ["order-select", "order-sign"];
const OBSERVATION_CODES: &str = "{observation_codes}";

pub(crate) fn sources(
    diag: &mut Diagnostics,
    service: &ServiceFile,
    unverified: &mut Vec<String>,
) -> (BTreeMap<String, CardSource>, Vec<OverrideReason>) {
    // Card sources and override reasons.
    let mut sources = BTreeMap::new();
    for (key, s) in &service.sources {
        if blank(&s.source) {
            diag.error(
                "service.toml",
                format!("source `{key}`"),
                "has no source (where the label and url were checked)",
            );
        }
        if s.unverified {
            unverified.push(format!("service.toml: source `{key}`"));
        }
        sources
            .insert(key.clone(), CardSource { label: s.label.clone(), url: s.url.clone(), unverified: s.unverified });
    }
    let override_reasons = service
        .override_reasons
        .iter()
        .map(|r| OverrideReason { code: r.code.clone(), display: Localized { en: r.en.clone(), nl: r.nl.clone() } })
        .collect();

    (sources, override_reasons)
}

pub(crate) struct Discovery {
    pub services: Vec<ServiceDefinition>,
    pub prefetch: BTreeMap<String, String>,
}

/// The services and their prefetch templates, the observation codes of the rules filled in.
pub(crate) fn discovery(diag: &mut Diagnostics, service: &ServiceFile, t: &Terminology, rules: &Rules) -> Discovery {
    let value_sets = &t.value_sets;
    let system_uris = &t.system_uris;
    let observation_sets = &rules.observation_sets;
    // Services and prefetch.
    let mut services: Vec<ServiceDefinition> = Vec::new();
    for s in &service.services {
        // The id is a path of its own (`/cds-services/{id}`, a fixed route): nothing a route
        // pattern could read as a variable (`{`, `*`), never empty, never twice.
        if !plain_id(&s.id) {
            diag.error(
                "service.toml",
                format!("service `{}`", s.id),
                "needs an `id` of lowercase letters, digits and `-`",
            );
        }
        if services.iter().any(|d| d.id == s.id) {
            diag.error("service.toml", format!("service `{}`", s.id), "is defined twice");
        }
        if !HOOKS.contains(&s.hook.as_str()) {
            diag.error(
                "service.toml",
                format!("service `{}`", s.id),
                format!("hook `{}` is not one this service implements", s.hook),
            );
        }
        services.push(ServiceDefinition {
            id: s.id.clone(),
            hook: s.hook.clone(),
            title: s.title.clone(),
            description: s.description.clone(),
            usage_requirements: s.usage_requirements.clone(),
        });
    }
    let keys: BTreeSet<&str> = service.prefetch.keys().map(String::as_str).collect();
    let expected: BTreeSet<&str> = PREFETCH_KEYS.into_iter().collect();
    if keys != expected {
        diag.error("service.toml", "prefetch", format!("keys must be exactly {PREFETCH_KEYS:?}"));
    }
    let observation_codes = observation_sets
        .iter()
        .flat_map(|id: &ValueSetId| {
            let vs = &value_sets[id.0 as usize];
            vs.codes.iter().flat_map(|(system, list)| {
                let uri = system_uris.get(system).cloned().unwrap_or_default();
                list.iter().map(move |c| format!("{uri}|{c}"))
            })
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>()
        .join(",");
    for key in service.server_queries.keys() {
        if !PREFETCH_KEYS.contains(&key.as_str()) {
            diag.error("service.toml", format!("server_queries `{key}`"), "is not a prefetch key");
        }
    }
    let prefetch =
        service.prefetch.iter().map(|(k, v)| (k.clone(), v.replace(OBSERVATION_CODES, &observation_codes))).collect();

    Discovery { services, prefetch }
}

pub(crate) fn preferences(diag: &mut Diagnostics, preferences: &PreferencesFile, t: &Terminology) -> Vec<Preference> {
    if blank(&preferences.source) {
        diag.error("preferences.toml", "", "has no source");
    }
    let arrows = ["↑↑", "↑", "0", "↓", "↓↓", ""];
    preferences
        .preferences
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let entry = format!("preference {}", i + 1);
            for (class, arrow) in &p.arrows {
                if !t.classes.contains_key(class) {
                    diag.error("preferences.toml", &entry, format!("`{class}` is not a drug class of drugs.toml"));
                }
                if !arrows.contains(&arrow.as_str()) {
                    diag.error("preferences.toml", &entry, format!("`{arrow}` is not a matrix arrow"));
                }
            }
            if !plain_id(&p.id) {
                diag.error("preferences.toml", &entry, "needs an `id` of lowercase letters, digits and `-`");
            }
            Preference {
                id: p.id.clone(),
                text: Localized { en: p.en.clone(), nl: p.nl.clone() },
                arrows: p.arrows.clone(),
            }
        })
        .collect()
}

const MATRIX_ARROWS: [&str; 6] = ["↑↑", "↑", "0", "↓", "↓↓", ""];
const MATRIX_SECTIONS: [&str; 3] = ["warnings", "pregnancy", "indications"];

/// Seed A's rows: an arrow for each drug of the set, rules and reasons that exist, the
/// `data.unchecked` reasons that exist.
pub(crate) fn matrix(
    diag: &mut Diagnostics,
    file: &MatrixFile,
    t: &Terminology,
    rules: &[Rule],
    sets: &[AlternativeSet],
) -> Matrix {
    const FILE: &str = "matrix.toml";
    if blank(&file.source) {
        diag.error(FILE, "", "has no source");
    }
    let Some(set) = sets.iter().find(|s| s.key == file.set) else {
        diag.error(FILE, "set", format!("`{}` is no alternative set of alternatives.toml", file.set));
        return Matrix::default();
    };
    let mut drugs: Vec<DrugId> = Vec::new();
    for key in &file.columns {
        match t.drugs.iter().find(|d| &d.key == key && set.drugs.contains(d.id)) {
            Some(d) if !drugs.contains(&d.id) => drugs.push(d.id),
            _ => {
                diag.error(FILE, "columns", format!("`{key}` is not a drug of the set `{}`, or appears twice", set.key))
            }
        }
    }
    if t.drugs.iter().any(|d| set.drugs.contains(d.id) && !drugs.contains(&d.id)) {
        diag.error(FILE, "columns", format!("must name every drug of the set `{}`", set.key));
    }
    let unchecked = rules.iter().find(|r| r.id == "data.unchecked");
    let mut ids = BTreeSet::new();
    let rows = file
        .rows
        .iter()
        .map(|spec| {
            let entry = format!("row `{}`", spec.id);
            if !ids.insert(spec.id.clone()) {
                diag.error(FILE, &entry, "appears twice");
            }
            if !MATRIX_SECTIONS.contains(&spec.section.as_str()) {
                diag.error(FILE, &entry, format!("section `{}` is not one of {MATRIX_SECTIONS:?}", spec.section));
            }
            for (key, arrow) in &spec.arrows {
                if !t.drugs.iter().any(|d| &d.key == key && set.drugs.contains(d.id)) {
                    diag.error(FILE, &entry, format!("`{key}` is not a drug of the set `{}`", set.key));
                }
                if !MATRIX_ARROWS.contains(&arrow.as_str()) {
                    diag.error(FILE, &entry, format!("`{arrow}` is not a matrix arrow"));
                }
            }
            let arrows = drugs
                .iter()
                .map(|d| (*d, spec.arrows.get(&t.drugs[d.0 as usize].key).cloned().unwrap_or_default()))
                .collect();
            let mut row_rules = Vec::new();
            for r in &spec.rules {
                let (rule_id, reason) = match r.split_once('#') {
                    Some((rule, reason)) => (rule, Some(reason.to_string())),
                    None => (r.as_str(), None),
                };
                match rules.iter().find(|x| x.id == rule_id) {
                    None => diag.error(FILE, &entry, format!("`{rule_id}` is no rule")),
                    Some(rule) => {
                        if let Some(reason) = &reason
                            && !rule.reasons.iter().any(|x| &x.id == reason)
                        {
                            diag.error(FILE, &entry, format!("rule `{rule_id}` has no reason `{reason}`"));
                        }
                    }
                }
                row_rules.push((rule_id.to_string(), reason));
            }
            for u in &spec.unchecked {
                if !unchecked.is_some_and(|rule| rule.reasons.iter().any(|x| &x.id == u)) {
                    diag.error(FILE, &entry, format!("`{u}` is no reason of data.unchecked"));
                }
            }
            let localized = |m: &BTreeMap<String, String>| Localized {
                en: m.get("en").cloned().unwrap_or_default(),
                nl: m.get("nl").cloned().unwrap_or_default(),
            };
            let note = spec.note.as_ref().map(localized);
            if note.as_ref().is_some_and(|n| blank(&n.en) || blank(&n.nl)) {
                diag.error(FILE, &entry, "a note needs `en` and `nl`");
            }
            MatrixRow {
                id: spec.id.clone(),
                section: spec.section.clone(),
                text: Localized { en: spec.en.clone(), nl: spec.nl.clone() },
                arrows,
                note,
                rules: row_rules,
                unchecked: spec.unchecked.clone(),
            }
        })
        .collect();
    Matrix { set: set.key.clone(), drugs, rows, source: file.source.clone() }
}

/// The alternative sets: each drug in at most one, its indication a known value set.
pub(crate) fn alternative_sets(
    diag: &mut Diagnostics,
    file: &AlternativesFile,
    t: &Terminology,
) -> Vec<AlternativeSet> {
    let mut sets: Vec<AlternativeSet> = Vec::new();
    for spec in &file.alternative_sets {
        let entry = format!("alternative set `{}`", spec.id);
        if blank(&spec.source) {
            diag.error("alternatives.toml", &entry, "has no source");
        }
        let title = super::rules::localized(diag, "alternatives.toml", &entry, "title", &spec.title);
        let Some(indication) = t.vs_ids.get(&spec.indication).copied() else {
            diag.error(
                "alternatives.toml",
                &entry,
                format!("value set `{}` is referenced but not defined", spec.indication),
            );
            continue;
        };
        let drugs = super::rules::drug_set(diag, "alternatives.toml", &entry, &spec.drugs, &t.drug_keys(), &t.drugs);
        for other in &sets {
            if other.drugs.intersects(drugs) {
                diag.error(
                    "alternatives.toml",
                    &entry,
                    format!("shares drugs with `{}`: a drug stands in one set", other.key),
                );
            }
        }
        sets.push(AlternativeSet {
            key: spec.id.clone(),
            title,
            indication,
            drugs,
            withhold_on: spec.withhold_on.clone(),
            source: spec.source.clone(),
        });
    }
    sets
}

/// The message catalogue: every key the cards use, each in English and Dutch with the same
/// placeholders, and no key the cards do not know.
pub(crate) fn messages(diag: &mut Diagnostics, file: &MessagesFile) -> Messages {
    const FILE: &str = "messages.toml";
    if blank(&file.source) {
        diag.error(FILE, "", "has no source");
    }
    for key in file.messages.keys() {
        if !MESSAGE_KEYS.contains(&key.as_str()) {
            diag.error(FILE, format!("message `{key}`"), "is not a message the cards use");
        }
    }
    let mut texts = BTreeMap::new();
    for key in MESSAGE_KEYS {
        let entry = format!("message `{key}`");
        let Some(map) = file.messages.get(*key) else {
            diag.error(FILE, &entry, "is missing: the cards use it");
            continue;
        };
        let text = super::rules::localized(diag, FILE, &entry, "text", map);
        if crate::knowledge::messages::placeholders(&text.en) != crate::knowledge::messages::placeholders(&text.nl) {
            diag.error(FILE, &entry, "the English and Dutch texts fill in different {placeholders}");
        }
        texts.insert(key.to_string(), text);
    }
    Messages { source: file.source.clone(), texts }
}
