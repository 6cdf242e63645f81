//! Medicines and vaccines read: orders and statements by status, the product they name (coded,
//! contained, referenced), its strength, immunizations given and planned.

use fhir_sdk::r4b::resources::{
    ImmunizationOccurrence, MedicationRequestMedication, MedicationStatementEffective, MedicationStatementMedication,
};
use fhir_sdk::r4b::resources::{ImmunizationRecommendation, Medication, Resource};
use fhir_sdk::r4b::types::{CodeableConcept, Reference};

use super::concepts::{codings, day_of, medication_concept};
use super::*;
use crate::fhir::{KeptImmunization, KeptMedicationRequest, KeptMedicationStatement, PatientRecord};
use crate::knowledge::{Knowledge, MedicationStatus};
use crate::vocabulary::DrugId;

pub(super) fn read_immunization(knowledge: &Knowledge, i: &KeptImmunization) -> Option<ImmunizationFact> {
    if i.status != "completed" {
        return None;
    }
    let date = match &i.occurrence {
        ImmunizationOccurrence::DateTime(dt) => day_of(dt),
        ImmunizationOccurrence::String(_) => None,
    }
    .or_else(|| i.recorded.as_ref().and_then(day_of));
    let (concept, _) = medication_concept(knowledge, codings(&i.vaccine_code), i.vaccine_code.text.as_deref());
    Some(ImmunizationFact { concept, date, reference: None })
}

pub(super) fn read_planned_immunizations(
    knowledge: &Knowledge,
    r: &ImmunizationRecommendation,
) -> Vec<ImmunizationFact> {
    let mut out = Vec::new();
    for rec in r.recommendation.iter().flatten() {
        let status = first_code(&rec.forecast_status);
        if !matches!(status, Some("due" | "overdue")) {
            continue;
        }
        let due = rec.date_criterion.iter().flatten().filter_map(|c| day_of(&c.value)).min();
        for vc in rec.vaccine_code.iter().flatten() {
            let (concept, _) = medication_concept(knowledge, codings(vc), vc.text.as_deref());
            out.push(ImmunizationFact { concept, date: due.or_else(|| day_of(&r.date)), reference: None });
        }
    }
    out
}

pub(super) fn medication_request(
    knowledge: &Knowledge,
    record: &PatientRecord,
    r: &KeptMedicationRequest,
    status: MedicationStatus,
    reference: Option<&str>,
) -> MedicationFact {
    let (concept, drug) = medication_of(knowledge, record, r);
    MedicationFact {
        concept,
        drug: drug.map(|(d, _)| d),
        status,
        date: r.authored_on.as_ref().and_then(day_of),
        reference: reference.map(str::to_string),
        dose: dose::read(&r.dosage_instruction, request_strength(record, r)),
        until: r
            .dispense_request
            .as_ref()
            .and_then(|d| d.validity_period.as_ref())
            .and_then(|p| p.end.as_ref())
            .and_then(day_of),
    }
}

pub(super) fn medication_statement(
    knowledge: &Knowledge,
    record: &PatientRecord,
    s: &KeptMedicationStatement,
) -> Option<MedicationFact> {
    // "intended" is a plan, not a treatment: it makes no continuation.
    let status = MedicationStatus::from_fhir(s.status.as_str())?;
    let (concept, drug) = match &s.medication {
        MedicationStatementMedication::CodeableConcept(cc) => {
            medication_concept(knowledge, codings(cc), cc.text.as_deref())
        }
        MedicationStatementMedication::Reference(r) => referenced_medication(knowledge, record, &s.contained, r),
    };
    let strength = match &s.medication {
        MedicationStatementMedication::CodeableConcept(cc) => strength_of_concept(cc),
        MedicationStatementMedication::Reference(r) => referenced_strength(record, &s.contained, r),
    };
    let date = match &s.effective {
        Some(MedicationStatementEffective::DateTime(dt)) => day_of(dt),
        Some(MedicationStatementEffective::Period(p)) => p.start.as_ref().and_then(day_of),
        None => None,
    }
    .or_else(|| s.date_asserted.as_ref().and_then(day_of));
    Some(MedicationFact {
        concept,
        drug: drug.map(|(d, _)| d),
        status,
        date,
        reference: None,
        dose: dose::read(&s.dosage, strength),
        until: match &s.effective {
            Some(MedicationStatementEffective::Period(p)) => p.end.as_ref().and_then(day_of),
            _ => None,
        },
    })
}

pub(super) fn medication_of(
    knowledge: &Knowledge,
    record: &PatientRecord,
    r: &KeptMedicationRequest,
) -> (Concept, Option<(DrugId, MatchedBy)>) {
    match &r.medication {
        MedicationRequestMedication::CodeableConcept(cc) => {
            medication_concept(knowledge, codings(cc), cc.text.as_deref())
        }
        MedicationRequestMedication::Reference(reference) => {
            referenced_medication(knowledge, record, &r.contained, reference)
        }
    }
}

/// The mg in one unit (tablet, capsule, "stuk") of the ordered product, when it is unambiguous.
pub(super) fn request_strength(record: &PatientRecord, r: &KeptMedicationRequest) -> Option<f64> {
    match &r.medication {
        MedicationRequestMedication::CodeableConcept(cc) => strength_of_concept(cc),
        MedicationRequestMedication::Reference(reference) => referenced_strength(record, &r.contained, reference),
    }
}

/// The strength its name gives (text, else one display).
pub(super) fn strength_of_concept(cc: &fhir_sdk::r4b::types::CodeableConcept) -> Option<f64> {
    cc.text
        .as_deref()
        .and_then(dose::strength_from_text)
        .or_else(|| codings(cc).filter_map(|c| c.display).find_map(dose::strength_from_text))
}

/// A referenced Medication's strength: its one ingredient's strength per unit (a Ratio of mg to
/// one unit), else what its name says; else what the reference's display says.
pub(super) fn referenced_strength(
    record: &PatientRecord,
    contained: &[Resource],
    reference: &Reference,
) -> Option<f64> {
    let m = find_medication(record, contained, reference);
    if let Some(m) = m {
        let ingredients: Vec<_> = m.ingredient.iter().flatten().collect();
        if let [one] = ingredients.as_slice()
            && let Some(ratio) = &one.strength
            && let (Some(n), Some(d)) = (&ratio.numerator, &ratio.denominator)
            && d.value.is_some_and(|v| (v - 1.0).abs() < 1e-9)
            && let (Some(v), Some(unit)) = (n.value, n.code.as_deref().or(n.unit.as_deref()))
            && let Some(mg) = dose::mass_mg(v, unit)
        {
            return Some(mg);
        }
        if let Some(cc) = &m.code
            && let Some(mg) = strength_of_concept(cc)
        {
            return Some(mg);
        }
    }
    reference.display.as_deref().and_then(dose::strength_from_text)
}

pub(super) fn find_medication<'r>(
    record: &'r PatientRecord,
    contained: &'r [Resource],
    reference: &Reference,
) -> Option<&'r Medication> {
    let target = reference.reference.as_deref().unwrap_or("");
    if let Some(local) = target.strip_prefix('#') {
        contained.iter().find_map(|c| match c {
            Resource::Medication(m) if m.id.as_deref() == Some(local) => Some(m),
            _ => None,
        })
    } else {
        let id = target.rsplit('/').next().unwrap_or("");
        record.medications.iter().find(|m| !id.is_empty() && m.id.as_deref() == Some(id))
    }
}

/// A `medicationReference`: a contained Medication, one sent in the bundle, or only its display.
pub(super) fn referenced_medication(
    knowledge: &Knowledge,
    record: &PatientRecord,
    contained: &[Resource],
    reference: &Reference,
) -> (Concept, Option<(DrugId, MatchedBy)>) {
    match find_medication(record, contained, reference).and_then(|m| m.code.as_ref()) {
        Some(cc) => medication_concept(knowledge, codings(cc), cc.text.as_deref()),
        None => medication_concept(knowledge, std::iter::empty(), reference.display.as_deref()),
    }
}

/// A medicine in use that nothing identifies (no name, no code the knowledge can place).
pub(super) fn unidentified(
    fact: &MedicationFact,
    code: Option<&fhir_sdk::r4b::types::CodeableConcept>,
) -> Option<Unclassified> {
    let in_use = matches!(fact.status, MedicationStatus::Active | MedicationStatus::OnHold);
    (in_use && !fact.concept.identifiable && fact.drug.is_none()).then(|| Unclassified {
        label: code.map_or_else(|| "(no code)".to_string(), |cc| coded_label(cc, "(no name)")),
        date: fact.date,
        why: if code.is_some_and(|cc| cc.coding.iter().flatten().next().is_some()) {
            UnclassifiedWhy::UnknownCodes
        } else {
            UnclassifiedWhy::NoCode
        },
    })
}

/// The product a recorded order names: its code, or the code of the Medication it refers to.
pub(super) fn request_product<'r>(
    record: &'r PatientRecord,
    r: &'r KeptMedicationRequest,
) -> Option<&'r CodeableConcept> {
    match &r.medication {
        MedicationRequestMedication::CodeableConcept(cc) => Some(cc),
        MedicationRequestMedication::Reference(m) => find_medication(record, &r.contained, m)?.code.as_ref(),
    }
}

/// The product a medication statement names (as `request_product`).
pub(super) fn statement_product<'r>(
    record: &'r PatientRecord,
    s: &'r KeptMedicationStatement,
) -> Option<&'r CodeableConcept> {
    match &s.medication {
        MedicationStatementMedication::CodeableConcept(cc) => Some(cc),
        MedicationStatementMedication::Reference(m) => find_medication(record, &s.contained, m)?.code.as_ref(),
    }
}
