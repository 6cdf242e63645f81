//! What is read of each resource of the record (Patient, Condition, Observation,
//! MedicationRequest, MedicationStatement, Immunization): the elements the rules read, in
//! fhir-sdk's types, read straight from the JSON. The rest (narrative, identifiers,
//! performers, reference ranges, notes, …) is skipped unread: a long series of lab values is
//! most of a large record.
//!
//! Why not through fhir-sdk's resource types: their choice elements (`value[x]`,
//! `effective[x]`, `onset[x]`, `occurrence[x]`, …) are `#[serde(flatten)]`, so serde first
//! buffers every member the type does not name into its `Content`, then reads each choice from
//! that buffer, making and dropping a formatted error for each one absent. That was most of the
//! cost of reading a small record. Here each choice is a member of its own.
//!
//! Where the reading differs from fhir-sdk's, it is on purpose, and the resource is reported as
//! unreadable: more than one form of a choice (FHIR allows one; which one the EHR meant cannot
//! be told — fhir-sdk took the first), and a malformed choice value (fhir-sdk read an
//! `abatementDateTime` of "2020-13-45" as no abatement, so the condition as active). A resource
//! that lacks an element FHIR requires is refused by both. Members not read here are not
//! checked either: one malformed there no longer makes the resource unreadable.

use fhir_sdk::r4b::codes::{AdministrativeGender, ObservationStatus};
use fhir_sdk::r4b::resources::{
    ConditionAbatement, ConditionOnset, ImmunizationOccurrence, MedicationRequestDispenseRequest,
    MedicationRequestMedication, MedicationStatementEffective, MedicationStatementMedication, ObservationEffective,
    ObservationValue, Resource,
};
use fhir_sdk::r4b::types::{
    Age, CodeableConcept, Dosage, Period, Quantity, Range, Ratio, Reference, SampledData, Timing,
};
use fhir_sdk::{Date, DateTime, Instant, Time};
use serde::Deserialize;

/// At most one of a choice element's forms; `element` names it (`value[x]`) for the error.
fn one_of<T>(resource: &str, element: &str, forms: impl IntoIterator<Item = Option<T>>) -> Result<Option<T>, String> {
    let mut present = forms.into_iter().flatten();
    let first = present.next();
    if present.next().is_some() {
        return Err(format!("the {resource} has more than one {element}"));
    }
    Ok(first)
}

/// Exactly one of a required choice element's forms.
fn required<T>(resource: &str, element: &str, form: Option<T>) -> Result<T, String> {
    // FHIR requires it (1..1), and so did fhir-sdk.
    form.ok_or_else(|| format!("the {resource} has no {element}"))
}

/// A Patient as the rules read it: who, and the age and sex the rules ask for.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeptPatient {
    pub id: Option<String>,
    pub gender: Option<AdministrativeGender>,
    pub birth_date: Option<Date>,
}

/// An Observation as the rules read it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "ObservationElements")]
pub struct KeptObservation {
    pub id: Option<String>,
    pub status: ObservationStatus,
    pub code: CodeableConcept,
    /// Whom it is about, to refuse one about another patient.
    pub subject: Option<Reference>,
    pub effective: Option<ObservationEffective>,
    pub issued: Option<Instant>,
    pub value: Option<ObservationValue>,
    pub interpretation: Vec<Option<CodeableConcept>>,
}

/// The members behind [`KeptObservation`], as FHIR JSON names them (serde reads an absent
/// `Option` as `None`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ObservationElements {
    id: Option<String>,
    status: ObservationStatus,
    code: CodeableConcept,
    subject: Option<Reference>,
    effective_date_time: Option<DateTime>,
    effective_period: Option<Period>,
    effective_timing: Option<Timing>,
    effective_instant: Option<Instant>,
    issued: Option<Instant>,
    value_quantity: Option<Quantity>,
    value_codeable_concept: Option<CodeableConcept>,
    value_string: Option<String>,
    value_boolean: Option<bool>,
    value_integer: Option<i32>,
    value_range: Option<Range>,
    value_ratio: Option<Ratio>,
    value_sampled_data: Option<SampledData>,
    value_time: Option<Time>,
    value_date_time: Option<DateTime>,
    value_period: Option<Period>,
    #[serde(default)]
    interpretation: Vec<Option<CodeableConcept>>,
}

impl TryFrom<ObservationElements> for KeptObservation {
    type Error = String;

    fn try_from(o: ObservationElements) -> Result<KeptObservation, String> {
        use ObservationEffective as E;
        use ObservationValue as V;
        let effective = one_of(
            "Observation",
            "effective[x]",
            [
                o.effective_date_time.map(E::DateTime),
                o.effective_period.map(E::Period),
                o.effective_timing.map(E::Timing),
                o.effective_instant.map(E::Instant),
            ],
        )?;
        let value = one_of(
            "Observation",
            "value[x]",
            [
                o.value_quantity.map(V::Quantity),
                o.value_codeable_concept.map(V::CodeableConcept),
                o.value_string.map(V::String),
                o.value_boolean.map(V::Boolean),
                o.value_integer.map(V::Integer),
                o.value_range.map(V::Range),
                o.value_ratio.map(V::Ratio),
                o.value_sampled_data.map(V::SampledData),
                o.value_time.map(V::Time),
                o.value_date_time.map(V::DateTime),
                o.value_period.map(V::Period),
            ],
        )?;
        Ok(KeptObservation {
            id: o.id,
            status: o.status,
            code: o.code,
            subject: o.subject,
            effective,
            issued: o.issued,
            value,
            interpretation: o.interpretation,
        })
    }
}

/// A Condition as the rules read it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "ConditionElements")]
pub struct KeptCondition {
    pub id: Option<String>,
    pub clinical_status: Option<CodeableConcept>,
    pub verification_status: Option<CodeableConcept>,
    pub severity: Option<CodeableConcept>,
    pub code: Option<CodeableConcept>,
    pub subject: Reference,
    pub onset: Option<ConditionOnset>,
    pub abatement: Option<ConditionAbatement>,
    pub recorded_date: Option<DateTime>,
}

/// The members behind [`KeptCondition`], as FHIR JSON names them.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConditionElements {
    id: Option<String>,
    clinical_status: Option<CodeableConcept>,
    verification_status: Option<CodeableConcept>,
    severity: Option<CodeableConcept>,
    code: Option<CodeableConcept>,
    subject: Reference,
    onset_date_time: Option<DateTime>,
    onset_age: Option<Age>,
    onset_period: Option<Period>,
    onset_range: Option<Range>,
    onset_string: Option<String>,
    abatement_date_time: Option<DateTime>,
    abatement_age: Option<Age>,
    abatement_period: Option<Period>,
    abatement_range: Option<Range>,
    abatement_string: Option<String>,
    recorded_date: Option<DateTime>,
}

impl TryFrom<ConditionElements> for KeptCondition {
    type Error = String;

    fn try_from(c: ConditionElements) -> Result<KeptCondition, String> {
        use ConditionAbatement as A;
        use ConditionOnset as O;
        let onset = one_of(
            "Condition",
            "onset[x]",
            [
                c.onset_date_time.map(O::DateTime),
                c.onset_age.map(O::Age),
                c.onset_period.map(O::Period),
                c.onset_range.map(O::Range),
                c.onset_string.map(O::String),
            ],
        )?;
        let abatement = one_of(
            "Condition",
            "abatement[x]",
            [
                c.abatement_date_time.map(A::DateTime),
                c.abatement_age.map(A::Age),
                c.abatement_period.map(A::Period),
                c.abatement_range.map(A::Range),
                c.abatement_string.map(A::String),
            ],
        )?;
        Ok(KeptCondition {
            id: c.id,
            clinical_status: c.clinical_status,
            verification_status: c.verification_status,
            severity: c.severity,
            code: c.code,
            subject: c.subject,
            onset,
            abatement,
            recorded_date: c.recorded_date,
        })
    }
}

/// An Immunization as the rules read it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "ImmunizationElements")]
pub struct KeptImmunization {
    pub id: Option<String>,
    pub status: String,
    pub vaccine_code: CodeableConcept,
    pub patient: Reference,
    pub occurrence: ImmunizationOccurrence,
    pub recorded: Option<DateTime>,
}

/// The members behind [`KeptImmunization`], as FHIR JSON names them.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImmunizationElements {
    id: Option<String>,
    status: String,
    vaccine_code: CodeableConcept,
    patient: Reference,
    occurrence_date_time: Option<DateTime>,
    occurrence_string: Option<String>,
    recorded: Option<DateTime>,
}

impl TryFrom<ImmunizationElements> for KeptImmunization {
    type Error = String;

    fn try_from(i: ImmunizationElements) -> Result<KeptImmunization, String> {
        use ImmunizationOccurrence as O;
        let occurrence = one_of(
            "Immunization",
            "occurrence[x]",
            [i.occurrence_date_time.map(O::DateTime), i.occurrence_string.map(O::String)],
        )?;
        let occurrence = required("Immunization", "occurrence[x]", occurrence)?;
        Ok(KeptImmunization {
            id: i.id,
            status: i.status,
            vaccine_code: i.vaccine_code,
            patient: i.patient,
            occurrence,
            recorded: i.recorded,
        })
    }
}

/// A MedicationRequest as the rules read it (recorded, or a draft order under review).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "MedicationRequestElements")]
pub struct KeptMedicationRequest {
    pub id: Option<String>,
    /// Where a `#id` medicationReference points.
    pub contained: Vec<Resource>,
    pub status: String,
    pub intent: String,
    pub medication: MedicationRequestMedication,
    pub subject: Reference,
    pub authored_on: Option<DateTime>,
    pub reason_code: Vec<Option<CodeableConcept>>,
    pub reason_reference: Vec<Option<Reference>>,
    pub dosage_instruction: Vec<Option<Dosage>>,
    pub dispense_request: Option<MedicationRequestDispenseRequest>,
}

/// The members behind [`KeptMedicationRequest`], as FHIR JSON names them.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MedicationRequestElements {
    id: Option<String>,
    #[serde(default)]
    contained: Vec<Resource>,
    status: String,
    intent: String,
    medication_codeable_concept: Option<CodeableConcept>,
    medication_reference: Option<Reference>,
    subject: Reference,
    authored_on: Option<DateTime>,
    #[serde(default)]
    reason_code: Vec<Option<CodeableConcept>>,
    #[serde(default)]
    reason_reference: Vec<Option<Reference>>,
    #[serde(default)]
    dosage_instruction: Vec<Option<Dosage>>,
    dispense_request: Option<MedicationRequestDispenseRequest>,
}

impl TryFrom<MedicationRequestElements> for KeptMedicationRequest {
    type Error = String;

    fn try_from(r: MedicationRequestElements) -> Result<KeptMedicationRequest, String> {
        use MedicationRequestMedication as M;
        let medication = one_of(
            "MedicationRequest",
            "medication[x]",
            [r.medication_codeable_concept.map(M::CodeableConcept), r.medication_reference.map(M::Reference)],
        )?;
        Ok(KeptMedicationRequest {
            id: r.id,
            contained: r.contained,
            status: r.status,
            intent: r.intent,
            medication: required("MedicationRequest", "medication[x]", medication)?,
            subject: r.subject,
            authored_on: r.authored_on,
            reason_code: r.reason_code,
            reason_reference: r.reason_reference,
            dosage_instruction: r.dosage_instruction,
            dispense_request: r.dispense_request,
        })
    }
}

/// A MedicationStatement as the rules read it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "MedicationStatementElements")]
pub struct KeptMedicationStatement {
    pub id: Option<String>,
    /// Where a `#id` medicationReference points.
    pub contained: Vec<Resource>,
    pub status: String,
    pub medication: MedicationStatementMedication,
    pub subject: Reference,
    pub effective: Option<MedicationStatementEffective>,
    pub date_asserted: Option<DateTime>,
    pub dosage: Vec<Option<Dosage>>,
}

/// The members behind [`KeptMedicationStatement`], as FHIR JSON names them.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MedicationStatementElements {
    id: Option<String>,
    #[serde(default)]
    contained: Vec<Resource>,
    status: String,
    medication_codeable_concept: Option<CodeableConcept>,
    medication_reference: Option<Reference>,
    subject: Reference,
    effective_date_time: Option<DateTime>,
    effective_period: Option<Period>,
    date_asserted: Option<DateTime>,
    #[serde(default)]
    dosage: Vec<Option<Dosage>>,
}

impl TryFrom<MedicationStatementElements> for KeptMedicationStatement {
    type Error = String;

    fn try_from(s: MedicationStatementElements) -> Result<KeptMedicationStatement, String> {
        use MedicationStatementEffective as E;
        use MedicationStatementMedication as M;
        let medication = one_of(
            "MedicationStatement",
            "medication[x]",
            [s.medication_codeable_concept.map(M::CodeableConcept), s.medication_reference.map(M::Reference)],
        )?;
        let effective = one_of(
            "MedicationStatement",
            "effective[x]",
            [s.effective_date_time.map(E::DateTime), s.effective_period.map(E::Period)],
        )?;
        Ok(KeptMedicationStatement {
            id: s.id,
            contained: s.contained,
            status: s.status,
            medication: required("MedicationStatement", "medication[x]", medication)?,
            subject: s.subject,
            effective,
            date_asserted: s.date_asserted,
            dosage: s.dosage,
        })
    }
}

#[cfg(test)]
mod tests;
