//! The rule files and the named definitions they share.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::CriterionSpec;
use crate::vocabulary::{Jurisdiction, Recommendation};

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
