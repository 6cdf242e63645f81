//! The orders a hook asks the service to review: what each is for (one of the drugs, a vaccine,
//! a medication it names only by reference), its indication, its dose, whether it is a new start.

use fhir_sdk::r4b::resources::MedicationRequestMedication;
use fhir_sdk::r4b::types::Reference;

use super::concepts::{CodingRef, concept_of, medication_concept};
use super::*;
use crate::fhir::{DraftContent, DraftOrder, KeptCondition, KeptMedicationRequest, PatientRecord};
use crate::knowledge::{Classification, Knowledge};
use crate::vocabulary::DrugId;

/// What an order is for, as far as this service cares.
#[derive(Debug, Clone)]
pub enum OrderSubject {
    /// One of the seven drugs.
    Drug { drug: DrugId, matched_by: MatchedBy },
    /// Anything else, classified against the value sets (a live vaccine, say).
    Item(Concept),
    /// The order names its medication only by a reference that cannot be resolved: it may be
    /// one of the seven drugs, so it cannot be passed over.
    Unidentified { medication_reference: String },
}

/// An order the hook asks the service to review.
#[derive(Debug, Clone)]
pub struct ReviewedOrder {
    pub reference: String,
    pub subject: OrderSubject,
    /// No active order or statement for the same drug: a new start.
    pub new_start: bool,
    /// The order's reasons (reasonCode, and reasonReference resolved to the record's conditions).
    pub reasons: Classification,
    /// The order names a reason at all (even one this service does not know).
    pub has_reason: bool,
    /// The order could not be read; only its drug was recognised.
    pub unreadable: Option<String>,
    pub dose: DoseReading,
    /// The draft has a resource id, so a suggestion can delete it.
    pub deletable: bool,
}

impl ReviewedOrder {
    pub fn drug(&self) -> Option<DrugId> {
        match &self.subject {
            OrderSubject::Drug { drug, .. } => Some(*drug),
            OrderSubject::Item(_) | OrderSubject::Unidentified { .. } => None,
        }
    }
}

/// The orders the hook asks about: `selections` for order-select, every draft for order-sign.
/// An order for none of the seven drugs (and no vaccine) is not returned.
pub fn reviewed_orders(
    knowledge: &Knowledge,
    record: &PatientRecord,
    drafts: &[DraftOrder],
    selections: Option<&[String]>,
    on_drug: impl Fn(DrugId) -> bool,
) -> Vec<ReviewedOrder> {
    let mut out = Vec::new();
    for d in drafts {
        if let Some(sel) = selections
            && !sel.iter().any(|s| s == &d.reference)
        {
            continue;
        }
        let mut has_reason = false;
        let mut dose = DoseReading::Missing;
        let (subject, reasons, unreadable) = match &d.content {
            DraftContent::Medication(r) => {
                has_reason = r.reason_code.iter().flatten().next().is_some()
                    || r.reason_reference.iter().flatten().next().is_some();
                dose = dose::read(&r.dosage_instruction, request_strength(record, r));
                let (concept, drug) = medication_of(knowledge, record, r);
                let mut reasons = Classification::default();
                for rc in r.reason_code.iter().flatten() {
                    reasons.merge(&concept_of(knowledge, rc).class);
                }
                for rr in r.reason_reference.iter().flatten() {
                    if let Some(c) = resolve_condition(record, rr)
                        && let Some(cc) = &c.code
                    {
                        reasons.merge(&concept_of(knowledge, cc).class);
                    }
                }
                let subject = match (drug, unresolved_reference(record, r)) {
                    (Some((drug, matched_by)), _) => OrderSubject::Drug { drug, matched_by },
                    (None, Some(medication_reference)) => OrderSubject::Unidentified { medication_reference },
                    (None, None) => OrderSubject::Item(concept),
                };
                (subject, reasons, None)
            }
            DraftContent::Service(s) => match &s.code {
                Some(code) => (OrderSubject::Item(service_concept(knowledge, code)), Classification::default(), None),
                None => continue,
            },
            DraftContent::Unreadable { error, json } => match drug_in_raw_json(knowledge, json) {
                Some((drug, matched_by)) => {
                    (OrderSubject::Drug { drug, matched_by }, Classification::default(), Some(error.clone()))
                }
                None => continue,
            },
            DraftContent::Other => continue,
        };
        let new_start = match &subject {
            OrderSubject::Drug { drug, .. } => !on_drug(*drug),
            OrderSubject::Item(_) | OrderSubject::Unidentified { .. } => true,
        };
        out.push(ReviewedOrder {
            reference: d.reference.clone(),
            subject,
            new_start,
            reasons,
            has_reason,
            unreadable,
            dose,
            deletable: d.has_id,
        });
    }
    out
}

/// A ServiceRequest's code: by its codings only. Its free text is no evidence of a vaccine
/// (a lab order "MMR IgG" names the vaccine's antigens).
pub(super) fn service_concept(knowledge: &Knowledge, cc: &fhir_sdk::r4b::types::CodeableConcept) -> Concept {
    concept_of(knowledge, cc)
}

/// An external `medicationReference` that neither the draft orders nor the record resolve.
pub(super) fn unresolved_reference(record: &PatientRecord, r: &KeptMedicationRequest) -> Option<String> {
    let MedicationRequestMedication::Reference(reference) = &r.medication else {
        return None;
    };
    let target = reference.reference.as_deref()?;
    if target.starts_with('#') {
        return None;
    }
    let id = target.rsplit('/').next().unwrap_or("");
    let resolved = record.medications.iter().any(|m| !id.is_empty() && m.id.as_deref() == Some(id));
    (!resolved).then(|| target.to_string())
}

pub(super) fn resolve_condition<'r>(record: &'r PatientRecord, reference: &Reference) -> Option<&'r KeptCondition> {
    let id = reference.reference.as_deref()?.rsplit('/').next()?;
    record.conditions.iter().find(|c| c.id.as_deref() == Some(id))
}

/// Recognise the drug of an order fhir-sdk could not read, from its raw JSON.
pub(super) fn drug_in_raw_json(knowledge: &Knowledge, json: &str) -> Option<(DrugId, MatchedBy)> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    let cc = value.get("medicationCodeableConcept");
    let mut list = Vec::new();
    if let Some(codings) = cc.and_then(|c| c.get("coding")).and_then(|c| c.as_array()) {
        for c in codings {
            list.push((
                c.get("system").and_then(|s| s.as_str()),
                c.get("code").and_then(|s| s.as_str()),
                c.get("display").and_then(|s| s.as_str()),
            ));
        }
    }
    let text = cc
        .and_then(|c| c.get("text"))
        .or_else(|| value.get("medicationReference").and_then(|r| r.get("display")))
        .and_then(|t| t.as_str());
    let refs = list.iter().map(|(system, code, display)| CodingRef { system: *system, code: *code, display: *display });
    medication_concept(knowledge, refs, text).1
}
