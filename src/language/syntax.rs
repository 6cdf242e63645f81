//! The rule language as the knowledge files write it (`when = { … }`): plain serde types, read
//! at the edge, with the enums (statuses, picks, sexes) parsed by serde. `compile` checks them.

use serde::Deserialize;

use super::ast::{ConditionStatusFilter, ObservationPick};
use crate::vocabulary::{MedicationStatus, Sex};

/// The rule language. Each variant is one kind of patient fact; adding a rule is a data change,
/// adding a variant is a code change.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum CriterionSpec {
    All(Vec<CriterionSpec>),
    Any(Vec<CriterionSpec>),
    Not(Box<CriterionSpec>),
    /// A named criterion from `definitions.toml`.
    Use(String),
    Age(AgeSpec),
    Sex(Sex),
    Condition(ConditionSpec),
    Observation(ObservationSpec),
    Medication(MedicationSpec),
    Immunization(ImmunizationSpec),
    PlannedImmunization(ImmunizationSpec),
    /// Patient age could not be determined (no or unreadable birth date).
    AgeUnknown(bool),
    /// Problems met while reading the record (unreadable resources, cut-short searches).
    RecordProblems(bool),
    /// Conditions whose meaning could not be told (codes the knowledge cannot place, no
    /// terminology server answer, no recognisable text).
    UnclassifiedConditions(bool),
    /// Medicines in use with neither a name nor a code the knowledge can place.
    UnidentifiedMedications(bool),
    /// The order under review could not be read (only its drug was recognised).
    OrderUnreadable(bool),
    /// The order under review is a new start (no active order for the same drug).
    NewStart(bool),
    /// The order is for a condition in this value set: its reason says so, or it names no
    /// reason and the patient has such an active condition.
    Indication(String),
    /// The order's dose: mg per administration and administrations per day.
    Dose(DoseSpec),
    /// The order's dose could not be read.
    DoseUnreadable(bool),
    /// The order gives no dose at all.
    DoseMissing(bool),
    /// The order's dose could be read (its evidence shows it).
    DoseRead(bool),
    /// The ordered drug is one of these drugs or classes.
    OrderedDrug(Vec<String>),
    /// More than this many weeks since the patient's first order of the ordered drug.
    WeeksOnDrug(WeeksSpec),
    /// An earlier order of the ordered drug was at this dose.
    PreviouslyOnDose(DoseSpec),
    /// Days on a dose of the ordered drug in a recent window (e.g. flare dosing).
    DaysOnDose(DaysOnDoseSpec),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgeSpec {
    #[serde(default)]
    pub at_least: Option<u32>,
    #[serde(default)]
    pub below: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionSpec {
    #[serde(rename = "in")]
    pub value_set: String,
    /// `active`, `history`, `resolved`, `not-resolved` or `any` (default).
    #[serde(default)]
    pub status: ConditionStatusFilter,
    /// Value set the condition's severity must be in.
    #[serde(default)]
    pub severity_in: Option<String>,
    #[serde(default)]
    pub within_months: Option<u32>,
    #[serde(default)]
    pub min_count: Option<u32>,
    /// The match is void when this finds something dated on or after it (e.g. a TB treatment).
    #[serde(default)]
    pub unless_followed_by: Option<Box<CriterionSpec>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservationSpec {
    #[serde(rename = "in")]
    pub value_set: String,
    /// `latest` (default): only the most recent observation counts; `any`: each one.
    #[serde(default)]
    pub which: ObservationPick,
    #[serde(default)]
    pub within_months: Option<u32>,
    /// Coded answer (value or interpretation) must be in this value set.
    #[serde(default)]
    pub answer_in: Option<String>,
    /// Coded answer must not be in this value set (e.g. "unknown").
    #[serde(default)]
    pub answer_not_in: Option<String>,
    /// Only observations that carry a value (a registered test without a result is none).
    #[serde(default)]
    pub with_value: bool,
    #[serde(default)]
    pub unless_followed_by: Option<Box<CriterionSpec>>,
    /// A quantity kind of `units.toml`: the value is converted to its unit before comparing.
    #[serde(default)]
    pub quantity: Option<String>,
    /// Holds when the value (in the quantity's unit) is below this.
    #[serde(default)]
    pub below: Option<f64>,
    #[serde(default)]
    pub at_least: Option<f64>,
    /// The value is a duration on the observation's date, in `quantity` (weeks): holds while,
    /// counted on to today, it is still below this (a pregnancy of 24 weeks 10 weeks ago is at
    /// 34 weeks today, so below 42: still pregnant).
    #[serde(default)]
    pub below_today: Option<f64>,
    /// Holds when the value is there but its unit is not one `units.toml` knows for `quantity`.
    #[serde(default)]
    pub unit_not_understood: bool,
    /// Holds when the value is a date today or later (an estimated date of delivery to come).
    #[serde(default)]
    pub date_value_from_today: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoseSpec {
    pub mg: f64,
    pub per_day: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeeksSpec {
    pub more_than: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaysOnDoseSpec {
    pub mg: f64,
    pub per_day: f64,
    /// Count only episodes after the patient was first on this dose (flare after maintenance).
    #[serde(default)]
    pub after: Option<DoseSpec>,
    pub within_months: u32,
    pub more_than: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MedicationSpec {
    #[serde(rename = "in")]
    pub value_set: String,
    /// The medication's course (its orders taken together) lasted at least this many days.
    #[serde(default)]
    pub min_days: Option<u32>,
    /// Any of `active`, `on-hold`, `completed`, `stopped`, `draft` (co-ordered in this session).
    pub status: Vec<MedicationStatus>,
    /// The medication must not also be in this value set (its other codes settled what it is).
    #[serde(default)]
    pub not_in: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImmunizationSpec {
    #[serde(rename = "in")]
    pub value_set: String,
    /// Absent: ever.
    #[serde(default)]
    pub within_days: Option<u32>,
}
