//! FHIR access: the patient's record from the request's prefetch, and what prefetch lacks from
//! the EHR's FHIR server. Knows nothing of clinical rules.

mod read;
mod record;
mod server;

use std::collections::BTreeMap;

pub use read::{WrongData, allowed_types, outcome_message, read_draft_orders, read_key};
pub use record::{DraftContent, DraftOrder, DraftOrders, PatientRecord, RecordProblem};
pub use server::FhirServerSettings;

use crate::protocol::{CdsRequest, PrefetchValue};

/// The prefetch keys this service declares, in the order they are reported.
pub const KEYS: [&str; 5] = ["patient", "conditions", "medications", "observations", "immunizations"];

/// Why the record could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataError {
    /// The data sent is not what it claims to be (4xx): the EHR must fix its request.
    #[error(transparent)]
    Refused(#[from] WrongData),
    /// Data the rules need is neither in prefetch nor obtainable: HTTP 412.
    #[error("{0}")]
    Unavailable(String),
}

/// A prefetch key that must be fetched, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingKey {
    pub key: &'static str,
    pub why: String,
}

/// Gather the patient's record: prefetch first, then the FHIR server, else 412.
pub async fn gather(
    request: &CdsRequest<'_>,
    templates: &BTreeMap<String, String>,
    server: &FhirServerSettings,
) -> Result<PatientRecord, DataError> {
    let patient_id = &request.context.patient_id;
    let mut record = PatientRecord::default();
    let mut missing = Vec::new();
    for key in KEYS {
        match request.prefetch.get(key) {
            None => missing.push(MissingKey { key, why: "not in prefetch".into() }),
            // `null` is the client's "no data"; only the Patient cannot be absent.
            Some(PrefetchValue::Null) if key == "patient" => {
                missing.push(MissingKey { key, why: "prefetch says null (no Patient)".into() })
            }
            Some(PrefetchValue::Null) => {}
            Some(PrefetchValue::Json(json)) => {
                let reading = read_key(key, json, patient_id, &mut record)?;
                if let Some(failure) = reading.failure {
                    missing.push(MissingKey { key, why: format!("prefetch holds an OperationOutcome: {failure}") });
                } else if reading.next_page.is_some() {
                    record.problems.push(RecordProblem::CutShort {
                        key: key.to_string(),
                        reason: "the EHR sent only the first page of the search".into(),
                    });
                }
            }
        }
    }
    if !missing.is_empty() {
        server::fetch_missing(request, templates, server, &missing, &mut record).await?;
    }
    let patient_sent = !missing.iter().any(|m| m.key == "patient") || record.patient.is_some();
    let patient_unreadable =
        record.problems.iter().any(|p| matches!(p, RecordProblem::Unreadable { key, .. } if key == "patient"));
    if !patient_sent && !patient_unreadable {
        return Err(DataError::Unavailable("no Patient resource could be obtained".into()));
    }
    Ok(record)
}
