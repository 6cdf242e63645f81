//! Reading, validating and compiling the knowledge files. Like a policy engine's validator, it
//! checks the whole knowledge base before any of it runs, and names the file and entry of each
//! problem so a reviewer can fix the data without reading Rust.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::Path;

use serde::de::DeserializeOwned;

use super::codes::{CodeIndex, MAX_VALUE_SETS, SystemId, ValueSetId};
use super::load_terminology;
use super::spec::*;
use super::*;
use crate::vocabulary::DrugId;

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

/// The prefetch keys other systems rely on (DEVELOPERS.md, "Contracts").
pub const PREFETCH_KEYS: [&str; 5] = ["patient", "conditions", "medications", "observations", "immunizations"];
const HOOKS: [&str; 2] = ["order-select", "order-sign"];
const OBSERVATION_CODES: &str = "{observation_codes}";
const SUMMARY_PLACEHOLDERS: [&str; 2] = ["{drug}", "{reasons}"];

pub(super) struct Loader {
    dir: std::path::PathBuf,
    errors: Vec<KnowledgeError>,
}

impl Loader {
    pub(super) fn error(&mut self, file: &str, entry: impl Into<String>, message: impl Into<String>) {
        self.errors.push(KnowledgeError { file: file.to_string(), entry: entry.into(), message: message.into() });
    }

    pub(super) fn exists(&self, rel: &str) -> bool {
        self.dir.join(rel).is_file()
    }

    pub(super) fn read_text(&mut self, rel: &str) -> Option<String> {
        let path = self.dir.join(rel);
        match std::fs::read_to_string(&path) {
            Ok(t) => Some(t),
            Err(e) => {
                self.error(rel, "", format!("cannot read {}: {e}", path.display()));
                None
            }
        }
    }

    pub(super) fn read<T: DeserializeOwned>(&mut self, rel: &str) -> Option<T> {
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
    pub(super) fn list(&mut self, sub: &str) -> Vec<String> {
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

fn blank(s: &str) -> bool {
    s.trim().is_empty()
}

pub(super) fn load(dir: &Path) -> Result<Knowledge, KnowledgeErrors> {
    let mut l = Loader { dir: dir.to_path_buf(), errors: Vec::new() };
    let catalogue: Option<CatalogueFile> = l.read("catalogue.toml");
    let service: Option<ServiceFile> = l.read("service.toml");
    let systems: Option<SystemsFile> = l.read("systems.toml");
    let drugs: Option<DrugsFile> = l.read("drugs.toml");
    let definitions: Option<DefinitionsFile> = l.read("definitions.toml");
    let units: Option<UnitsFile> = l.read("units.toml");
    let preferences: Option<PreferencesFile> = l.read("preferences.toml");
    let mut value_set_files = Vec::new();
    for file in l.list("value-sets") {
        if let Some(vs) = l.read::<ValueSetsFile>(&file) {
            value_set_files.push((file, vs));
        }
    }
    let mut rule_files = Vec::new();
    for file in l.list("rules") {
        if let Some(rule) = l.read::<RuleSpec>(&file) {
            rule_files.push((file, rule));
        }
    }
    let (Some(catalogue), Some(service), Some(systems), Some(drugs), Some(definitions), Some(units), Some(preferences)) =
        (catalogue, service, systems, drugs, definitions, units, preferences)
    else {
        return Err(KnowledgeErrors(l.errors));
    };

    let mut unverified = Vec::new();
    let mut codes = CodeIndex::default();
    let terminology_sources = load_terminology::sources(&mut l);
    let ecl_definitions = load_terminology::definitions(&mut l);
    let text_cues = load_terminology::text_cues(&mut l, &mut codes);

    // Code systems.
    let mut system_ids: HashMap<String, SystemId> = HashMap::new();
    let mut system_uris = BTreeMap::new();
    for (name, spec) in &systems.systems {
        if blank(&spec.source) {
            l.error("systems.toml", format!("system `{name}`"), "has no source");
        }
        if spec.uris.is_empty() {
            l.error("systems.toml", format!("system `{name}`"), "lists no URI");
        }
        if spec.unverified {
            unverified.push(format!("systems.toml: system `{name}`"));
        }
        let (form, coverage) = load_terminology::system_form(&mut l, name, spec);
        let id = codes.add_system(&spec.uris, form, coverage);
        for prefix in &spec.too_broad {
            codes.add_too_broad(id, prefix);
        }
        codes.set_codes_outrank_text(id, spec.codes_outrank_text);
        system_ids.insert(name.clone(), id);
        system_uris.insert(name.clone(), spec.canonical.clone());
    }

    // Drugs.
    for (priority, name) in drugs.recognition_order.iter().enumerate() {
        match system_ids.get(name) {
            Some(id) => codes.set_drug_priority(*id, priority as u8),
            None => l.error("drugs.toml", "recognition_order", format!("unknown system `{name}`")),
        }
    }
    let mut classes = BTreeMap::new();
    for (key, class) in &drugs.classes {
        if blank(&class.source) {
            l.error("drugs.toml", format!("class `{key}`"), "has no source");
        }
        classes.insert(
            key.clone(),
            DrugClass { key: key.clone(), name: Localized { en: class.en.clone(), nl: class.nl.clone() } },
        );
    }
    if drugs.drugs.len() > 8 {
        l.error("drugs.toml", "", "more than 8 drugs: DrugSet holds 8");
    }
    let mut drug_list = Vec::new();
    for (index, (key, spec)) in drugs.drugs.iter().enumerate().take(8) {
        let id = DrugId(index as u8);
        let entry = format!("drug `{key}`");
        if blank(&spec.source) {
            l.error("drugs.toml", &entry, "has no source");
        }
        if !classes.contains_key(&spec.class) {
            l.error("drugs.toml", &entry, format!("unknown class `{}`", spec.class));
        }
        if spec.names.is_empty() {
            l.error("drugs.toml", &entry, "lists no names for text matching");
        }
        let mut drug_codes = Vec::new();
        for code in &spec.codes {
            let code_entry = format!("{entry}, code {} {}", code.system, code.code);
            if blank(&code.source) {
                l.error("drugs.toml", &code_entry, "has no source");
            }
            if code.unverified {
                unverified.push(format!("drugs.toml: {code_entry}"));
            }
            match system_ids.get(&code.system) {
                Some(sid) => codes.add_code(*sid, &code.code, None, Some(id)),
                None => l.error("drugs.toml", &code_entry, format!("unknown system `{}`", code.system)),
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
            load_terminology::load_expansion(
                &mut l,
                name,
                load_terminology::Member::Drug(id),
                &mut codes,
                &system_ids,
                &system_uris,
                &terminology_sources,
            )
        });
        drug_list.push(Drug {
            id,
            key: key.clone(),
            class: spec.class.clone(),
            ad_matrix: spec.ad_matrix,
            brand: spec.brand.clone(),
            names: spec.names.clone(),
            source: spec.source.clone(),
            codes: drug_codes,
            expansion,
        });
    }
    let drug_keys: HashMap<&str, DrugId> = drug_list.iter().map(|d| (d.key.as_str(), d.id)).collect();

    // Value sets.
    let mut value_sets: Vec<ValueSet> = Vec::new();
    let mut vs_ids: HashMap<String, ValueSetId> = HashMap::new();
    for (file, spec_file) in &value_set_files {
        for (key, spec) in &spec_file.value_sets {
            let entry = format!("value set `{key}`");
            if let Some(existing) = vs_ids.get(key) {
                let other = &value_sets[existing.0 as usize].file;
                l.error(file, &entry, format!("defined twice (also in {other})"));
                continue;
            }
            if value_sets.len() >= MAX_VALUE_SETS {
                l.error(file, &entry, format!("more than {MAX_VALUE_SETS} value sets"));
                continue;
            }
            let id = ValueSetId(value_sets.len() as u16);
            if blank(&spec.source) {
                l.error(file, &entry, "has no source");
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
                l.error(file, &entry, "has no codes, prefixes, text, drugs, inclusions or expansion");
            }
            let terminology = load_terminology::value_set_terminology(
                &mut l,
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
                    None => l.error(file, &entry, format!("unknown system `{system}`")),
                }
            }
            for (exclude, map) in [(false, &spec.prefixes), (true, &spec.exclude_prefixes)] {
                for (system, list) in map {
                    match system_ids.get(system) {
                        Some(sid) => list.iter().for_each(|p| codes.add_prefix(*sid, p, id, exclude)),
                        None => l.error(file, &entry, format!("unknown system `{system}`")),
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
                    None => l.error(file, &entry, format!("unknown drug `{drug}`")),
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
    for (file, spec_file) in &value_set_files {
        for (key, spec) in &spec_file.value_sets {
            let Some(id) = vs_ids.get(key).copied() else { continue };
            if value_sets[id.0 as usize].file != *file {
                continue;
            }
            let links = load_terminology::value_set_links(&mut l, file, key, id, spec, &vs_ids, &mut codes);
            value_sets[id.0 as usize].yes_means = links.yes_means;
            value_sets[id.0 as usize].no_means = links.no_means;
            if let Some(answer) = spec.generic_answer {
                generic.push((file.clone(), key.clone(), answer));
            }
            inclusions.push((file.clone(), key.clone(), spec.include.clone()));
        }
    }
    load_terminology::check_inclusion_cycles(&mut l, &inclusions);
    load_terminology::check_definitions_used(&mut l, &ecl_definitions, &vs_ids);
    let (generic_yes, generic_no) = load_terminology::generic_answers(&mut l, &generic, &vs_ids);
    codes.finish();

    // Card sources and override reasons.
    let mut sources = BTreeMap::new();
    for (key, s) in &service.sources {
        if blank(&s.source) {
            l.error("service.toml", format!("source `{key}`"), "has no source (where the label and url were checked)");
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

    // Quantity kinds.
    let mut quantities = Vec::new();
    for (key, q) in &units.quantities {
        let entry = format!("quantity `{key}`");
        if blank(&q.source) {
            l.error("units.toml", &entry, "has no source");
        }
        if q.unverified {
            unverified.push(format!("units.toml: {entry}"));
        }
        if !q.factors.contains_key(&q.unit) {
            l.error("units.toml", &entry, format!("its unit `{}` has no factor (1.0)", q.unit));
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

    // Rules.
    let ctx = CompileContext {
        drugs: &drug_list,
        vs_ids: &vs_ids,
        definitions: &definitions.definitions,
        quantities: &quantity_ids,
    };
    let mut compiled_definitions = Vec::new();
    for (name, def) in &definitions.definitions {
        if blank(&def.source) {
            l.error("definitions.toml", format!("definition `{name}`"), "has no source");
        }
        // Compile once on its own so that an unused broken definition is still reported.
        let mut stack = vec![name.clone()];
        match ctx.compile(&def.when, &mut stack) {
            Ok(when) => {
                if def.unverified {
                    unverified.push(format!("definitions.toml: definition `{name}`"));
                }
                compiled_definitions.push(Definition {
                    key: name.clone(),
                    description: def.description.clone(),
                    source: def.source.clone(),
                    when,
                    unverified: def.unverified,
                })
            }
            Err(message) => l.error("definitions.toml", format!("definition `{name}`"), message),
        }
    }
    let mut rules = Vec::new();
    let mut observation_sets = BTreeSet::new();
    let mut seen_rules = HashMap::new();
    for (file, spec) in &rule_files {
        let entry = format!("rule `{}`", spec.id);
        if !catalogue.rules.contains_key(&spec.id) {
            l.error(file, &entry, "unknown rule id: not in catalogue.toml (the catalogue's stable ids)");
            continue;
        }
        if let Some(other) = seen_rules.insert(spec.id.clone(), file.clone()) {
            l.error(file, &entry, format!("defined twice (also in {other})"));
            continue;
        }
        let stem = file.trim_start_matches("rules/").trim_end_matches(".toml");
        if stem != spec.id {
            l.error(file, &entry, format!("file name should be rules/{}.toml", spec.id));
        }
        if blank(&spec.source) {
            l.error(file, &entry, "has no source");
        }
        if !sources.contains_key(&spec.card_source) {
            l.error(file, &entry, format!("card_source `{}` is not a source in service.toml", spec.card_source));
        }
        let applies_to = drug_set(&mut l, file, &entry, &spec.applies_to, &drug_keys, &drug_list);
        let target = match (&spec.applies_to_orders_in, applies_to.is_empty()) {
            (None, false) => RuleTarget::Drugs(applies_to),
            (Some(vs), true) => match vs_ids.get(vs) {
                Some(id) => RuleTarget::OrderedItem(*id),
                None => {
                    l.error(file, &entry, format!("value set `{vs}` is referenced but not defined"));
                    RuleTarget::Drugs(applies_to)
                }
            },
            (None, true) => {
                l.error(file, &entry, "applies to no drug (applies_to) and no ordered item (applies_to_orders_in)");
                RuleTarget::Drugs(applies_to)
            }
            (Some(_), false) => {
                l.error(file, &entry, "give either applies_to or applies_to_orders_in, not both");
                RuleTarget::Drugs(applies_to)
            }
        };
        let jurisdictions = spec.jurisdictions.clone();
        let (title, summary, advice) = rule_texts(&mut l, file, &entry, &spec.text);
        let continuation = continuation_texts(&mut l, file, &entry, spec);
        let mut drug_advice = HashMap::new();
        for (drug, advice) in &spec.drug_advice {
            let a_entry = format!("{entry}, drug_advice `{drug}`");
            if blank(&advice.source) {
                l.error(file, &a_entry, "has no source");
            }
            if blank(&advice.en) || blank(&advice.nl) {
                l.error(file, &a_entry, "needs an English (en) and a Dutch (nl) text");
            }
            if advice.unverified {
                unverified.push(format!("{file}: {a_entry}"));
            }
            match drug_keys.get(drug.as_str()) {
                Some(id) if applies_to.contains(*id) => {
                    drug_advice.insert(
                        *id,
                        DrugAdvice {
                            text: Localized { en: advice.en.clone(), nl: advice.nl.clone() },
                            source: advice.source.clone(),
                            unverified: advice.unverified,
                        },
                    );
                }
                Some(_) => l.error(file, &a_entry, "the rule does not apply to this drug"),
                None => l.error(file, &a_entry, format!("unknown drug `{drug}`")),
            }
        }
        if !spec.reasons.is_empty() && spec.reasons.iter().all(|r| r.annotation) {
            l.error(file, &entry, "every reason is an annotation: the rule could never fire");
        }
        let only_if = match &spec.only_if {
            None => None,
            Some(c) => match ctx.compile(c, &mut Vec::new()) {
                Ok(c) => Some(c),
                Err(message) => {
                    l.error(file, format!("{entry}, only_if"), message);
                    None
                }
            },
        };
        let mut reasons = Vec::new();
        let mut reason_ids = BTreeSet::new();
        if spec.reasons.is_empty() {
            l.error(file, &entry, "has no reasons: it could never fire");
        }
        for reason in &spec.reasons {
            let r_entry = format!("{entry}, reason `{}`", reason.id);
            if !reason_ids.insert(reason.id.clone()) {
                l.error(file, &r_entry, "reason id used twice");
            }
            if blank(&reason.source) {
                l.error(file, &r_entry, "has no source");
            }
            let label = localized(&mut l, file, &r_entry, "label", &reason.label);
            let mut stack = Vec::new();
            let when = match ctx.compile(&reason.when, &mut stack) {
                Ok(c) => c,
                Err(message) => {
                    l.error(file, &r_entry, message);
                    continue;
                }
            };
            collect_observation_sets(&when, &mut observation_sets);
            let reason_drugs = if reason.applies_to.is_empty() {
                applies_to
            } else {
                let set = drug_set(&mut l, file, &r_entry, &reason.applies_to, &drug_keys, &drug_list);
                if set.0 & !applies_to.0 != 0 {
                    l.error(file, &r_entry, "applies to a drug its rule does not apply to");
                }
                set
            };
            let reason_advice = if reason.advice.is_empty() {
                None
            } else {
                Some(localized(&mut l, file, &r_entry, "advice", &reason.advice))
            };
            let reason_suggest = drug_set(&mut l, file, &r_entry, &reason.suggest, &drug_keys, &drug_list);
            if reason.unverified {
                unverified.push(format!("{file}: {r_entry}"));
            }
            reasons.push(Reason {
                unverified: reason.unverified,
                id: reason.id.clone(),
                when,
                source: reason.source.clone(),
                label,
                jurisdictions: reason.jurisdictions.clone(),
                advice: reason_advice,
                suggest: reason_suggest,
                annotation: reason.annotation,
                show_evidence: reason.show_evidence,
                withholds_alternative: drug_set(
                    &mut l,
                    file,
                    &r_entry,
                    &reason.withholds_alternative,
                    &drug_keys,
                    &drug_list,
                ),
                recommendation: reason.recommendation.unwrap_or(spec.recommendation),
                applies_to: reason_drugs,
                start_only: reason.start_only,
            });
        }
        rules.push(Rule {
            id: spec.id.clone(),
            title,
            file: file.clone(),
            target,
            recommendation: spec.recommendation,
            source: spec.source.clone(),
            card_source: spec.card_source.clone(),
            start_only: spec.start_only,
            jurisdictions,
            suggest_alternatives: spec.suggest_alternatives,
            suggest: (!spec.suggest.is_empty())
                .then(|| drug_set(&mut l, file, &entry, &spec.suggest, &drug_keys, &drug_list)),
            only_if,
            drug_advice,
            summary,
            advice,
            continuation,
            reasons,
        });
    }
    // Catalogue order keeps card order and review pages stable.
    let order: Vec<&String> = catalogue.rules.keys().collect();
    rules.sort_by_key(|r| order.iter().position(|k| **k == r.id));
    let not_implemented = catalogue.rules.keys().filter(|k| !seen_rules.contains_key(*k)).cloned().collect::<Vec<_>>();

    // Services and prefetch.
    let mut services = Vec::new();
    for s in &service.services {
        if !HOOKS.contains(&s.hook.as_str()) {
            l.error(
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
        l.error("service.toml", "prefetch", format!("keys must be exactly {PREFETCH_KEYS:?}"));
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
            l.error("service.toml", format!("server_queries `{key}`"), "is not a prefetch key");
        }
    }
    let prefetch =
        service.prefetch.iter().map(|(k, v)| (k.clone(), v.replace(OBSERVATION_CODES, &observation_codes))).collect();

    if blank(&preferences.source) {
        l.error("preferences.toml", "", "has no source");
    }
    let preference_rows = preferences
        .preferences
        .iter()
        .enumerate()
        .map(|(i, p)| {
            for class in [&p.biologic, &p.jak] {
                if !["↑↑", "↑", "0", "↓", "↓↓", ""].contains(&class.as_str()) {
                    l.error(
                        "preferences.toml",
                        format!("preference {}", i + 1),
                        format!("`{class}` is not a matrix arrow"),
                    );
                }
            }
            Preference {
                text: Localized { en: p.en.clone(), nl: p.nl.clone() },
                arrows: [("biologic".to_string(), p.biologic.clone()), ("jak".to_string(), p.jak.clone())].into(),
            }
        })
        .collect();
    let ad_indication = match vs_ids.get(&drugs.ad_indication) {
        Some(id) => *id,
        None => {
            l.error(
                "drugs.toml",
                "ad_indication",
                format!("value set `{}` is referenced but not defined", drugs.ad_indication),
            );
            ValueSetId(0)
        }
    };
    if !l.errors.is_empty() {
        return Err(KnowledgeErrors(l.errors));
    }
    Ok(Knowledge {
        rule_id_system: service.rule_id_system,
        override_reason_system: service.override_reason_system,
        services,
        prefetch,
        server_queries: service.server_queries,
        sources,
        override_reasons,
        classes,
        drugs: drug_list,
        value_sets,
        codes,
        rules,
        ad_indication,
        quantities,
        preferences: preference_rows,
        preferences_source: preferences.source,
        definitions: compiled_definitions,
        system_uris,
        terminology_sources,
        text_cues,
        generic_yes,
        generic_no,
        unverified,
        not_implemented,
    })
}

fn drug_set(
    l: &mut Loader,
    file: &str,
    entry: &str,
    names: &[String],
    drug_keys: &HashMap<&str, DrugId>,
    drugs: &[Drug],
) -> DrugSet {
    let mut set = DrugSet::default();
    for name in names {
        if let Some(id) = drug_keys.get(name.as_str()) {
            set.insert(*id);
        } else if name == "all" {
            drugs.iter().for_each(|d| set.insert(d.id));
        } else {
            let members: Vec<&Drug> = drugs.iter().filter(|d| &d.class == name).collect();
            if members.is_empty() {
                l.error(file, entry, format!("applies_to `{name}` is neither a drug nor a class"));
            }
            members.iter().for_each(|d| set.insert(d.id));
        }
    }
    set
}

fn localized(l: &mut Loader, file: &str, entry: &str, what: &str, map: &BTreeMap<String, String>) -> Localized {
    for lang in map.keys() {
        if lang != "en" && lang != "nl" {
            l.error(file, entry, format!("{what}: unknown language `{lang}`"));
        }
    }
    let mut get = |lang: &str, name: &str| match map.get(lang) {
        Some(t) if !blank(t) => t.clone(),
        _ => {
            l.error(file, entry, format!("{what}: no {name} text ({lang})"));
            String::new()
        }
    };
    Localized { en: get("en", "English"), nl: get("nl", "Dutch") }
}

fn rule_texts(
    l: &mut Loader,
    file: &str,
    entry: &str,
    text: &BTreeMap<String, RuleTextSpec>,
) -> (Localized, Localized, Localized) {
    let mut title = Localized::default();
    let mut summary = Localized::default();
    let mut advice = Localized::default();
    for lang in text.keys() {
        if lang != "en" && lang != "nl" {
            l.error(file, entry, format!("text: unknown language `{lang}`"));
        }
    }
    for (lang, name) in [("en", "English"), ("nl", "Dutch")] {
        let Some(t) = text.get(lang) else {
            l.error(file, entry, format!("rule has no {name} text ([text.{lang}])"));
            continue;
        };
        if blank(&t.title) || blank(&t.summary) || blank(&t.advice) {
            l.error(file, entry, format!("[text.{lang}] needs a title, a summary and an advice"));
        }
        let mut rest = t.summary.clone();
        for p in SUMMARY_PLACEHOLDERS {
            rest = rest.replace(p, "");
        }
        if rest.contains('{') {
            l.error(file, entry, format!("[text.{lang}] summary: only {SUMMARY_PLACEHOLDERS:?} may be filled in"));
        }
        // The fixed part must leave room for a drug name within the 140-character limit.
        if rest.chars().count() > 100 {
            l.error(file, entry, format!("[text.{lang}] summary is too long for a card (max 100 fixed characters)"));
        }
        let (ti, s, a) = match lang {
            "en" => (&mut title.en, &mut summary.en, &mut advice.en),
            _ => (&mut title.nl, &mut summary.nl, &mut advice.nl),
        };
        *ti = t.title.clone();
        *s = t.summary.clone();
        *a = t.advice.clone();
    }
    (title, summary, advice)
}

/// The advice for an ongoing treatment: in both languages or neither, and present on every
/// warning or critical rule about the drug ordered that also fires on a continuation
/// (rules-catalog.md, "Continuation wording").
fn continuation_texts(l: &mut Loader, file: &str, entry: &str, spec: &RuleSpec) -> Option<Localized> {
    let text = |lang: &str| spec.text.get(lang).and_then(|t| t.continuation.clone()).filter(|t| !blank(t));
    let warns = spec.recommendation.is_against();
    match (text("en"), text("nl")) {
        (Some(en), Some(nl)) => Some(Localized { en, nl }),
        (None, None) => {
            if warns && !spec.start_only && spec.applies_to_orders_in.is_none() {
                l.error(
                    file,
                    entry,
                    "fires on a continuation: give [text.*] continuation, what to do with the ongoing treatment",
                );
            }
            None
        }
        _ => {
            l.error(file, entry, "[text.en] and [text.nl] continuation: give both or neither");
            None
        }
    }
}

fn collect_observation_sets(c: &Criterion, out: &mut BTreeSet<ValueSetId>) {
    match c {
        Criterion::All(list) | Criterion::Any(list) => list.iter().for_each(|c| collect_observation_sets(c, out)),
        Criterion::Not(inner) => collect_observation_sets(inner, out),
        Criterion::Observation(q) => {
            out.insert(q.value_set);
            if let Some(u) = &q.unless_followed_by {
                collect_observation_sets(u, out);
            }
        }
        Criterion::Condition(q) => {
            if let Some(u) = &q.unless_followed_by {
                collect_observation_sets(u, out);
            }
        }
        _ => {}
    }
}

struct CompileContext<'a> {
    drugs: &'a [Drug],
    vs_ids: &'a HashMap<String, ValueSetId>,
    definitions: &'a BTreeMap<String, DefinitionSpec>,
    quantities: &'a HashMap<String, QuantityId>,
}

impl CompileContext<'_> {
    fn value_set(&self, name: &str) -> Result<ValueSetId, String> {
        self.vs_ids.get(name).copied().ok_or_else(|| format!("value set `{name}` is referenced but not defined"))
    }

    fn window(months: Option<u32>) -> Result<Option<u32>, String> {
        match months {
            Some(0) => Err("within_months must be at least 1".into()),
            m => Ok(m),
        }
    }

    fn numeric(&self, o: &ObservationSpec) -> Result<Option<NumericTest>, String> {
        let bounds = o.below.is_some() || o.at_least.is_some();
        let Some(name) = &o.quantity else {
            if bounds || o.unit_not_understood || o.below_today.is_some() {
                return Err("below / at_least / below_today / unit_not_understood need a `quantity`".into());
            }
            return Ok(None);
        };
        let quantity =
            *self.quantities.get(name).ok_or_else(|| format!("quantity `{name}` is not defined in units.toml"))?;
        match (bounds, o.below_today, o.unit_not_understood) {
            (true, None, false) => Ok(Some(NumericTest::Compare { quantity, below: o.below, at_least: o.at_least })),
            (false, Some(below), false) => Ok(Some(NumericTest::BelowToday { quantity, below })),
            (false, None, true) => Ok(Some(NumericTest::UnitNotUnderstood(quantity))),
            (false, None, false) => {
                Err(format!("quantity `{name}` without below / at_least / below_today / unit_not_understood"))
            }
            _ => Err("give one of: bounds, below_today, unit_not_understood".into()),
        }
    }

    fn followed_by(
        &self,
        spec: &Option<Box<CriterionSpec>>,
        stack: &mut Vec<String>,
    ) -> Result<Option<Box<Criterion>>, String> {
        let Some(spec) = spec else { return Ok(None) };
        let compiled = self.compile(spec, stack)?;
        if !is_dated(&compiled) {
            return Err(
                "unless_followed_by needs a dated fact (condition, observation, medication, immunization)".into()
            );
        }
        Ok(Some(Box::new(compiled)))
    }

    fn compile(&self, spec: &CriterionSpec, stack: &mut Vec<String>) -> Result<Criterion, String> {
        Ok(match spec {
            CriterionSpec::All(list) | CriterionSpec::Any(list) => {
                if list.is_empty() {
                    return Err("`all`/`any` with an empty list".into());
                }
                let compiled = list.iter().map(|c| self.compile(c, stack)).collect::<Result<Vec<_>, _>>()?;
                if matches!(spec, CriterionSpec::All(_)) { Criterion::All(compiled) } else { Criterion::Any(compiled) }
            }
            CriterionSpec::Not(inner) => Criterion::Not(Box::new(self.compile(inner, stack)?)),
            CriterionSpec::Use(name) => {
                if stack.contains(name) {
                    return Err(format!("definition `{name}` refers to itself ({} → {name})", stack.join(" → ")));
                }
                let def =
                    self.definitions.get(name).ok_or_else(|| format!("definition `{name}` is used but not defined"))?;
                stack.push(name.clone());
                let compiled = self.compile(&def.when, stack);
                stack.pop();
                compiled.map_err(|e| format!("in definition `{name}`: {e}"))?
            }
            CriterionSpec::Age(a) => {
                if a.at_least.is_none() && a.below.is_none() {
                    return Err("age needs at_least and/or below".into());
                }
                Criterion::Age { at_least: a.at_least, below: a.below }
            }
            CriterionSpec::Sex(s) => Criterion::Sex(*s),
            CriterionSpec::Condition(c) => Criterion::Condition(ConditionQuery {
                value_set: self.value_set(&c.value_set)?,
                status: c.status,
                severity_in: c.severity_in.as_deref().map(|s| self.value_set(s)).transpose()?,
                within_months: Self::window(c.within_months)?,
                min_count: c.min_count.unwrap_or(1).max(1),
                unless_followed_by: self.followed_by(&c.unless_followed_by, stack)?,
            }),
            CriterionSpec::Observation(o) => Criterion::Observation(ObservationQuery {
                value_set: self.value_set(&o.value_set)?,
                which: o.which,
                within_months: Self::window(o.within_months)?,
                answer_in: o.answer_in.as_deref().map(|s| self.value_set(s)).transpose()?,
                answer_not_in: o.answer_not_in.as_deref().map(|s| self.value_set(s)).transpose()?,
                with_value: o.with_value,
                numeric: self.numeric(o)?,
                unless_followed_by: self.followed_by(&o.unless_followed_by, stack)?,
                date_value_from_today: o.date_value_from_today,
            }),
            CriterionSpec::Medication(m) => {
                if m.status.is_empty() {
                    return Err("medication needs at least one status".into());
                }
                let statuses = m.status.clone();
                Criterion::Medication(MedicationQuery {
                    value_set: self.value_set(&m.value_set)?,
                    not_in: m.not_in.as_ref().map(|v| self.value_set(v)).transpose()?,
                    statuses,
                    min_days: m.min_days,
                })
            }
            CriterionSpec::Immunization(i) => Criterion::Immunization(ImmunizationQuery {
                value_set: self.value_set(&i.value_set)?,
                within_days: i.within_days,
            }),
            CriterionSpec::PlannedImmunization(i) => Criterion::PlannedImmunization(ImmunizationQuery {
                value_set: self.value_set(&i.value_set)?,
                within_days: i.within_days,
            }),
            CriterionSpec::AgeUnknown(true) => Criterion::AgeUnknown,
            CriterionSpec::RecordProblems(true) => Criterion::RecordProblems,
            CriterionSpec::UnclassifiedConditions(true) => Criterion::UnclassifiedConditions,
            CriterionSpec::UnidentifiedMedications(true) => Criterion::UnidentifiedMedications,
            CriterionSpec::OrderUnreadable(true) => Criterion::OrderUnreadable,
            CriterionSpec::NewStart(true) => Criterion::NewStart,
            CriterionSpec::DoseUnreadable(true) => Criterion::DoseUnreadable,
            CriterionSpec::DoseMissing(true) => Criterion::DoseMissing,
            CriterionSpec::DoseRead(true) => Criterion::DoseRead,
            CriterionSpec::WeeksOnDrug(w) => Criterion::WeeksOnDrug { more_than: w.more_than },
            CriterionSpec::PreviouslyOnDose(d) => Criterion::PreviouslyOnDose { mg: d.mg, per_day: d.per_day },
            CriterionSpec::DaysOnDose(d) => {
                if d.within_months == 0 {
                    return Err("days_on_dose needs within_months of at least 1".into());
                }
                Criterion::DaysOnDose {
                    mg: d.mg,
                    per_day: d.per_day,
                    after: d.after.as_ref().map(|a| (a.mg, a.per_day)),
                    within_months: d.within_months,
                    more_than: d.more_than,
                }
            }
            CriterionSpec::OrderedDrug(names) => {
                let mut set = DrugSet::default();
                for name in names {
                    let members: Vec<&Drug> =
                        self.drugs.iter().filter(|d| &d.key == name || &d.class == name).collect();
                    if members.is_empty() {
                        return Err(format!("ordered_drug `{name}` is neither a drug nor a class"));
                    }
                    members.iter().for_each(|d| set.insert(d.id));
                }
                Criterion::OrderedDrug(set)
            }
            CriterionSpec::Indication(vs) => Criterion::Indication(self.value_set(vs)?),
            CriterionSpec::Dose(d) => {
                if !(d.mg > 0.0 && d.per_day > 0.0) {
                    return Err("dose needs mg and per_day above 0".into());
                }
                Criterion::Dose { mg: d.mg, per_day: d.per_day }
            }
            CriterionSpec::AgeUnknown(false)
            | CriterionSpec::RecordProblems(false)
            | CriterionSpec::UnclassifiedConditions(false)
            | CriterionSpec::UnidentifiedMedications(false)
            | CriterionSpec::OrderUnreadable(false)
            | CriterionSpec::NewStart(false)
            | CriterionSpec::DoseUnreadable(false)
            | CriterionSpec::DoseMissing(false)
            | CriterionSpec::DoseRead(false) => {
                return Err("write `= true`, or use `not`".into());
            }
        })
    }
}

fn is_dated(c: &Criterion) -> bool {
    match c {
        Criterion::Condition(_) | Criterion::Observation(_) | Criterion::Medication(_) | Criterion::Immunization(_) => {
            true
        }
        Criterion::Any(list) => list.iter().all(is_dated),
        _ => false,
    }
}
