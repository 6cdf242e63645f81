//! The clinical knowledge: drugs, value sets, rules and their texts, loaded from the reviewable
//! files in `cds-services/`, validated as a whole before the service answers anything.

mod codes;
mod compile;
mod describe;
pub mod ecl;
mod expansion;
mod messages;
pub mod spec;
mod text_match;

use std::collections::{BTreeMap, HashMap};

pub use codes::{
    Classification, CodeForm, CodeIndex, Coverage, Placement, SystemId, ValueSetId, ValueSetMask, normalize_text,
};
pub use compile::{KnowledgeError, KnowledgeErrors};
pub use describe::describe;
pub use ecl::Constraint;
pub use expansion::ExpansionFile;
pub(crate) use messages::fill_placeholders;
pub use messages::{MESSAGE_KEYS, Messages};
pub use text_match::{CueKind, CuePlace, TextFinding};

pub use crate::language::ast::*;
use crate::vocabulary::{DrugId, Jurisdiction, Language, Recommendation};
pub use crate::vocabulary::{DrugSet, MedicationStatus};

/// A text in every language the cards speak.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Localized {
    pub en: String,
    pub nl: String,
}

impl Localized {
    pub fn get(&self, language: Language) -> &str {
        match language {
            Language::En => &self.en,
            Language::Nl => &self.nl,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ServiceDefinition {
    pub id: String,
    pub hook: String,
    pub title: String,
    pub description: String,
    pub usage_requirements: Option<String>,
}

/// What a card cites in `card.source`.
#[derive(Debug, Clone)]
pub struct CardSource {
    pub label: String,
    pub url: Option<String>,
    pub unverified: bool,
}

#[derive(Debug, Clone)]
pub struct OverrideReason {
    pub code: String,
    pub display: Localized,
}

#[derive(Debug, Clone)]
pub struct DrugClass {
    pub key: String,
    pub name: Localized,
}

#[derive(Debug, Clone)]
pub struct DrugCode {
    pub system_uri: String,
    pub code: String,
    pub display: String,
    pub source: String,
    pub unverified: bool,
}

#[derive(Debug, Clone)]
pub struct Drug {
    pub id: DrugId,
    pub key: String,
    pub class: String,
    pub brand: String,
    pub names: Vec<String>,
    pub source: String,
    pub codes: Vec<DrugCode>,
    /// Product codes from a shipped expansion (RxNorm clinical and branded drugs …).
    pub expansion: Option<ShippedExpansion>,
}

#[derive(Debug, Clone)]
pub struct ValueSet {
    pub id: ValueSetId,
    pub key: String,
    pub title: String,
    pub source: String,
    pub unverified: bool,
    pub file: String,
    /// Codes by system short name, for review pages and prefetch templates.
    pub codes: BTreeMap<String, Vec<String>>,
    pub prefixes: BTreeMap<String, Vec<String>>,
    pub exclude_prefixes: BTreeMap<String, Vec<String>>,
    pub text: Vec<String>,
    pub drugs: Vec<String>,
    /// Value sets whose members belong to this one too.
    pub include: Vec<String>,
    /// The SNOMED CT definition by meaning.
    pub ecl: Option<Constraint>,
    pub expansions: Vec<ShippedExpansion>,
    pub by_text: Option<ByText>,
    /// For a yes/no question: the value sets a generic yes / no answer counts as.
    pub yes_means: Option<ValueSetId>,
    pub no_means: Option<ValueSetId>,
}

/// A shipped expansion as the review page shows it.
#[derive(Debug, Clone)]
pub struct ShippedExpansion {
    /// Relative to the knowledge directory.
    pub file: String,
    pub size: usize,
    pub system: String,
    pub version: String,
    pub date: String,
    pub method: String,
    /// The published sources its members came from (keys of `terminology/sources.toml`).
    pub sources: Vec<String>,
}

/// Recognition by text of a critical concept.
#[derive(Debug, Clone)]
pub struct ByText {
    pub phrases: Vec<String>,
    pub not: Vec<String>,
    pub source: String,
}

/// A published value set or server an expansion came from.
#[derive(Debug, Clone)]
pub struct TerminologySource {
    pub key: String,
    pub title: String,
    pub url: String,
    pub version: String,
    pub via: String,
}

/// The guards of recognition by text, for review.
#[derive(Debug, Clone, Default)]
pub struct TextCues {
    pub source: String,
    pub cues: Vec<(CueKind, CuePlace, Vec<String>)>,
}

/// Index of a quantity kind of `units.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuantityId(pub u8);

/// A kind of quantity (eGFR, a blood count, haemoglobin) and the units it may come in.
#[derive(Debug, Clone)]
pub struct QuantityKind {
    pub key: String,
    pub unit: String,
    /// Lower-cased unit → factor to `unit`.
    pub factors: HashMap<String, f64>,
    pub source: String,
}

impl QuantityKind {
    /// The value in this kind's unit; `None` for a unit it does not know (never guessed).
    pub fn convert(&self, value: f64, unit: Option<&str>) -> Option<f64> {
        let unit = unit?.trim().to_lowercase();
        self.factors.get(&unit).map(|f| value * f)
    }
}

/// What orders a rule reviews.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleTarget {
    Drugs(DrugSet),
    /// Orders whose item (e.g. a vaccine) is in this value set.
    OrderedItem(ValueSetId),
}

#[derive(Debug, Clone)]
pub struct Reason {
    pub id: String,
    pub when: Criterion,
    /// `when.reads_order()`, worked out once when the knowledge is compiled.
    pub(crate) reads_order: bool,
    /// Its place among all the knowledge's reasons (0, 1, …, in catalogue order): what a call
    /// keeps per reason is kept in a table, not looked up by name.
    pub(crate) index: usize,
    pub source: String,
    pub label: Localized,
    pub recommendation: Recommendation,
    pub applies_to: DrugSet,
    pub start_only: bool,
    /// Empty: every jurisdiction.
    pub jurisdictions: Vec<Jurisdiction>,
    pub advice: Option<Localized>,
    pub suggest: DrugSet,
    pub annotation: bool,
    pub show_evidence: bool,
    /// Candidate alternatives not suggested while this reason holds for them.
    pub withholds_alternative: DrugSet,
    pub unverified: bool,
}

/// Advice for one drug on a rule's card, with its source.
#[derive(Debug, Clone)]
pub struct DrugAdvice {
    pub text: Localized,
    pub source: String,
    pub unverified: bool,
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub title: Localized,
    pub file: String,
    pub target: RuleTarget,
    pub recommendation: Recommendation,
    pub source: String,
    pub card_source: String,
    pub start_only: bool,
    /// Empty: every jurisdiction.
    pub jurisdictions: Vec<Jurisdiction>,
    pub suggest_alternatives: bool,
    /// Drugs this rule suggests (when free of ↓/↓↓); `None`: every seed-A alternative.
    pub suggest: Option<DrugSet>,
    pub only_if: Option<Criterion>,
    pub drug_advice: HashMap<DrugId, DrugAdvice>,
    pub summary: Localized,
    pub advice: Localized,
    /// What to do with an ongoing treatment (the order continues the drug).
    pub continuation: Option<Localized>,
    pub reasons: Vec<Reason>,
}

impl Rule {
    pub fn runs_in(&self, jurisdiction: Jurisdiction) -> bool {
        self.jurisdictions.is_empty() || self.jurisdictions.contains(&jurisdiction)
    }
}

impl Reason {
    pub fn runs_in(&self, jurisdiction: Jurisdiction) -> bool {
        self.jurisdictions.is_empty() || self.jurisdictions.contains(&jurisdiction)
    }
}

/// A patient-preference row of seed A: arrows per drug class.
#[derive(Debug, Clone)]
pub struct Preference {
    /// A short key (`oral`): names the preference on the matrix page.
    pub id: String,
    pub text: Localized,
    /// Class key (`biologic`, `jak`) → arrow.
    pub arrows: BTreeMap<String, String>,
}

/// A row of seed A's decision matrix: the arrow per drug, and what tells whether it applies to
/// a patient (rules that fire; `data.unchecked` reasons that say it could not be checked).
#[derive(Debug, Clone)]
pub struct MatrixRow {
    pub id: String,
    /// `warnings`, `pregnancy` or `indications`.
    pub section: String,
    pub text: Localized,
    /// Per drug of the matrix, in column order: the arrow (empty: no recommendation).
    pub arrows: Vec<(DrugId, String)>,
    pub note: Option<Localized>,
    /// (rule id, reason id or `None` for any reason of the rule).
    pub rules: Vec<(String, Option<String>)>,
    /// Reason ids of `data.unchecked`.
    pub unchecked: Vec<String>,
}

/// The decision matrix as a page shows it: its columns (an alternative set) and rows.
#[derive(Debug, Clone, Default)]
pub struct Matrix {
    /// The alternative set whose drugs are the columns.
    pub set: String,
    pub drugs: Vec<DrugId>,
    pub rows: Vec<MatrixRow>,
    pub source: String,
}

/// Drugs that may be suggested in place of each other for one indication (a decision matrix).
#[derive(Debug, Clone)]
pub struct AlternativeSet {
    pub key: String,
    pub title: Localized,
    pub indication: ValueSetId,
    pub drugs: DrugSet,
    pub withhold_on: Vec<Recommendation>,
    pub source: String,
}

/// A named criterion, kept for review pages.
#[derive(Debug, Clone)]
pub struct Definition {
    pub key: String,
    pub description: String,
    pub source: String,
    pub when: Criterion,
    pub unverified: bool,
}

/// Everything the service knows, checked and indexed.
#[derive(Debug)]
pub struct Knowledge {
    pub rule_id_system: String,
    pub override_reason_system: String,
    pub services: Vec<ServiceDefinition>,
    /// Prefetch templates with the observation codes filled in.
    pub prefetch: BTreeMap<String, String>,
    /// Extra queries per key when fetching from the FHIR server.
    pub server_queries: BTreeMap<String, Vec<String>>,
    pub sources: BTreeMap<String, CardSource>,
    pub override_reasons: Vec<OverrideReason>,
    pub classes: BTreeMap<String, DrugClass>,
    pub drugs: Vec<Drug>,
    pub value_sets: Vec<ValueSet>,
    pub codes: CodeIndex,
    pub rules: Vec<Rule>,
    /// Which drugs may be suggested in place of an ordered one, per indication.
    pub alternative_sets: Vec<AlternativeSet>,
    /// The card sentences that are no rule's.
    pub messages: Messages,
    pub quantities: Vec<QuantityKind>,
    pub preferences: Vec<Preference>,
    pub preferences_source: String,
    /// Seed A's decision matrix, for the per-patient matrix page.
    pub matrix: Matrix,
    pub definitions: Vec<Definition>,
    /// Canonical URI per system short name, for resources the service writes.
    pub system_uris: BTreeMap<String, String>,
    /// Sources of the shipped expansions.
    pub terminology_sources: BTreeMap<String, TerminologySource>,
    /// The guards applied when a concept is recognised by text.
    pub text_cues: TextCues,
    /// The value sets holding the generic yes and no answer codes.
    pub generic_yes: Option<ValueSetId>,
    pub generic_no: Option<ValueSetId>,
    /// Entries marked `unverified`, named for review.
    pub unverified: Vec<String>,
    /// Catalogue ids with no rule file yet.
    pub not_implemented: Vec<String>,
}

impl Knowledge {
    pub fn drug(&self, id: DrugId) -> &Drug {
        &self.drugs[id.0 as usize]
    }

    pub fn drug_by_key(&self, key: &str) -> Option<&Drug> {
        self.drugs.iter().find(|d| d.key == key)
    }

    pub fn service(&self, id: &str) -> Option<&ServiceDefinition> {
        self.services.iter().find(|s| s.id == id)
    }

    pub fn value_set(&self, id: ValueSetId) -> &ValueSet {
        &self.value_sets[id.0 as usize]
    }

    pub fn quantity(&self, id: QuantityId) -> &QuantityKind {
        &self.quantities[id.0 as usize]
    }

    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// The alternative set of a drug, if it stands in one.
    pub fn alternative_set_of(&self, drug: DrugId) -> Option<&AlternativeSet> {
        self.alternative_sets.iter().find(|s| s.drugs.contains(drug))
    }

    pub fn class_name<'a>(&'a self, class: &'a str, language: Language) -> &'a str {
        self.classes.get(class).map(|c| c.name.get(language)).unwrap_or(class)
    }

    /// Load and validate `dir`; every problem found is reported, each naming its file and entry.
    pub fn load(dir: &std::path::Path) -> Result<Knowledge, KnowledgeErrors> {
        compile::load(dir)
    }
}
