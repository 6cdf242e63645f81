//! The facts the rules ask about, one kind per type.

use super::*;
use crate::knowledge::{Classification, MedicationStatus, ValueSetMask};
use crate::vocabulary::{ClinicalStatus, Date, DrugId, Sex};

#[derive(Debug, Clone)]
pub struct ConditionFact {
    pub concept: Concept,
    /// Recognised from its words, not its codes (the card says so): the words that matched.
    pub by_text: Option<String>,
    /// active / recurrence / relapse; otherwise history (inactive, remission, resolved).
    pub active: bool,
    pub status: ClinicalStatus,
    /// Onset, else the day it was recorded: what the prescriber is shown.
    pub date: Option<Date>,
    /// Onset only: when the condition itself began (a recording date is not an event date).
    pub onset: Option<Date>,
    /// When it ended (abatement), for "was it treated afterwards" questions.
    pub ended: Option<Date>,
    pub severity: Classification,
}

#[derive(Debug, Clone)]
pub enum ObservedValue {
    Coded(Concept),
    Quantity {
        value: f64,
        unit: Option<String>,
    },
    Text(String),
    Flag(bool),
    /// A date (an estimated date of delivery).
    Date(Date),
    None,
}

#[derive(Debug, Clone)]
pub struct ObservationFact {
    pub concept: Concept,
    pub date: Option<Date>,
    pub value: ObservedValue,
    /// The value sets its answer belongs to: the value's coding, a short text answer taken
    /// whole (a `valueString` "C"), and the interpretation. Classified once, here.
    pub answer: ValueSetMask,
}

#[derive(Debug, Clone)]
pub struct MedicationFact {
    pub concept: Concept,
    pub drug: Option<DrugId>,
    pub status: MedicationStatus,
    pub date: Option<Date>,
    /// `MedicationRequest/id` of a draft, to tell the order under review from its companions.
    pub reference: Option<String>,
    pub dose: DoseReading,
    /// When the order or statement ends, if it says (validityPeriod, effectivePeriod).
    pub until: Option<Date>,
}

/// A stretch of time on one dose of the ordered drug, from the patient's earlier orders.
#[derive(Debug, Clone, PartialEq)]
pub struct DoseEpisode {
    pub start: Date,
    pub end: Date,
    pub dose: DoseReading,
}

/// The course of one drug in the record: when it was first ordered and on what doses since
/// (rules-catalog.md reading 6: an order runs to its validityPeriod end, else to the next
/// order, else until now).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TherapyTimeline {
    pub first_start: Option<Date>,
    pub episodes: Vec<DoseEpisode>,
}

#[derive(Debug, Clone)]
pub struct ImmunizationFact {
    pub concept: Concept,
    /// Given (completed), or for a planned one the day it is due or ordered.
    pub date: Option<Date>,
    /// For planned ones: the draft order that plans it.
    pub reference: Option<String>,
}

/// Everything the rules may ask about this patient, as of `today`.
#[derive(Debug, Clone)]
pub struct PatientFacts {
    pub today: Date,
    pub age: Option<u32>,
    pub sex: Sex,
    pub conditions: Vec<ConditionFact>,
    pub observations: Vec<ObservationFact>,
    pub medications: Vec<MedicationFact>,
    pub immunizations: Vec<ImmunizationFact>,
    pub planned_immunizations: Vec<ImmunizationFact>,
    /// Problems met while reading the record, in words for the prescriber.
    pub record_problems: Vec<String>,
    /// Conditions whose meaning could not be told: no code the knowledge can place, no
    /// terminology server answer, no recognisable text. Never read as "nothing".
    pub unclassified: Vec<Unclassified>,
    /// Medicines in use (active or on hold) with neither a name nor a code the knowledge can
    /// place: they may be an immunosuppressant or an interacting drug, so they are named.
    pub unidentified_medications: Vec<Unclassified>,
}

/// A condition the service could not classify, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Unclassified {
    /// What the prescriber reads: its text or display, and its codes.
    pub label: String,
    pub date: Option<Date>,
    pub why: UnclassifiedWhy,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnclassifiedWhy {
    /// Its codes are in systems (or SNOMED CT extensions) the knowledge does not cover.
    UnknownCodes,
    /// A terminology server was asked and did not answer.
    ServerUnanswered,
    /// It has neither a code nor a text.
    NoCode,
}
