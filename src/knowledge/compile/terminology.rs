//! Compiling the terminology: code systems, drugs, value sets (codes, ranges, expansions,
//! inclusions, answers) and quantity kinds, into the `CodeIndex` every fact is classified by.

use std::collections::{BTreeMap, HashMap};

use super::diagnostics::{Diagnostics, blank};
use super::expansions;
use crate::knowledge::codes::{CodeIndex, MAX_VALUE_SETS, SystemId, ValueSetId};
use crate::knowledge::spec::*;
use crate::knowledge::*;
use crate::vocabulary::DrugId;

/// The terminology part of the knowledge, and the name tables the rules are compiled against.
pub(crate) struct Terminology {
    pub codes: CodeIndex,
    pub system_uris: BTreeMap<String, String>,
    pub classes: BTreeMap<String, DrugClass>,
    pub drugs: Vec<Drug>,
    pub value_sets: Vec<ValueSet>,
    pub vs_ids: HashMap<String, ValueSetId>,
    pub quantities: Vec<QuantityKind>,
    pub quantity_ids: HashMap<String, QuantityId>,
    pub terminology_sources: BTreeMap<String, TerminologySource>,
    pub text_cues: TextCues,
    pub generic_yes: Option<ValueSetId>,
    pub generic_no: Option<ValueSetId>,
}

impl Terminology {
    pub fn drug_keys(&self) -> HashMap<&str, DrugId> {
        self.drugs.iter().map(|d| (d.key.as_str(), d.id)).collect()
    }
}

pub(crate) fn compile(
    diag: &mut Diagnostics,
    systems: &SystemsFile,
    drugs: &DrugsFile,
    value_set_files: &[(String, ValueSetsFile)],
    units: &UnitsFile,
    unverified: &mut Vec<String>,
) -> Terminology {
    let mut codes = CodeIndex::default();
    let terminology_sources = expansions::sources(diag);
    let ecl_definitions = expansions::definitions(diag);
    let text_cues = expansions::text_cues(diag, &mut codes);
    let (system_ids, system_uris) = code_systems(diag, systems, &mut codes, unverified);
    let (classes, drug_list) =
        drug_list(diag, drugs, &mut codes, &system_ids, &system_uris, &terminology_sources, unverified);
    let drug_keys: HashMap<&str, DrugId> = drug_list.iter().map(|d| (d.key.as_str(), d.id)).collect();
    // Value sets.
    let mut value_sets: Vec<ValueSet> = Vec::new();
    let mut vs_ids: HashMap<String, ValueSetId> = HashMap::new();
    for (file, spec_file) in value_set_files {
        for (key, spec) in &spec_file.value_sets {
            let entry = format!("value set `{key}`");
            if let Some(existing) = vs_ids.get(key) {
                let other = &value_sets[existing.0 as usize].file;
                diag.error(file, &entry, format!("defined twice (also in {other})"));
                continue;
            }
            if value_sets.len() >= MAX_VALUE_SETS {
                diag.error(file, &entry, format!("more than {MAX_VALUE_SETS} value sets"));
                continue;
            }
            let id = ValueSetId(value_sets.len() as u16);
            if blank(&spec.source) {
                diag.error(file, &entry, "has no source");
            }
            if spec.unverified {
                unverified.push(format!("{file}: {entry}"));
            }
            if spec.codes.values().all(Vec::is_empty)
                && spec.prefixes.values().all(Vec::is_empty)
                && spec.text.is_empty()
                && spec.drugs.is_empty()
                && spec.include.is_empty()
                && spec.expansion.is_empty()
                && spec.generic_answer.is_none()
            {
                diag.error(file, &entry, "has no codes, prefixes, text, drugs, inclusions or expansion");
            }
            let terminology = expansions::value_set_terminology(
                diag,
                file,
                key,
                id,
                spec,
                &mut codes,
                &system_ids,
                &system_uris,
                &terminology_sources,
                &ecl_definitions,
            );
            for (system, list) in &spec.codes {
                match system_ids.get(system) {
                    Some(sid) => list.iter().for_each(|c| codes.add_code(*sid, c, Some(id), None)),
                    None => diag.error(file, &entry, format!("unknown system `{system}`")),
                }
            }
            for (exclude, map) in [(false, &spec.prefixes), (true, &spec.exclude_prefixes)] {
                for (system, list) in map {
                    match system_ids.get(system) {
                        Some(sid) => list.iter().for_each(|p| codes.add_prefix(*sid, p, id, exclude)),
                        None => diag.error(file, &entry, format!("unknown system `{system}`")),
                    }
                }
            }
            for phrase in &spec.text {
                codes.add_text(phrase, Some(id), None);
            }
            // Observation answers are words a whole answer must be, never words in a name.
            if file.ends_with("observations.toml") && !spec.text.is_empty() {
                codes.mark_whole_answer_only(id);
            }
            if spec.any_form {
                codes.mark_any_form(id);
            }
            for drug in &spec.drugs {
                match drug_keys.get(drug.as_str()) {
                    // However the drug is recognised (any of its codes, a product code not listed
                    // anywhere, its name), it is in this value set: medication_concept adds it.
                    Some(drug_id) => codes.add_drug_to_value_set(*drug_id, id),
                    None => diag.error(file, &entry, format!("unknown drug `{drug}`")),
                }
            }
            vs_ids.insert(key.clone(), id);
            value_sets.push(ValueSet {
                id,
                key: key.clone(),
                title: spec.title.clone(),
                source: spec.source.clone(),
                unverified: spec.unverified,
                file: file.clone(),
                codes: spec.codes.clone(),
                prefixes: spec.prefixes.clone(),
                exclude_prefixes: spec.exclude_prefixes.clone(),
                text: spec.text.clone(),
                drugs: spec.drugs.clone(),
                include: spec.include.clone(),
                ecl: terminology.ecl,
                expansions: terminology.expansions,
                by_text: terminology.by_text,
                yes_means: None,
                no_means: None,
            });
        }
    }
    // Links between value sets, now that every set has its id.
    let mut generic = Vec::new();
    let mut inclusions = Vec::new();
    for (file, spec_file) in value_set_files {
        for (key, spec) in &spec_file.value_sets {
            let Some(id) = vs_ids.get(key).copied() else { continue };
            if value_sets[id.0 as usize].file != *file {
                continue;
            }
            let links = expansions::value_set_links(diag, file, key, id, spec, &vs_ids, &mut codes);
            value_sets[id.0 as usize].yes_means = links.yes_means;
            value_sets[id.0 as usize].no_means = links.no_means;
            if let Some(answer) = spec.generic_answer {
                generic.push((file.clone(), key.clone(), answer));
            }
            inclusions.push((file.clone(), key.clone(), spec.include.clone()));
        }
    }
    expansions::check_inclusion_cycles(diag, &inclusions);
    expansions::check_definitions_used(diag, &ecl_definitions, &vs_ids);
    let (generic_yes, generic_no) = expansions::generic_answers(diag, &generic, &vs_ids);
    codes.finish();

    // Quantity kinds.
    let mut quantities = Vec::new();
    for (key, q) in &units.quantities {
        let entry = format!("quantity `{key}`");
        if blank(&q.source) {
            diag.error("units.toml", &entry, "has no source");
        }
        if q.unverified {
            unverified.push(format!("units.toml: {entry}"));
        }
        if !q.factors.contains_key(&q.unit) {
            diag.error("units.toml", &entry, format!("its unit `{}` has no factor (1.0)", q.unit));
        }
        quantities.push(QuantityKind {
            key: key.clone(),
            unit: q.unit.clone(),
            factors: q.factors.iter().map(|(u, f)| (u.trim().to_lowercase(), *f)).collect(),
            source: q.source.clone(),
        });
    }
    let quantity_ids: HashMap<String, QuantityId> =
        quantities.iter().enumerate().map(|(i, q)| (q.key.clone(), QuantityId(i as u8))).collect();

    Terminology {
        codes,
        system_uris,
        classes,
        drugs: drug_list,
        value_sets,
        vs_ids,
        quantities,
        quantity_ids,
        terminology_sources,
        text_cues,
        generic_yes,
        generic_no,
    }
}

type SystemTables = (HashMap<String, SystemId>, BTreeMap<String, String>);

fn code_systems(
    diag: &mut Diagnostics,
    systems: &SystemsFile,
    codes: &mut CodeIndex,
    unverified: &mut Vec<String>,
) -> SystemTables {
    // Code systems.
    let mut system_ids: HashMap<String, SystemId> = HashMap::new();
    let mut system_uris = BTreeMap::new();
    for (name, spec) in &systems.systems {
        if blank(&spec.source) {
            diag.error("systems.toml", format!("system `{name}`"), "has no source");
        }
        if spec.uris.is_empty() {
            diag.error("systems.toml", format!("system `{name}`"), "lists no URI");
        }
        if spec.unverified {
            unverified.push(format!("systems.toml: system `{name}`"));
        }
        let (form, coverage) = expansions::system_form(diag, name, spec);
        let id = codes.add_system(&spec.uris, form, coverage);
        for prefix in &spec.too_broad {
            codes.add_too_broad(id, prefix);
        }
        codes.set_codes_outrank_text(id, spec.codes_outrank_text);
        system_ids.insert(name.clone(), id);
        system_uris.insert(name.clone(), spec.canonical.clone());
    }

    (system_ids, system_uris)
}

fn drug_list(
    diag: &mut Diagnostics,
    drugs: &DrugsFile,
    codes: &mut CodeIndex,
    system_ids: &HashMap<String, SystemId>,
    system_uris: &BTreeMap<String, String>,
    terminology_sources: &BTreeMap<String, TerminologySource>,
    unverified: &mut Vec<String>,
) -> (BTreeMap<String, DrugClass>, Vec<Drug>) {
    // Drugs.
    for (priority, name) in drugs.recognition_order.iter().enumerate() {
        match system_ids.get(name) {
            Some(id) => codes.set_drug_priority(*id, priority as u8),
            None => diag.error("drugs.toml", "recognition_order", format!("unknown system `{name}`")),
        }
    }
    let mut classes = BTreeMap::new();
    for (key, class) in &drugs.classes {
        if blank(&class.source) {
            diag.error("drugs.toml", format!("class `{key}`"), "has no source");
        }
        classes.insert(
            key.clone(),
            DrugClass { key: key.clone(), name: Localized { en: class.en.clone(), nl: class.nl.clone() } },
        );
    }
    if drugs.drugs.len() > 8 {
        diag.error("drugs.toml", "", "more than 8 drugs: DrugSet holds 8");
    }
    let mut drug_list = Vec::new();
    for (index, (key, spec)) in drugs.drugs.iter().enumerate().take(8) {
        let id = DrugId(index as u8);
        let entry = format!("drug `{key}`");
        if blank(&spec.source) {
            diag.error("drugs.toml", &entry, "has no source");
        }
        if !classes.contains_key(&spec.class) {
            diag.error("drugs.toml", &entry, format!("unknown class `{}`", spec.class));
        }
        if spec.names.is_empty() {
            diag.error("drugs.toml", &entry, "lists no names for text matching");
        }
        let mut drug_codes = Vec::new();
        for code in &spec.codes {
            let code_entry = format!("{entry}, code {} {}", code.system, code.code);
            if blank(&code.source) {
                diag.error("drugs.toml", &code_entry, "has no source");
            }
            if code.unverified {
                unverified.push(format!("drugs.toml: {code_entry}"));
            }
            match system_ids.get(&code.system) {
                Some(sid) => codes.add_code(*sid, &code.code, None, Some(id)),
                None => diag.error("drugs.toml", &code_entry, format!("unknown system `{}`", code.system)),
            }
            drug_codes.push(DrugCode {
                system_uri: system_uris.get(&code.system).cloned().unwrap_or_default(),
                code: code.code.clone(),
                display: code.display.clone(),
                source: code.source.clone(),
                unverified: code.unverified,
            });
        }
        for name in &spec.names {
            codes.add_text(name, None, Some(id));
        }
        let expansion = spec.expansion.as_ref().and_then(|name| {
            expansions::load_expansion(
                diag,
                name,
                expansions::Member::Drug(id),
                codes,
                system_ids,
                system_uris,
                terminology_sources,
            )
        });
        drug_list.push(Drug {
            id,
            key: key.clone(),
            class: spec.class.clone(),
            brand: spec.brand.clone(),
            names: spec.names.clone(),
            source: spec.source.clone(),
            codes: drug_codes,
            expansion,
        });
    }
    (classes, drug_list)
}
