//! What the service makes of each resource of a record — the concepts it recognises and how,
//! and what it could not place. For `advanced-therapy-cds classify`: a hospital runs a sample
//! of its own records through it to see what the service does not know.

use fhir_sdk::r4b::resources::{MedicationRequestMedication, MedicationStatementMedication};
use fhir_sdk::r4b::types::CodeableConcept;
use serde::Serialize;

use super::UnclassifiedWhy;
use super::concepts::{codings, concept_of, medication_concept};
use super::condition::{ConditionReading, read_condition};
use crate::fhir::PatientRecord;
use crate::knowledge::{Knowledge, ValueSetMask};
use crate::terminology::ServerAnswers;
use crate::vocabulary::ClinicalStatus;

/// How a resource's meaning was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "by", content = "detail")]
pub enum Recognition {
    /// Its codes (or a terminology server's answer on them).
    Codes,
    /// Its words: the phrase that matched (critical concepts only).
    Text(String),
    /// Its codes are placed, and they are in none of the concepts.
    Nothing,
    /// Its meaning could not be told.
    NotClassified(String),
}

/// One resource of the record, as the service reads it.
#[derive(Debug, Clone, Serialize)]
pub struct ClassifiedResource {
    /// `Condition/123`.
    pub resource: String,
    /// Its text or first display.
    pub label: String,
    /// `system|code` of each coding.
    pub codes: Vec<String>,
    /// Keys of the value sets it belongs to.
    pub concepts: Vec<String>,
    /// One of the drugs of `drugs.toml`, for medications.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drug: Option<String>,
    pub recognised: Recognition,
}

fn keys(knowledge: &Knowledge, mask: &ValueSetMask) -> Vec<String> {
    knowledge.value_sets.iter().filter(|v| mask.contains(v.id)).map(|v| v.key.clone()).collect()
}

fn code_list(cc: Option<&CodeableConcept>) -> Vec<String> {
    cc.map(|cc| codings(cc).filter_map(|c| Some(format!("{}|{}", c.system.unwrap_or(""), c.code?))).collect::<Vec<_>>())
        .unwrap_or_default()
}

fn name(kind: &str, id: Option<&str>, index: usize) -> String {
    match id {
        Some(id) => format!("{kind}/{id}"),
        None => format!("{kind} #{}", index + 1),
    }
}

fn coded(knowledge: &Knowledge, resource: String, cc: &CodeableConcept) -> ClassifiedResource {
    let concept = concept_of(knowledge, cc);
    let concepts = keys(knowledge, &concept.class.value_sets);
    ClassifiedResource {
        resource,
        label: concept.label,
        codes: code_list(Some(cc)),
        recognised: if concepts.is_empty() { Recognition::Nothing } else { Recognition::Codes },
        concepts,
        drug: None,
    }
}

/// Every condition, observation, medication and immunization of the record, classified.
pub fn classify_record(
    knowledge: &Knowledge,
    record: &PatientRecord,
    server: &ServerAnswers,
) -> Vec<ClassifiedResource> {
    let mut out = Vec::new();
    for (i, c) in record.conditions.iter().enumerate() {
        let resource = name("Condition", c.id.as_deref(), i);
        let codes = code_list(c.code.as_ref());
        let item = match read_condition(knowledge, c, server) {
            ConditionReading::Fact(fact) => ClassifiedResource {
                resource,
                label: fact.concept.label.clone(),
                codes,
                concepts: keys(knowledge, &fact.concept.class.value_sets),
                drug: None,
                recognised: match (&fact.by_text, fact.concept.class.value_sets.is_empty()) {
                    (Some(words), _) if !fact.active && fact.status == ClinicalStatus::Inactive => {
                        Recognition::Text(format!("{words} (as a past condition)"))
                    }
                    (Some(words), _) => Recognition::Text(words.clone()),
                    (None, true) => Recognition::Nothing,
                    (None, false) => Recognition::Codes,
                },
            },
            ConditionReading::Unclassified(u) => ClassifiedResource {
                resource,
                label: u.label,
                codes,
                concepts: Vec::new(),
                drug: None,
                recognised: Recognition::NotClassified(
                    match u.why {
                        UnclassifiedWhy::UnknownCodes => "codes in no system or edition the knowledge covers",
                        UnclassifiedWhy::ServerUnanswered => "the terminology server did not answer",
                        UnclassifiedWhy::NoCode => "no code and no text",
                    }
                    .into(),
                ),
            },
            ConditionReading::Ignored => continue,
        };
        out.push(item);
    }
    for (i, o) in record.observations.iter().enumerate() {
        let mut item = coded(knowledge, name("Observation", o.id.as_deref(), i), &o.code);
        if let Some(fact) = super::observation::read_observation(knowledge, o) {
            let answers = keys(knowledge, &fact.answer);
            item.concepts.extend(answers.into_iter().map(|a| format!("answer:{a}")));
        }
        out.push(item);
    }
    let medication = |resource: String, cc: Option<&CodeableConcept>, label: Option<&str>| {
        let (concept, drug) = match cc {
            Some(cc) => medication_concept(knowledge, codings(cc), cc.text.as_deref()),
            None => medication_concept(knowledge, std::iter::empty(), label),
        };
        let concepts = keys(knowledge, &concept.class.value_sets);
        ClassifiedResource {
            resource,
            label: concept.label,
            codes: code_list(cc),
            recognised: match &drug {
                Some((_, super::MatchedBy::Text(t))) => Recognition::Text(t.clone()),
                _ if concepts.is_empty() => Recognition::Nothing,
                _ => Recognition::Codes,
            },
            concepts,
            drug: drug.map(|(d, _)| knowledge.drug(d).key.clone()),
        }
    };
    for (i, r) in record.medication_requests.iter().enumerate() {
        let resource = name("MedicationRequest", r.id.as_deref(), i);
        out.push(match &r.medication {
            MedicationRequestMedication::CodeableConcept(cc) => medication(resource, Some(cc), None),
            MedicationRequestMedication::Reference(rf) => medication(resource, None, rf.display.as_deref()),
        });
    }
    for (i, s) in record.medication_statements.iter().enumerate() {
        let resource = name("MedicationStatement", s.id.as_deref(), i);
        out.push(match &s.medication {
            MedicationStatementMedication::CodeableConcept(cc) => medication(resource, Some(cc), None),
            MedicationStatementMedication::Reference(rf) => medication(resource, None, rf.display.as_deref()),
        });
    }
    for (i, m) in record.medications.iter().enumerate() {
        out.push(medication(name("Medication", m.id.as_deref(), i), m.code.as_ref(), None));
    }
    for (i, imm) in record.immunizations.iter().enumerate() {
        out.push(medication(name("Immunization", imm.id.as_deref(), i), Some(&imm.vaccine_code), None));
    }
    out
}
