//! Patient facts: the record read once into what the rules ask about — age, sex, conditions by
//! clinical status, observations, medications by status, immunizations — each classified
//! against the knowledge's value sets, and the orders to review.

mod classify;
mod concepts;
mod condition;
mod dose;
mod medication;
mod model;
mod observation;
mod orders;
mod relevance;
mod timeline;

pub use classify::{ClassifiedResource, Recognition, classify_record};
pub use concepts::{Concept, MatchedBy, age_on, months_before};
use concepts::{codings, concept_of, day};
pub use dose::{DoseReading, read_text as read_dose_text};

use crate::fhir::{DraftContent, DraftOrder, PatientRecord, RecordProblem};
use crate::knowledge::{Knowledge, MedicationStatus};
use crate::terminology::ServerAnswers;
use crate::vocabulary::{Date, Sex};

use condition::*;
use medication::*;
pub use model::*;
use observation::*;
pub use orders::*;
pub use relevance::may_matter;

impl PatientFacts {
    /// Read the record (and the session's draft orders, as co-medication and planned vaccines).
    pub fn build(
        knowledge: &Knowledge,
        record: &PatientRecord,
        drafts: &[DraftOrder],
        today: Date,
        server: &ServerAnswers,
    ) -> PatientFacts {
        let (age, sex) = match &record.patient {
            Some(p) => (
                p.birth_date.as_ref().and_then(day).and_then(|b| age_on(b, today)),
                Sex::from_fhir(p.gender.as_ref().map(|g| g.as_ref())),
            ),
            None => (None, Sex::Unknown),
        };
        let mut facts = PatientFacts {
            today,
            age,
            sex,
            conditions: Vec::new(),
            observations: record.observations.iter().filter_map(|o| read_observation(knowledge, o)).collect(),
            medications: Vec::new(),
            immunizations: record.immunizations.iter().filter_map(|i| read_immunization(knowledge, i)).collect(),
            planned_immunizations: Vec::new(),
            record_problems: record.problems.iter().map(describe_problem).collect(),
            unclassified: Vec::new(),
            unidentified_medications: Vec::new(),
        };
        for c in &record.conditions {
            match read_condition(knowledge, c, server) {
                ConditionReading::Fact(fact) => facts.conditions.push(*fact),
                ConditionReading::Unclassified(u) => facts.unclassified.push(u),
                ConditionReading::Ignored => {}
            }
        }
        let requests = record.medication_requests.iter().filter_map(|r| {
            let status = MedicationStatus::from_fhir(&r.status)?;
            Some((medication_request(knowledge, record, r, status, None), request_product(record, r)))
        });
        let statements = record
            .medication_statements
            .iter()
            .filter_map(|s| Some((medication_statement(knowledge, record, s)?, statement_product(record, s))));
        for (fact, product) in requests.chain(statements) {
            facts.unidentified_medications.extend(unidentified(&fact, product));
            facts.medications.push(fact);
        }
        for r in &record.immunization_recommendations {
            facts.planned_immunizations.extend(read_planned_immunizations(knowledge, r));
        }
        for d in drafts {
            match &d.content {
                DraftContent::Medication(r) => {
                    let fact = medication_request(knowledge, record, r, MedicationStatus::Draft, Some(&d.reference));
                    facts.planned_immunizations.push(ImmunizationFact {
                        concept: fact.concept.clone(),
                        date: Some(today),
                        reference: Some(d.reference.clone()),
                    });
                    facts.medications.push(fact);
                }
                DraftContent::Service(s) => {
                    if let Some(concept) = s.code.as_ref().map(|c| service_concept(knowledge, c)) {
                        facts.planned_immunizations.push(ImmunizationFact {
                            concept,
                            date: Some(today),
                            reference: Some(d.reference.clone()),
                        });
                    }
                }
                DraftContent::Other | DraftContent::Unreadable { .. } => {}
            }
        }
        // Facts in time order (then by name), whatever order the EHR or its FHIR server sent
        // them in: the same record always gives the same card text.
        facts.conditions.sort_by(|a, b| (a.date, &a.concept.label).cmp(&(b.date, &b.concept.label)));
        facts.observations.sort_by(|a, b| (a.date, &a.concept.label).cmp(&(b.date, &b.concept.label)));
        facts.immunizations.sort_by(|a, b| (a.date, &a.concept.label).cmp(&(b.date, &b.concept.label)));
        facts.medications.sort_by(|a, b| (a.date, &a.concept.label).cmp(&(b.date, &b.concept.label)));
        facts
    }
}

/// The SNOMED CT codes of conditions that the shipped knowledge places in no concept: what a
/// terminology server, when there is one, is asked about. `(system as written, code)`.
pub fn codes_for_terminology_server(knowledge: &Knowledge, record: &PatientRecord) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for c in &record.conditions {
        let Some(code) = &c.code else { continue };
        if !concept_of(knowledge, code).class.value_sets.is_empty() {
            continue;
        }
        for coding in codings(code) {
            let (Some(system), Some(value)) = (coding.system, coding.code) else { continue };
            if knowledge.codes.form_of(system) == Some(crate::knowledge::CodeForm::Sctid)
                && !out.iter().any(|(s, v)| s == system && v == value)
            {
                out.push((system.to_string(), value.to_string()));
            }
        }
    }
    out
}

pub(super) fn describe_problem(p: &RecordProblem) -> String {
    match p {
        RecordProblem::Unreadable { resource, key, error } => {
            format!("{resource} (prefetch key '{key}') could not be read: {}", first_line(error))
        }
        RecordProblem::CutShort { key, reason } => format!("'{key}' is incomplete: {reason}"),
    }
}

pub(super) fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

#[cfg(test)]
mod tests;
