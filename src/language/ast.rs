//! The compiled rule language: what `compile` makes of the syntax, and what `eval` runs. Every
//! value-set, drug and quantity name is resolved to an index here; nothing is looked up by
//! string while a request is answered.

use crate::knowledge::{QuantityId, ValueSetId};
use crate::vocabulary::{DrugSet, MedicationStatus, Sex};

/// Which conditions a condition criterion looks at, by their clinical status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConditionStatusFilter {
    Active,
    /// inactive, remission or resolved.
    History,
    /// resolved only (e.g. TB marked treated).
    Resolved,
    /// anything but resolved: latent TB is often recorded as inactive although never treated.
    NotResolved,
    #[default]
    Any,
}

/// Which observations of a kind an observation criterion reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ObservationPick {
    /// Only those of the most recent day (default).
    #[default]
    Latest,
    /// Each one.
    Any,
}

#[derive(Debug, Clone)]
pub struct ConditionQuery {
    pub value_set: ValueSetId,
    pub status: ConditionStatusFilter,
    pub severity_in: Option<ValueSetId>,
    pub within_months: Option<u32>,
    pub min_count: u32,
    pub unless_followed_by: Option<Box<Criterion>>,
}

#[derive(Debug, Clone, Copy)]
pub enum NumericTest {
    /// The value, converted, must be below / at least the bounds given.
    Compare { quantity: QuantityId, below: Option<f64>, at_least: Option<f64> },
    /// The value is there but in a unit the quantity kind does not know.
    UnitNotUnderstood(QuantityId),
    /// The value is a duration on the observation's date (a gestation of 24 weeks): counted on
    /// to today it must still be below this (in the quantity's unit, weeks).
    BelowToday { quantity: QuantityId, below: f64 },
}

#[derive(Debug, Clone)]
pub struct ObservationQuery {
    pub value_set: ValueSetId,
    pub which: ObservationPick,
    pub within_months: Option<u32>,
    pub answer_in: Option<ValueSetId>,
    pub answer_not_in: Option<ValueSetId>,
    pub with_value: bool,
    pub numeric: Option<NumericTest>,
    pub unless_followed_by: Option<Box<Criterion>>,
    /// The value must be a date today or later.
    pub date_value_from_today: bool,
}

#[derive(Debug, Clone)]
pub struct MedicationQuery {
    pub value_set: ValueSetId,
    pub not_in: Option<ValueSetId>,
    pub statuses: Vec<MedicationStatus>,
    pub min_days: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct ImmunizationQuery {
    pub value_set: ValueSetId,
    /// `None`: ever.
    pub within_days: Option<u32>,
}

/// A compiled, checked criterion of the rule language (see `syntax::CriterionSpec`).
#[derive(Debug, Clone)]
pub enum Criterion {
    All(Vec<Criterion>),
    Any(Vec<Criterion>),
    Not(Box<Criterion>),
    Age { at_least: Option<u32>, below: Option<u32> },
    Sex(Sex),
    Condition(ConditionQuery),
    Observation(ObservationQuery),
    Medication(MedicationQuery),
    Immunization(ImmunizationQuery),
    PlannedImmunization(ImmunizationQuery),
    AgeUnknown,
    RecordProblems,
    UnclassifiedConditions,
    UnidentifiedMedications,
    OrderUnreadable,
    NewStart,
    Indication(ValueSetId),
    Dose { mg: f64, per_day: f64 },
    DoseUnreadable,
    DoseMissing,
    DoseRead,
    OrderedDrug(DrugSet),
    WeeksOnDrug { more_than: u32 },
    PreviouslyOnDose { mg: f64, per_day: f64 },
    DaysOnDose { mg: f64, per_day: f64, after: Option<(f64, f64)>, within_months: u32, more_than: u32 },
}

impl Criterion {
    /// Whether what it finds depends on the order under review, not on the patient's facts
    /// alone. One that does not finds the same for the order and each alternative reviewed
    /// with it, so the engine evaluates it once per review.
    pub fn reads_order(&self) -> bool {
        let followed = |c: &Option<Box<Criterion>>| c.as_ref().is_some_and(|c| c.reads_order());
        match self {
            Criterion::All(list) | Criterion::Any(list) => list.iter().any(Criterion::reads_order),
            Criterion::Not(inner) => inner.reads_order(),
            Criterion::Age { .. }
            | Criterion::Sex(_)
            | Criterion::AgeUnknown
            | Criterion::RecordProblems
            | Criterion::UnclassifiedConditions
            | Criterion::UnidentifiedMedications
            | Criterion::Immunization(_) => false,
            Criterion::Condition(q) => followed(&q.unless_followed_by),
            Criterion::Observation(q) => followed(&q.unless_followed_by),
            // Leave out the order itself and the drug ordered.
            Criterion::Medication(_) | Criterion::PlannedImmunization(_) => true,
            Criterion::OrderUnreadable
            | Criterion::NewStart
            | Criterion::Indication(_)
            | Criterion::Dose { .. }
            | Criterion::DoseUnreadable
            | Criterion::DoseMissing
            | Criterion::DoseRead
            | Criterion::OrderedDrug(_)
            | Criterion::WeeksOnDrug { .. }
            | Criterion::PreviouslyOnDose { .. }
            | Criterion::DaysOnDose { .. } => true,
        }
    }
}
