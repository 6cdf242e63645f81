//! The knowledge files as written in `cds-services/`: plain serde types, no meaning attached.
//! `compile` turns them into the checked, indexed form the engine runs on. The rule language's
//! own syntax (`when = { … }`) is `crate::language::syntax`.

use std::collections::BTreeMap;

use serde::Deserialize;

pub use crate::language::syntax::*;

mod rules;
mod terminology;

pub use rules::*;
pub use terminology::*;

/// `catalogue.toml`: the stable rule ids of `rules-catalog.md`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogueFile {
    pub source: String,
    pub rules: BTreeMap<String, CatalogueEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogueEntry {
    pub section: String,
    pub title: String,
}

/// `service.toml`: discovery, card sources and override reasons.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceFile {
    pub rule_id_system: String,
    pub override_reason_system: String,
    pub services: Vec<ServiceSpec>,
    pub prefetch: BTreeMap<String, String>,
    /// Further queries made when a key is fetched from the FHIR server itself (resources the
    /// rules read under that key that its prefetch query does not return).
    #[serde(default)]
    pub server_queries: BTreeMap<String, Vec<String>>,
    pub sources: BTreeMap<String, SourceSpec>,
    pub override_reasons: Vec<OverrideReasonSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    pub id: String,
    pub hook: String,
    pub title: String,
    pub description: String,
    #[serde(default)]
    pub usage_requirements: Option<String>,
}

/// A document a card can cite in `card.source`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    pub label: String,
    #[serde(default)]
    pub url: Option<String>,
    /// Where the label and url were checked.
    pub source: String,
    #[serde(default)]
    pub unverified: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverrideReasonSpec {
    pub code: String,
    pub en: String,
    pub nl: String,
}

/// `drugs.toml`: the seven drugs this service knows.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrugsFile {
    /// Systems tried in this order to recognise an ordered drug; free text comes last.
    pub recognition_order: Vec<String>,
    pub classes: BTreeMap<String, DrugClassSpec>,
    pub drugs: BTreeMap<String, DrugSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrugClassSpec {
    pub en: String,
    pub nl: String,
    pub source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrugSpec {
    pub class: String,
    pub brand: String,
    /// Names matched in free text (generic and brand), last resort after the codes.
    pub names: Vec<String>,
    /// A shipped expansion of the drug's product codes (`terminology/expansions/<name>.tsv`,
    /// e.g. its RxNorm clinical and branded drugs).
    #[serde(default)]
    pub expansion: Option<String>,
    pub source: String,
    pub codes: Vec<CodeSpec>,
}

/// One code with where it was checked.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeSpec {
    pub system: String,
    pub code: String,
    pub display: String,
    pub source: String,
    #[serde(default)]
    pub unverified: bool,
}

/// `units.toml`: quantity kinds and the units FHIR may send them in.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitsFile {
    pub quantities: BTreeMap<String, QuantitySpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuantitySpec {
    /// The unit rules compare in.
    pub unit: String,
    /// Unit (UCUM code or common spelling) → factor to multiply by to get `unit`.
    pub factors: BTreeMap<String, f64>,
    pub source: String,
    #[serde(default)]
    pub unverified: bool,
}

/// `preferences.toml`: seed A's patient-preference rows, per drug class.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreferencesFile {
    pub source: String,
    pub preferences: Vec<PreferenceSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreferenceSpec {
    /// A short key, e.g. `oral`: the matrix page's preference checkboxes are named by it.
    pub id: String,
    pub en: String,
    pub nl: String,
    /// Drug class (of `drugs.toml`) → the matrix arrow for it.
    pub arrows: BTreeMap<String, String>,
}

/// `matrix.toml`: the rows of seed A's decision matrix (warnings, pregnancy, other indications),
/// with the arrow per drug and the rules (and reasons) that tell whether a row applies.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixFile {
    pub source: String,
    /// The alternative set (`alternatives.toml`) whose drugs are the columns.
    pub set: String,
    /// The set's drugs in the order of the columns.
    pub columns: Vec<String>,
    pub rows: Vec<MatrixRowSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixRowSpec {
    pub id: String,
    /// `warnings`, `pregnancy` or `indications`.
    pub section: String,
    pub en: String,
    pub nl: String,
    /// Drug key → the matrix arrow (`↑↑`, `↑`, `0`, `↓`, `↓↓`, or empty: no recommendation).
    pub arrows: BTreeMap<String, String>,
    /// A footnote of the row (e.g. seed A's *** on renal impairment), in each language.
    #[serde(default)]
    pub note: Option<BTreeMap<String, String>>,
    /// `rule-id` or `rule-id#reason-id`: the row applies when one of them fires for a drug.
    pub rules: Vec<String>,
    /// Reasons of `data.unchecked`: while one holds, the row could not be checked.
    #[serde(default)]
    pub unchecked: Vec<String>,
}

/// `messages.toml`: the card sentences that are no rule's, in each language.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessagesFile {
    pub source: String,
    pub messages: BTreeMap<String, BTreeMap<String, String>>,
}

/// `alternatives.toml`: which drugs may replace an ordered one, for which indication.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlternativesFile {
    pub alternative_sets: Vec<AlternativeSetSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlternativeSetSpec {
    pub id: String,
    pub title: BTreeMap<String, String>,
    /// Value set: the order's reason, or with none an active condition, must be in it.
    pub indication: String,
    /// Drugs or classes that may stand in for each other.
    pub drugs: Vec<String>,
    /// A candidate with a finding this strong is not suggested.
    pub withhold_on: Vec<crate::vocabulary::Recommendation>,
    pub source: String,
}
