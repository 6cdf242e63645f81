//! The knowledge files as written in `cds-services/`: plain serde types, no meaning attached.
//! `compile` turns them into the checked, indexed form the engine runs on.

use std::collections::BTreeMap;

use serde::Deserialize;

pub use crate::language::syntax::*;
use crate::vocabulary::{Jurisdiction, Recommendation};

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

/// `systems.toml`: short names for code systems and the URIs that mean them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemsFile {
    pub systems: BTreeMap<String, SystemSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemSpec {
    pub uris: Vec<String>,
    /// The URI written into resources this service creates.
    pub canonical: String,
    /// `icd`: ICD-10 codes are compared without dots and in upper case ("C50.9" = "C509").
    /// `sctid`: SNOMED CT identifiers, kept as integers and checked by their check digit.
    #[serde(default)]
    pub normalize: Option<String>,
    /// `complete`: every concept lists all its codes of this system (ICD-10 ranges, SNOMED CT
    /// expansions), so a code no value set lists is known to be outside every concept.
    /// `partial` (default): such a code says nothing, and a condition coded only so is
    /// reported as not classified unless a terminology server or its text tells.
    #[serde(default)]
    pub coverage: Option<String>,
    /// SNOMED CT with `coverage = "complete"`: the extension namespaces the expansions cover
    /// besides the international core (the editions they were made from).
    #[serde(default)]
    pub extension_namespaces: Vec<String>,
    /// A medication or vaccine coded in this system is read from its codes alone: its free text
    /// is not searched for names (a topical tacrolimus coded by ATC is not "tacrolimus").
    #[serde(default)]
    pub codes_outrank_text: OutrankText,
    pub source: String,
    /// The system's codes or their meanings could not all be checked in a published source.
    #[serde(default)]
    pub unverified: bool,
    /// Codes (prefixes) too broad to say whether they fall under a concept (ICPC S77: any skin
    /// malignancy, melanoma or not): never read as "nothing" — their words may tell, else the
    /// condition is named as not classified.
    #[serde(default)]
    pub too_broad: Vec<String>,
}

/// When a code in a system settles what a medication or vaccine is, so that its text is not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(from = "OutrankSetting")]
pub enum OutrankText {
    /// Never: the text is read too.
    #[default]
    Never,
    /// Any code: the value sets cover the system's classes completely (ATC, CVX), so a code
    /// they do not list is not in those classes.
    Always,
    /// Only a code the knowledge lists: the value sets list a few of the system's codes for a
    /// concept (RxNorm ingredients, not its thousands of product codes), so an unlisted code
    /// says nothing and the text is read.
    WhenKnown,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OutrankSetting {
    Flag(bool),
    Mode(OutrankMode),
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
enum OutrankMode {
    WhenKnown,
}

impl From<OutrankSetting> for OutrankText {
    fn from(s: OutrankSetting) -> Self {
        match s {
            OutrankSetting::Flag(false) => OutrankText::Never,
            OutrankSetting::Flag(true) => OutrankText::Always,
            OutrankSetting::Mode(OutrankMode::WhenKnown) => OutrankText::WhenKnown,
        }
    }
}

/// `drugs.toml`: the seven drugs this service knows.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrugsFile {
    /// Value set deciding that an order is for atopic dermatitis (seed A's indication): only
    /// then are the other seed-A drugs offered as alternatives.
    pub ad_indication: String,
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
    /// A column of the atopic-dermatitis decision matrix (seed A): a candidate for suggestions.
    #[serde(default)]
    pub ad_matrix: bool,
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

/// `value-sets/*.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueSetsFile {
    pub value_sets: BTreeMap<String, ValueSetSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueSetSpec {
    pub title: String,
    pub source: String,
    #[serde(default)]
    pub unverified: bool,
    /// Codes by system short name (see `systems.toml`).
    #[serde(default)]
    pub codes: BTreeMap<String, Vec<String>>,
    /// Code prefixes by system: a whole range such as ICD-10 "C" (all malignancies).
    #[serde(default)]
    pub prefixes: BTreeMap<String, Vec<String>>,
    /// Prefixes carved out of `prefixes` (e.g. ICD-10 "C44", non-melanoma skin cancer).
    #[serde(default)]
    pub exclude_prefixes: BTreeMap<String, Vec<String>>,
    /// Whole words or phrases matched in free text (medications and vaccines only).
    #[serde(default)]
    pub text: Vec<String>,
    /// Drugs of `drugs.toml` whose codes and names belong to this set too.
    #[serde(default)]
    pub drugs: Vec<String>,
    /// Value sets whose members all belong to this one too (a union by meaning).
    #[serde(default)]
    pub include: Vec<String>,
    /// Shipped expansions: `terminology/expansions/<name>.tsv`, one file per code system (a
    /// SNOMED CT one, whose definition by meaning (ECL) is in `terminology/ecl.toml` under the
    /// value set's key; an RxNorm one `<key>.rxnorm`). One name or a list.
    #[serde(default, deserialize_with = "one_or_many")]
    pub expansion: Vec<String>,
    /// For the critical concepts: words that name the concept in a condition's text when none
    /// of its codes is recognised (the last resort; the card says so).
    #[serde(default)]
    pub by_text: Option<ByTextSpec>,
    /// For a yes/no question: the value set a generic "yes" answer (LOINC LA33-6, SNOMED CT
    /// 373066001, `valueBoolean` true) counts as, and likewise for "no".
    #[serde(default)]
    pub yes_means: Option<String>,
    #[serde(default)]
    pub no_means: Option<String>,
    /// This set holds the generic answer codes: `yes` or `no`.
    #[serde(default)]
    pub generic_answer: Option<GenericAnswer>,
    /// Its codes say nothing of a medicine's form (an ingredient of ointments and capsules
    /// alike): being listed here does not keep a medication's text from being read.
    #[serde(default)]
    pub any_form: bool,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GenericAnswer {
    Yes,
    No,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ByTextSpec {
    /// Words or phrases (English and Dutch); `*suffix` matches the end of a word (compounds).
    pub phrases: Vec<String>,
    /// Phrases that name something outside the concept although a phrase matches in them
    /// ("basaalcelcarcinoom" for malignancy other than skin cancer).
    #[serde(default)]
    pub not: Vec<String>,
    pub source: String,
}

/// `terminology/ecl.toml`: the SNOMED CT definition by meaning of value sets, in the ECL subset
/// of `ecl.rs` — what a terminology server evaluates for codes the shipped expansions lack.
#[derive(Debug, Deserialize)]
pub struct EclFile(pub BTreeMap<String, EclSpec>);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EclSpec {
    pub ecl: String,
}

/// `terminology/sources.toml`: the published value sets and servers expansions come from.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerminologySourcesFile {
    pub sources: BTreeMap<String, TerminologySourceSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerminologySourceSpec {
    pub title: String,
    /// Canonical URL (or OID) of the published value set, or the server's base URL.
    pub url: String,
    pub version: String,
    /// Where it was read (package and path, repository and commit).
    pub via: String,
}

/// `text-recognition.toml`: the guards of recognition by text.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextRecognitionFile {
    pub source: String,
    pub cues: Vec<CueSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CueSpec {
    pub kind: super::text_match::CueKind,
    pub place: super::text_match::CuePlace,
    pub words: Vec<String>,
}

/// `definitions.toml`: named criteria shared by rules (like CQL expression definitions).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefinitionsFile {
    pub definitions: BTreeMap<String, DefinitionSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefinitionSpec {
    pub description: String,
    pub source: String,
    pub when: CriterionSpec,
    /// A clinical fact not (yet) checked in its source.
    #[serde(default)]
    pub unverified: bool,
}

/// `rules/<id>.toml`: one rule of the catalogue.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub id: String,
    /// Drug ids or class names (or `all`): the rule reviews orders for these drugs.
    #[serde(default)]
    pub applies_to: Vec<String>,
    /// Instead of drugs: the rule reviews orders whose item is in this value set (a vaccine).
    #[serde(default)]
    pub applies_to_orders_in: Option<String>,
    pub recommendation: Recommendation,
    pub source: String,
    /// Key into `service.toml` `[sources]`: what `card.source` cites.
    pub card_source: String,
    /// Runs only when the order is a new start (no active order for the same drug).
    #[serde(default)]
    pub start_only: bool,
    /// Only in these deployments (`NL`, `BE`); empty = everywhere.
    #[serde(default)]
    pub jurisdictions: Vec<Jurisdiction>,
    /// Offer AD alternatives as suggestions on this rule's warning/critical cards.
    #[serde(default = "yes")]
    pub suggest_alternatives: bool,
    /// Drugs or classes this rule suggests (only those without a ↓/↓↓ finding for the patient),
    /// instead of every seed-A alternative; on any indicator.
    #[serde(default)]
    pub suggest: Vec<String>,
    /// The rule runs only when this holds (e.g. the order is for atopic dermatitis).
    #[serde(default)]
    pub only_if: Option<CriterionSpec>,
    /// Advice for one drug (its reduced dose, its label's wording), shown on that drug's card.
    #[serde(default)]
    pub drug_advice: BTreeMap<String, DrugAdviceSpec>,
    pub text: BTreeMap<String, RuleTextSpec>,
    pub reasons: Vec<ReasonSpec>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleTextSpec {
    /// The rule's name, as the catalogue gives it (English) and in Dutch.
    pub title: String,
    /// One sentence; `{drug}` and `{reasons}` are filled in. Must stay under 140 characters.
    pub summary: String,
    /// Markdown: what to do.
    pub advice: String,
    /// Markdown: what to do with a treatment already under way, shown instead of `advice` when
    /// the order continues the drug. Required for warning and critical rules that also fire on
    /// a continuation: "do not start" alone says nothing to a patient already on the drug.
    #[serde(default)]
    pub continuation: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonSpec {
    pub id: String,
    pub when: CriterionSpec,
    pub source: String,
    /// Short label per language (`en`, `nl`), used in the summary and the detail.
    pub label: BTreeMap<String, String>,
    /// A reason may be stronger or weaker than its rule (e.g. compensated cirrhosis).
    #[serde(default)]
    pub recommendation: Option<Recommendation>,
    /// Restricts the reason to some of the rule's drugs.
    #[serde(default)]
    pub applies_to: Vec<String>,
    #[serde(default)]
    pub start_only: bool,
    /// Only in these deployments (`NL`, `BE`); empty = everywhere.
    #[serde(default)]
    pub jurisdictions: Vec<Jurisdiction>,
    /// Extra advice shown when this reason holds (e.g. the drug's reduced dose), per language.
    #[serde(default)]
    pub advice: BTreeMap<String, String>,
    /// Drugs or classes suggested when this reason holds (see the rule's `suggest`).
    #[serde(default)]
    pub suggest: Vec<String>,
    /// Shown when another reason makes the rule fire, never firing it alone (e.g. "the ordered
    /// dose is already the reduced one" on a renal card).
    #[serde(default)]
    pub annotation: bool,
    /// List the facts that made the reason hold (default); off where they are only context.
    #[serde(default = "yes")]
    pub show_evidence: bool,
    /// Drugs or classes not suggested as an alternative while this (missing-data) reason holds
    /// for them: the missing data feeds one of their ↓/↓↓ checks.
    #[serde(default)]
    pub withholds_alternative: Vec<String>,
    /// A clinical fact (a threshold, a dose) not (yet) checked in its source.
    #[serde(default)]
    pub unverified: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrugAdviceSpec {
    pub en: String,
    pub nl: String,
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
    pub en: String,
    pub nl: String,
    pub biologic: String,
    pub jak: String,
}
