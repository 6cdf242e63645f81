//! The projections read what fhir-sdk's full types read, and refuse what FHIR forbids.
//!
//! Measured over every resource of the six types in `fixtures/` — the requests
//! written for this service, the CDS Hooks specification's examples and, in
//! `fixtures/fhir-examples/`, examples published by others (sources in its SOURCES.md).

use std::path::Path;

use fhir_sdk::r4b::resources::{Condition, Immunization, MedicationRequest, MedicationStatement, Observation, Patient};
use serde_json::{Value, json};

use super::*;

const TYPES: [&str; 6] =
    ["Patient", "Condition", "Observation", "MedicationRequest", "MedicationStatement", "Immunization"];

/// Every resource of the six types anywhere in the JSON files under `dir`, with where it was.
fn resources_under(dir: &Path, out: &mut Vec<(String, Value)>) {
    fn walk(value: &Value, place: &str, out: &mut Vec<(String, Value)>) {
        match value {
            Value::Object(members) => {
                if let Some(Value::String(kind)) = members.get("resourceType")
                    && TYPES.contains(&kind.as_str())
                {
                    out.push((place.to_string(), value.clone()));
                }
                for member in members.values() {
                    walk(member, place, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|item| walk(item, place, out)),
            _ => {}
        }
    }
    let mut entries: Vec<_> =
        std::fs::read_dir(dir).expect("a fixtures directory").flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            resources_under(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).expect("readable");
            if let Ok(value) = serde_json::from_str::<Value>(&text) {
                walk(&value, &path.display().to_string(), out);
            }
        }
    }
}

fn fixture_resources() -> Vec<(String, Value)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut out = Vec::new();
    for dir in ["requests", "cds-hooks-spec", "fhir-examples"] {
        resources_under(&root.join(dir), &mut out);
    }
    out
}

/// What fhir-sdk's full type and the projection make of one resource: equal where both read it.
fn compare(place: &str, value: &Value) -> Result<(), String> {
    let kind = value["resourceType"].as_str().unwrap_or_default();
    let text = value.to_string();
    match kind {
        "Observation" => {
            let kept = serde_json::from_str::<KeptObservation>(&text);
            let Ok(full) = serde_json::from_str::<Observation>(&text) else { return Ok(()) };
            let kept = kept.map_err(|e| format!("{place}: fhir-sdk reads it, the projection does not: {e}"))?;
            let full = *full.0;
            let same = kept.id == full.id
                && kept.status == full.status
                && kept.code == full.code
                && kept.subject == full.subject
                && kept.effective == full.effective
                && kept.issued == full.issued
                && kept.value == full.value
                && kept.interpretation == full.interpretation;
            if !same {
                return Err(format!("{place}: Observation/{:?} read differently", kept.id));
            }
        }
        "Condition" => {
            let kept = serde_json::from_str::<KeptCondition>(&text);
            let Ok(full) = serde_json::from_str::<Condition>(&text) else { return Ok(()) };
            let kept = kept.map_err(|e| format!("{place}: fhir-sdk reads it, the projection does not: {e}"))?;
            let full = *full.0;
            let same = kept.id == full.id
                && kept.clinical_status == full.clinical_status
                && kept.verification_status == full.verification_status
                && kept.severity == full.severity
                && kept.code == full.code
                && kept.subject == full.subject
                && kept.onset == full.onset
                && kept.abatement == full.abatement
                && kept.recorded_date == full.recorded_date;
            if !same {
                return Err(format!("{place}: Condition/{:?} read differently", kept.id));
            }
        }
        "Immunization" => {
            let kept = serde_json::from_str::<KeptImmunization>(&text);
            let Ok(full) = serde_json::from_str::<Immunization>(&text) else { return Ok(()) };
            let kept = kept.map_err(|e| format!("{place}: fhir-sdk reads it, the projection does not: {e}"))?;
            let full = *full.0;
            let same = kept.id == full.id
                && kept.status == full.status
                && kept.vaccine_code == full.vaccine_code
                && kept.patient == full.patient
                && kept.occurrence == full.occurrence
                && kept.recorded == full.recorded;
            if !same {
                return Err(format!("{place}: Immunization/{:?} read differently", kept.id));
            }
        }
        "Patient" => {
            let kept = serde_json::from_str::<KeptPatient>(&text);
            let Ok(full) = serde_json::from_str::<Patient>(&text) else { return Ok(()) };
            let kept = kept.map_err(|e| format!("{place}: fhir-sdk reads it, the projection does not: {e}"))?;
            let full = *full.0;
            if (kept.id, kept.gender, kept.birth_date) != (full.id, full.gender, full.birth_date) {
                return Err(format!("{place}: a Patient read differently"));
            }
        }
        "MedicationRequest" => {
            let kept = serde_json::from_str::<KeptMedicationRequest>(&text);
            let Ok(full) = serde_json::from_str::<MedicationRequest>(&text) else { return Ok(()) };
            let kept = kept.map_err(|e| format!("{place}: fhir-sdk reads it, the projection does not: {e}"))?;
            let full = *full.0;
            let same = kept.id == full.id
                && kept.contained == full.contained
                && kept.status == full.status
                && kept.intent == full.intent
                && kept.medication == full.medication
                && kept.subject == full.subject
                && kept.authored_on == full.authored_on
                && kept.reason_code == full.reason_code
                && kept.reason_reference == full.reason_reference
                && kept.dosage_instruction == full.dosage_instruction
                && kept.dispense_request == full.dispense_request;
            if !same {
                return Err(format!("{place}: MedicationRequest/{:?} read differently", kept.id));
            }
        }
        "MedicationStatement" => {
            let kept = serde_json::from_str::<KeptMedicationStatement>(&text);
            let Ok(full) = serde_json::from_str::<MedicationStatement>(&text) else { return Ok(()) };
            let kept = kept.map_err(|e| format!("{place}: fhir-sdk reads it, the projection does not: {e}"))?;
            let full = *full.0;
            let same = kept.id == full.id
                && kept.contained == full.contained
                && kept.status == full.status
                && kept.medication == full.medication
                && kept.subject == full.subject
                && kept.effective == full.effective
                && kept.date_asserted == full.date_asserted
                && kept.dosage == full.dosage;
            if !same {
                return Err(format!("{place}: MedicationStatement/{:?} read differently", kept.id));
            }
        }
        _ => unreachable!("only the six types are collected"),
    }
    Ok(())
}

#[test]
fn every_fixture_resource_reads_as_fhir_sdk_reads_it() {
    let resources = fixture_resources();
    let external = resources.iter().filter(|(place, _)| place.contains("fhir-examples")).count();
    assert!(resources.len() > 1000, "the fixtures hold {} resources", resources.len());
    assert!(external >= 20, "only {external} published examples found");
    let differences: Vec<String> = resources.iter().filter_map(|(place, value)| compare(place, value).err()).collect();
    assert!(differences.is_empty(), "{} differences:\n{}", differences.len(), differences.join("\n"));
}

#[test]
fn every_form_of_each_choice_element_is_read() {
    let base = json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}});
    let with = |member: &str, value: Value| {
        let mut o = base.clone();
        o[member] = value;
        o
    };
    let forms = [
        with("valueQuantity", json!({"value": 1.5, "unit": "mg"})),
        with("valueCodeableConcept", json!({"text": "positive"})),
        with("valueString", json!("positive")),
        with("valueBoolean", json!(true)),
        with("valueInteger", json!(3)),
        with("valueRange", json!({"low": {"value": 1}})),
        with("valueRatio", json!({"numerator": {"value": 1}})),
        with("valueSampledData", json!({"origin": {"value": 0}, "period": 1, "dimensions": 1})),
        with("valueTime", json!("10:00:00")),
        with("valueDateTime", json!("2026-01-02")),
        with("valuePeriod", json!({"start": "2026-01-02"})),
        with("effectiveDateTime", json!("2026-01-02")),
        with("effectivePeriod", json!({"start": "2026-01-02"})),
        with("effectiveTiming", json!({"event": ["2026-01-02"]})),
        with("effectiveInstant", json!("2026-01-02T10:00:00Z")),
    ];
    for form in &forms {
        compare("a form", form).unwrap();
        let kept: KeptObservation = serde_json::from_value(form.clone()).unwrap();
        assert!(kept.value.is_some() || kept.effective.is_some(), "{form}");
    }
    let condition = json!({"resourceType": "Condition", "subject": {"reference": "Patient/p"}});
    for (member, value) in [
        ("DateTime", json!("2020-01-01")),
        ("Age", json!({"value": 40, "unit": "a"})),
        ("Period", json!({"start": "2020-01-01"})),
        ("Range", json!({"low": {"value": 40}})),
        ("String", json!("in childhood")),
    ] {
        for element in ["onset", "abatement"] {
            let mut c = condition.clone();
            c[format!("{element}{member}")] = value.clone();
            compare("a form", &c).unwrap();
            let kept: KeptCondition = serde_json::from_value(c).unwrap();
            assert!(kept.onset.is_some() || kept.abatement.is_some());
        }
    }
    let immunization = json!({"resourceType": "Immunization", "status": "completed", "vaccineCode": {"text": "x"},
        "patient": {"reference": "Patient/p"}, "occurrenceString": "as a child"});
    compare("a form", &immunization).unwrap();
    let kept: KeptImmunization = serde_json::from_value(immunization).unwrap();
    assert_eq!(kept.occurrence, ImmunizationOccurrence::String("as a child".into()));
    let request = json!({"resourceType": "MedicationRequest", "status": "active", "intent": "order",
        "subject": {"reference": "Patient/p"}, "contained": [{"resourceType": "Medication", "id": "m",
        "code": {"text": "Olumiant 4 mg"}}], "medicationReference": {"reference": "#m"},
        "dispenseRequest": {"validityPeriod": {"end": "2027-01-01"}}});
    compare("a form", &request).unwrap();
    let kept: KeptMedicationRequest = serde_json::from_value(request).unwrap();
    assert_eq!(kept.contained.len(), 1);
    for (member, value) in
        [("effectiveDateTime", json!("2026-01-02")), ("effectivePeriod", json!({"start": "2026-01-02"}))]
    {
        let mut statement = json!({"resourceType": "MedicationStatement", "status": "active",
            "subject": {"reference": "Patient/p"}, "medicationCodeableConcept": {"text": "methotrexate"}});
        statement[member] = value;
        compare("a form", &statement).unwrap();
        let kept: KeptMedicationStatement = serde_json::from_value(statement).unwrap();
        assert!(kept.effective.is_some());
    }
}

#[test]
fn two_forms_of_one_choice_element_are_refused() {
    let two_values = json!({"resourceType": "Observation", "status": "final", "code": {"text": "eGFR"},
        "valueQuantity": {"value": 12}, "valueString": "normal"});
    let error = serde_json::from_value::<KeptObservation>(two_values).unwrap_err().to_string();
    assert!(error.contains("more than one value[x]"), "{error}");
    let two_onsets = json!({"resourceType": "Condition", "subject": {"reference": "Patient/p"},
        "onsetDateTime": "2020-01-01", "onsetString": "2019"});
    let error = serde_json::from_value::<KeptCondition>(two_onsets).unwrap_err().to_string();
    assert!(error.contains("more than one onset[x]"), "{error}");
}

#[test]
fn what_fhir_requires_is_still_required() {
    // fhir-sdk refuses these too: they are named unreadable, never read as empty.
    let no_status = json!({"resourceType": "Observation", "code": {"text": "eGFR"}});
    assert!(serde_json::from_value::<KeptObservation>(no_status.clone()).is_err());
    assert!(serde_json::from_value::<Observation>(no_status).is_err());
    let bad_status = json!({"resourceType": "Observation", "status": "done", "code": {"text": "eGFR"}});
    assert!(serde_json::from_value::<KeptObservation>(bad_status).is_err());
    let no_occurrence = json!({"resourceType": "Immunization", "status": "completed", "vaccineCode": {"text": "BCG"},
        "patient": {"reference": "Patient/p"}});
    let error = serde_json::from_value::<KeptImmunization>(no_occurrence.clone()).unwrap_err().to_string();
    assert!(error.contains("no occurrence[x]"), "{error}");
    assert!(serde_json::from_value::<Immunization>(no_occurrence).is_err());
    let no_subject = json!({"resourceType": "Condition", "code": {"text": "lymphoma"}});
    assert!(serde_json::from_value::<KeptCondition>(no_subject.clone()).is_err());
    assert!(serde_json::from_value::<Condition>(no_subject).is_err());
    let bad_date =
        json!({"resourceType": "Condition", "subject": {"reference": "Patient/p"}, "onsetDateTime": "2020-13-45"});
    assert!(serde_json::from_value::<KeptCondition>(bad_date).is_err());
}
