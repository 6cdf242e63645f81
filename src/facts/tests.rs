//! Facts from small records against the shipped knowledge: what a condition, an observation
//! or a medication is recognised as, and what is reported as not classified.

use std::sync::OnceLock;

use serde_json::json;
use time::macros::date;

use super::*;
use crate::fhir::{KeptCondition, KeptObservation};
use crate::knowledge::Knowledge;
use crate::terminology::{ServerAnswers, ServerVerdict};

fn knowledge() -> &'static Knowledge {
    static K: OnceLock<Knowledge> = OnceLock::new();
    K.get_or_init(|| {
        Knowledge::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("cds-services"))
            .expect("the shipped knowledge loads")
    })
}

fn vs(key: &str) -> crate::knowledge::ValueSetId {
    knowledge().value_sets.iter().find(|v| v.key == key).unwrap_or_else(|| panic!("value set {key}")).id
}

fn condition_json(code: serde_json::Value, status: &str) -> KeptCondition {
    serde_json::from_value(json!({
        "resourceType": "Condition", "id": "c", "subject": {"reference": "Patient/p"},
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": status}]},
        "code": code
    }))
    .expect("a Condition")
}

fn facts_of(
    conditions: Vec<KeptCondition>,
    observations: Vec<KeptObservation>,
    server: &ServerAnswers,
) -> PatientFacts {
    let record = PatientRecord { conditions, observations, ..Default::default() };
    PatientFacts::build(knowledge(), &record, &[], date!(2026 - 11 - 28), server)
}

fn one_condition(code: serde_json::Value) -> PatientFacts {
    facts_of(vec![condition_json(code, "active")], vec![], &ServerAnswers::default())
}

#[test]
fn a_specific_cancer_counts_as_malignancy_through_the_shipped_expansion() {
    // Non-small cell lung cancer, TNM stage 1: in the VSAC "Cancer" value set, not in any hand list.
    let f = one_condition(json!({"coding": [{"system": "http://snomed.info/sct", "code": "424132000"}]}));
    assert!(f.conditions[0].concept.class.value_sets.contains(vs("malignancy-excl-nmsc")));
    assert!(f.conditions[0].by_text.is_none() && f.unclassified.is_empty());
}

#[test]
fn inclusions_put_a_diabetes_complication_among_the_risk_factors() {
    // Neuropathy due to type 2 diabetes mellitus.
    let f = one_condition(json!({"coding": [{"system": "http://snomed.info/sct", "code": "368581000119106"}]}));
    let class = &f.conditions[0].concept.class.value_sets;
    assert!(class.contains(vs("diabetes")) && class.contains(vs("cv-risk-factors")));
}

#[test]
fn words_name_a_critical_concept_only_when_the_codes_leave_it_open() {
    let table: &[(serde_json::Value, Option<(&str, bool)>)] = &[
        // A local code the service cannot place, with telling words: malignancy, active.
        (
            json!({"coding": [{"system": "urn:oid:1.2.3.4", "code": "X1"}], "text": "Mammacarcinoom links"}),
            Some(("malignancy-excl-nmsc", true)),
        ),
        // "Status na …": a past condition.
        (json!({"text": "Status na mammacarcinoom 2015"}), Some(("malignancy-excl-nmsc", false))),
        // Guards: suspicion, family history, a skin cancer the set leaves out.
        (json!({"text": "Verdenking longcarcinoom"}), None),
        (json!({"text": "Familieanamnese: moeder mammacarcinoom"}), None),
        (json!({"text": "Basaalcelcarcinoom neus"}), None),
        // A SNOMED CT code deliberately left out (cutaneous SCC): its words may not put it back.
        (
            json!({"coding": [{"system": "http://snomed.info/sct", "code": "254651007"}], "text": "Plaveiselcelcarcinoom huid"}),
            None,
        ),
        // An ICD-10 code is settled by its complete ranges: C44 stays non-melanoma skin cancer.
        (
            json!({"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "C44.9"}], "text": "Maligniteit huid"}),
            None,
        ),
        // A SNOMED CT core code in no expansion, with words naming sepsis: recognised by text.
        (
            json!({"coding": [{"system": "http://snomed.info/sct", "code": "770349000", "display": "Sepsis caused by virus (disorder)"}]}),
            Some(("serious-infections", true)),
        ),
    ];
    for (code, expected) in table {
        let f = one_condition(code.clone());
        match expected {
            Some((key, active)) => {
                let c = f.conditions.first().unwrap_or_else(|| panic!("{code}: no fact"));
                assert!(c.concept.class.value_sets.contains(vs(key)), "{code}: not {key}");
                assert!(c.by_text.is_some(), "{code}: not by text");
                assert_eq!(c.active, *active, "{code}");
            }
            None => {
                for c in &f.conditions {
                    for key in ["malignancy-excl-nmsc", "serious-infections"] {
                        assert!(!c.concept.class.value_sets.contains(vs(key)), "{code}: read as {key}");
                    }
                }
            }
        }
    }
}

#[test]
fn a_condition_nothing_can_place_is_named_as_unclassified() {
    let f = one_condition(
        json!({"coding": [{"system": "urn:oid:2.16.840.1.113883.2.4.4.31.1", "code": "1234", "display": "Onbekende diagnose"}]}),
    );
    assert!(f.conditions.is_empty());
    assert_eq!(f.unclassified.len(), 1);
    assert_eq!(f.unclassified[0].why, UnclassifiedWhy::UnknownCodes);
    assert_eq!(f.unclassified[0].label, "Onbekende diagnose [2.16.840.1.113883.2.4.4.31.1 1234]");
    // A well-formed ICPC rubric outside every concept is known to be none of them (the ICPC
    // ranges are complete); one too broad to place (S77, any skin malignancy) is named.
    let otitis = one_condition(json!({"coding": [{"system": "http://hl7.org/fhir/sid/icpc-1-nl", "code": "H71"}]}));
    assert!(otitis.unclassified.is_empty(), "{:?}", otitis.unclassified);
    assert!(otitis.conditions.iter().all(|c| c.concept.class.value_sets.is_empty()));
    let s77 = one_condition(json!({"coding": [{"system": "http://hl7.org/fhir/sid/icpc-1-nl", "code": "S77"}]}));
    assert_eq!(s77.unclassified.len(), 1);
    // A Dutch-extension SNOMED CT code is not covered by the shipped (US-edition) expansions.
    let nl = one_condition(json!({"coding": [{"system": "http://snomed.info/sct", "code": "11000146104"}]}));
    assert_eq!(nl.unclassified.len(), 1);
}

#[test]
fn a_terminology_server_answer_settles_a_code_or_its_silence_is_reported() {
    let code = json!({"coding": [{"system": "http://snomed.info/sct", "code": "11000146104"}], "text": "iets"});
    let mut answered = ServerAnswers::default();
    let mut mask = crate::knowledge::ValueSetMask::default();
    mask.insert(vs("malignancy-excl-nmsc"));
    answered.insert("http://snomed.info/sct", "11000146104", ServerVerdict::Classified(mask));
    let f = facts_of(vec![condition_json(code.clone(), "active")], vec![], &answered);
    assert!(f.conditions[0].concept.class.value_sets.contains(vs("malignancy-excl-nmsc")));
    let mut silent = ServerAnswers::default();
    silent.insert("http://snomed.info/sct", "11000146104", ServerVerdict::Unanswered);
    let f = facts_of(vec![condition_json(code, "active")], vec![], &silent);
    assert_eq!(f.unclassified[0].why, UnclassifiedWhy::ServerUnanswered);
}

fn observation(code: &str, value: serde_json::Value) -> KeptObservation {
    let mut o = json!({
        "resourceType": "Observation", "id": "o", "status": "final", "subject": {"reference": "Patient/p"},
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "effectiveDateTime": "2026-11-01"
    });
    o.as_object_mut().unwrap().extend(value.as_object().unwrap().clone());
    serde_json::from_value(o).expect("an Observation")
}

#[test]
fn a_generic_yes_or_no_answers_the_question_it_is_given_to() {
    let yes_loinc = json!({"valueCodeableConcept": {"coding": [{"system": "http://loinc.org", "code": "LA33-6"}]}});
    let no_snomed =
        json!({"valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "373067005"}]}});
    let table = [
        ("82810-3", yes_loinc.clone(), "pregnant-answers", true),
        ("82810-3", no_snomed.clone(), "not-pregnant-answers", true),
        ("82810-3", json!({"valueBoolean": true}), "pregnant-answers", true),
        ("63895-7", yes_loinc.clone(), "breastfeeding-answers", true),
        ("72166-2", yes_loinc.clone(), "smoker-answers", true),
        // A generic no to the smoking status is not understood: an ex-smoker answers it too.
        ("72166-2", no_snomed.clone(), "smoking-status-answers", false),
        // A yes to a question that is not a yes/no question of the rules means nothing.
        ("718-7", yes_loinc, "pregnant-answers", false),
    ];
    for (question, value, answer, holds) in table {
        let f = facts_of(vec![], vec![observation(question, value.clone())], &ServerAnswers::default());
        assert_eq!(f.observations[0].answer.contains(vs(answer)), holds, "{question} {value} → {answer}");
    }
}

/// Which resources get their typed parse (issue 16): what a rule can use, and anything that is
/// not settled as "none of the concepts", is read; the rest is only counted.
#[test]
fn only_what_a_rule_can_use_is_read_and_nothing_unsettled_is_dropped() {
    let matters = |resource: serde_json::Value| {
        let text = resource.to_string();
        let glance: crate::fhir::Glance<'_> = serde_json::from_str(&text).expect("a glance");
        may_matter(knowledge(), &glance)
    };
    let icd = "http://hl7.org/fhir/sid/icd-10";
    let sct = "http://snomed.info/sct";
    let loinc = "http://loinc.org";
    let atc = "http://www.whocc.no/atc";
    let condition = |system: &str, code: &str, display: &str| json!({"resourceType": "Condition", "code": {"coding": [{"system": system, "code": code, "display": display}]}});
    let cases = [
        // A breast cancer by ICD-10 and a SNOMED CT descendant of malignancy: read.
        (condition(icd, "C50.9", "Malignant neoplasm of breast"), true),
        (condition(sct, "254637007", "Non-small cell lung cancer"), true),
        // A fracture in ICD-10 (complete ranges: settled as none of the concepts): counted only.
        (condition(icd, "S52.5", "Fracture of lower end of radius"), false),
        // A code nothing can place, or no code at all: read (named as not classified).
        (condition("urn:oid:2.16.840.1.113883.2.4.4.31.1", "1234", "Onbekende diagnose"), true),
        (json!({"resourceType": "Condition", "code": {"text": "borstkanker"}}), true),
        // An eGFR is read; a body height no rule uses is not; a cancelled eGFR is not.
        (
            json!({"resourceType": "Observation", "status": "final", "code": {"coding": [{"system": loinc, "code": "62238-1"}]}}),
            true,
        ),
        (
            json!({"resourceType": "Observation", "status": "final", "code": {"coding": [{"system": loinc, "code": "8302-2"}]}}),
            false,
        ),
        (
            json!({"resourceType": "Observation", "status": "cancelled", "code": {"coding": [{"system": loinc, "code": "62238-1"}]}}),
            false,
        ),
        // Medicines: an immunosuppressant is read, paracetamol is not, an unnamed one or one by
        // reference is (it may be anything), a stopped order of a drug that matters is not.
        (
            json!({"resourceType": "MedicationStatement", "status": "active", "medicationCodeableConcept": {"coding": [{"system": atc, "code": "L04AX01", "display": "azathioprine"}]}}),
            true,
        ),
        (
            json!({"resourceType": "MedicationStatement", "status": "active", "medicationCodeableConcept": {"coding": [{"system": atc, "code": "N02BE01", "display": "paracetamol"}]}}),
            false,
        ),
        (
            json!({"resourceType": "MedicationRequest", "status": "active", "medicationCodeableConcept": {"coding": [{"system": "urn:oid:9.9.9", "code": "77"}]}}),
            true,
        ),
        (
            json!({"resourceType": "MedicationRequest", "status": "active", "medicationReference": {"reference": "Medication/m1"}}),
            true,
        ),
        (
            json!({"resourceType": "MedicationRequest", "status": "entered-in-error", "medicationCodeableConcept": {"coding": [{"system": atc, "code": "L04AX01"}]}}),
            false,
        ),
        // A live vaccine given is read; an influenza vaccine (inactivated) or one not given is not.
        (
            json!({"resourceType": "Immunization", "status": "completed", "vaccineCode": {"text": "BMR-vaccin (mazelen, bof, rodehond)"}}),
            true,
        ),
        (
            json!({"resourceType": "Immunization", "status": "not-done", "vaccineCode": {"text": "BMR-vaccin (mazelen, bof, rodehond)"}}),
            false,
        ),
        // Types no glance decides for are read.
        (json!({"resourceType": "Patient"}), true),
    ];
    for (resource, expected) in cases {
        assert_eq!(matters(resource.clone()), expected, "{resource}");
    }
}
