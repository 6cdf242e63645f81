//! Compiling the rules: named definitions, each rule file with its texts, drug advice and
//! reasons, every criterion through the rule-language compiler.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::diagnostics::{Diagnostics, blank};
use super::terminology::Terminology;
use crate::knowledge::codes::ValueSetId;
use crate::knowledge::spec::*;
use crate::knowledge::*;
use crate::language::compile::{CompileContext, collect_observation_sets};
use crate::vocabulary::{DrugId, DrugSet};

const SUMMARY_PLACEHOLDERS: [&str; 2] = ["{drug}", "{reasons}"];

pub(crate) struct Rules {
    pub rules: Vec<Rule>,
    pub definitions: Vec<Definition>,
    /// The observation value sets the rules read (for the observations prefetch query).
    pub observation_sets: BTreeSet<ValueSetId>,
    /// Catalogue ids with no rule file yet.
    pub not_implemented: Vec<String>,
}

pub(crate) fn compile(
    diag: &mut Diagnostics,
    catalogue: &CatalogueFile,
    definitions: &DefinitionsFile,
    rule_files: &[(String, RuleSpec)],
    t: &Terminology,
    sources: &BTreeMap<String, CardSource>,
    unverified: &mut Vec<String>,
) -> Rules {
    let drug_list = &t.drugs;
    let drug_keys = t.drug_keys();
    let vs_ids = &t.vs_ids;
    // Rules.
    let ctx =
        CompileContext { drugs: drug_list, vs_ids, definitions: &definitions.definitions, quantities: &t.quantity_ids };
    let mut compiled_definitions = Vec::new();
    for (name, def) in &definitions.definitions {
        if blank(&def.source) {
            diag.error("definitions.toml", format!("definition `{name}`"), "has no source");
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
            Err(message) => diag.error("definitions.toml", format!("definition `{name}`"), message),
        }
    }
    let mut rules = Vec::new();
    let mut observation_sets = BTreeSet::new();
    let mut seen_rules = HashMap::new();
    for (file, spec) in rule_files {
        let entry = format!("rule `{}`", spec.id);
        if !catalogue.rules.contains_key(&spec.id) {
            diag.error(file, &entry, "unknown rule id: not in catalogue.toml (the catalogue's stable ids)");
            continue;
        }
        if let Some(other) = seen_rules.insert(spec.id.clone(), file.clone()) {
            diag.error(file, &entry, format!("defined twice (also in {other})"));
            continue;
        }
        let stem = file.trim_start_matches("rules/").trim_end_matches(".toml");
        if stem != spec.id {
            diag.error(file, &entry, format!("file name should be rules/{}.toml", spec.id));
        }
        if blank(&spec.source) {
            diag.error(file, &entry, "has no source");
        }
        if !sources.contains_key(&spec.card_source) {
            diag.error(file, &entry, format!("card_source `{}` is not a source in service.toml", spec.card_source));
        }
        let applies_to = drug_set(diag, file, &entry, &spec.applies_to, &drug_keys, drug_list);
        let target = match (&spec.applies_to_orders_in, applies_to.is_empty()) {
            (None, false) => RuleTarget::Drugs(applies_to),
            (Some(vs), true) => match vs_ids.get(vs) {
                Some(id) => RuleTarget::OrderedItem(*id),
                None => {
                    diag.error(file, &entry, format!("value set `{vs}` is referenced but not defined"));
                    RuleTarget::Drugs(applies_to)
                }
            },
            (None, true) => {
                diag.error(file, &entry, "applies to no drug (applies_to) and no ordered item (applies_to_orders_in)");
                RuleTarget::Drugs(applies_to)
            }
            (Some(_), false) => {
                diag.error(file, &entry, "give either applies_to or applies_to_orders_in, not both");
                RuleTarget::Drugs(applies_to)
            }
        };
        let jurisdictions = spec.jurisdictions.clone();
        let (title, summary, advice) = rule_texts(diag, file, &entry, &spec.text);
        let continuation = continuation_texts(diag, file, &entry, spec);
        let mut drug_advice = HashMap::new();
        for (drug, advice) in &spec.drug_advice {
            let a_entry = format!("{entry}, drug_advice `{drug}`");
            if blank(&advice.source) {
                diag.error(file, &a_entry, "has no source");
            }
            if blank(&advice.en) || blank(&advice.nl) {
                diag.error(file, &a_entry, "needs an English (en) and a Dutch (nl) text");
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
                Some(_) => diag.error(file, &a_entry, "the rule does not apply to this drug"),
                None => diag.error(file, &a_entry, format!("unknown drug `{drug}`")),
            }
        }
        if !spec.reasons.is_empty() && spec.reasons.iter().all(|r| r.annotation) {
            diag.error(file, &entry, "every reason is an annotation: the rule could never fire");
        }
        let only_if = match &spec.only_if {
            None => None,
            Some(c) => match ctx.compile(c, &mut Vec::new()) {
                Ok(c) => Some(c),
                Err(message) => {
                    diag.error(file, format!("{entry}, only_if"), message);
                    None
                }
            },
        };
        let mut reasons = Vec::new();
        let mut reason_ids = BTreeSet::new();
        if spec.reasons.is_empty() {
            diag.error(file, &entry, "has no reasons: it could never fire");
        }
        for reason in &spec.reasons {
            let r_entry = format!("{entry}, reason `{}`", reason.id);
            if !reason_ids.insert(reason.id.clone()) {
                diag.error(file, &r_entry, "reason id used twice");
            }
            if blank(&reason.source) {
                diag.error(file, &r_entry, "has no source");
            }
            let label = localized(diag, file, &r_entry, "label", &reason.label);
            let mut stack = Vec::new();
            let when = match ctx.compile(&reason.when, &mut stack) {
                Ok(c) => c,
                Err(message) => {
                    diag.error(file, &r_entry, message);
                    continue;
                }
            };
            collect_observation_sets(&when, &mut observation_sets);
            let reason_drugs = if reason.applies_to.is_empty() {
                applies_to
            } else {
                let set = drug_set(diag, file, &r_entry, &reason.applies_to, &drug_keys, drug_list);
                if !set.is_subset_of(applies_to) {
                    diag.error(file, &r_entry, "applies to a drug its rule does not apply to");
                }
                set
            };
            let reason_advice = if reason.advice.is_empty() {
                None
            } else {
                Some(localized(diag, file, &r_entry, "advice", &reason.advice))
            };
            let reason_suggest = drug_set(diag, file, &r_entry, &reason.suggest, &drug_keys, drug_list);
            if reason.unverified {
                unverified.push(format!("{file}: {r_entry}"));
            }
            reasons.push(Reason {
                unverified: reason.unverified,
                id: reason.id.clone(),
                reads_order: when.reads_order(),
                index: 0,
                when,
                source: reason.source.clone(),
                label,
                jurisdictions: reason.jurisdictions.clone(),
                advice: reason_advice,
                suggest: reason_suggest,
                annotation: reason.annotation,
                show_evidence: reason.show_evidence,
                withholds_alternative: drug_set(
                    diag,
                    file,
                    &r_entry,
                    &reason.withholds_alternative,
                    &drug_keys,
                    drug_list,
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
                .then(|| drug_set(diag, file, &entry, &spec.suggest, &drug_keys, drug_list)),
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
    for (index, reason) in rules.iter_mut().flat_map(|r| &mut r.reasons).enumerate() {
        reason.index = index;
    }
    let not_implemented = catalogue.rules.keys().filter(|k| !seen_rules.contains_key(*k)).cloned().collect::<Vec<_>>();

    Rules { rules, definitions: compiled_definitions, observation_sets, not_implemented }
}

pub(crate) fn drug_set(
    diag: &mut Diagnostics,
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
                diag.error(file, entry, format!("applies_to `{name}` is neither a drug nor a class"));
            }
            members.iter().for_each(|d| set.insert(d.id));
        }
    }
    set
}

pub(crate) fn localized(
    diag: &mut Diagnostics,
    file: &str,
    entry: &str,
    what: &str,
    map: &BTreeMap<String, String>,
) -> Localized {
    for lang in map.keys() {
        if lang != "en" && lang != "nl" {
            diag.error(file, entry, format!("{what}: unknown language `{lang}`"));
        }
    }
    let mut get = |lang: &str, name: &str| match map.get(lang) {
        Some(t) if !blank(t) => t.clone(),
        _ => {
            diag.error(file, entry, format!("{what}: no {name} text ({lang})"));
            String::new()
        }
    };
    Localized { en: get("en", "English"), nl: get("nl", "Dutch") }
}

fn rule_texts(
    diag: &mut Diagnostics,
    file: &str,
    entry: &str,
    text: &BTreeMap<String, RuleTextSpec>,
) -> (Localized, Localized, Localized) {
    let mut title = Localized::default();
    let mut summary = Localized::default();
    let mut advice = Localized::default();
    for lang in text.keys() {
        if lang != "en" && lang != "nl" {
            diag.error(file, entry, format!("text: unknown language `{lang}`"));
        }
    }
    for (lang, name) in [("en", "English"), ("nl", "Dutch")] {
        let Some(t) = text.get(lang) else {
            diag.error(file, entry, format!("rule has no {name} text ([text.{lang}])"));
            continue;
        };
        if blank(&t.title) || blank(&t.summary) || blank(&t.advice) {
            diag.error(file, entry, format!("[text.{lang}] needs a title, a summary and an advice"));
        }
        let mut rest = t.summary.clone();
        for p in SUMMARY_PLACEHOLDERS {
            rest = rest.replace(p, "");
        }
        if rest.contains('{') {
            diag.error(file, entry, format!("[text.{lang}] summary: only {SUMMARY_PLACEHOLDERS:?} may be filled in"));
        }
        // The fixed part must leave room for a drug name within the 140-character limit.
        if rest.chars().count() > 100 {
            diag.error(file, entry, format!("[text.{lang}] summary is too long for a card (max 100 fixed characters)"));
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
pub(crate) fn continuation_texts(
    diag: &mut Diagnostics,
    file: &str,
    entry: &str,
    spec: &RuleSpec,
) -> Option<Localized> {
    let text = |lang: &str| spec.text.get(lang).and_then(|t| t.continuation.clone()).filter(|t| !blank(t));
    let warns = spec.recommendation.is_against();
    match (text("en"), text("nl")) {
        (Some(en), Some(nl)) => Some(Localized { en, nl }),
        (None, None) => {
            if warns && !spec.start_only && spec.applies_to_orders_in.is_none() {
                diag.error(
                    file,
                    entry,
                    "fires on a continuation: give [text.*] continuation, what to do with the ongoing treatment",
                );
            }
            None
        }
        _ => {
            diag.error(file, entry, "[text.en] and [text.nl] continuation: give both or neither");
            None
        }
    }
}
