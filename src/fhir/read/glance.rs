//! A glance at a resource before its typed parse: type, codes, name and patient reference,
//! borrowed from the request body without copying. What no rule can use is counted and
//! dropped; only the rest pays the typed parse (`fhir/kept.rs`).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::IgnoredAny;

/// What a glance reads of a Condition, Observation, MedicationRequest, MedicationStatement or
/// Immunization.
#[derive(Debug, Deserialize)]
pub struct Glance<'a> {
    #[serde(rename = "resourceType", borrow)]
    pub resource_type: Cow<'a, str>,
    #[serde(default, borrow)]
    pub status: Option<Cow<'a, str>>,
    /// `code` (Condition, Observation), `vaccineCode`, `medicationCodeableConcept`.
    #[serde(default, borrow, alias = "vaccineCode", alias = "medicationCodeableConcept")]
    pub code: Option<GlanceConcept<'a>>,
    /// A `medicationReference`: what it names is not known until it is resolved.
    #[serde(default, rename = "medicationReference")]
    pub medication_reference: Option<IgnoredAny>,
    #[serde(default, borrow, alias = "patient")]
    pub subject: Option<GlanceReference<'a>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct GlanceConcept<'a> {
    #[serde(default, borrow)]
    pub coding: Vec<GlanceCoding<'a>>,
    #[serde(default, borrow)]
    pub text: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
pub struct GlanceCoding<'a> {
    #[serde(default, borrow)]
    pub system: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub code: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub display: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
pub struct GlanceReference<'a> {
    #[serde(default, borrow)]
    pub reference: Option<Cow<'a, str>>,
}

/// The resource types a glance decides for; the others (Patient, Medication, immunization
/// recommendations, draft orders) are always read.
pub const GLANCED: [&str; 5] = ["Condition", "Observation", "MedicationRequest", "MedicationStatement", "Immunization"];

/// Glance at a resource; `None` when it does not have the expected shape (then the typed parse
/// says what is wrong with it).
pub fn glance(json: &str) -> Option<Glance<'_>> {
    serde_json::from_str(json).ok()
}

/// Whether a rule can use a resource, decided above the FHIR layer (the knowledge knows).
#[derive(Clone)]
pub struct Relevance(pub Arc<dyn Fn(&Glance<'_>) -> bool + Send + Sync>);

impl fmt::Debug for Relevance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Relevance")
    }
}
