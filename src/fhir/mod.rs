//! FHIR access: the patient's record from the request's prefetch, and what prefetch lacks from
//! the EHR's FHIR server. Knows nothing of clinical rules.

mod kept;
mod read;
mod record;
mod server;

use std::collections::BTreeMap;
use std::time::Instant;

pub use kept::{
    KeptCondition, KeptImmunization, KeptMedicationRequest, KeptMedicationStatement, KeptObservation, KeptPatient,
};
pub use read::{
    DraftOrdersRefused, Glance, GlanceCoding, GlanceConcept, Relevance, WrongData, allowed_types, next_link,
    outcome_message, read_draft_orders, read_key, read_prefetched,
};
pub use record::{DraftContent, DraftOrder, DraftOrders, PatientRecord, RecordProblem};
use server::{Fetch, expand};
pub use server::{FhirServerSettings, install_tls_provider};

use crate::protocol::CdsRequest;

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

/// The record as prefetch gave it, and what is still to be fetched from the FHIR server (read
/// with the same `relevance`).
#[derive(Debug)]
pub struct Gathering {
    pub record: PatientRecord,
    fetches: Vec<Fetch>,
    relevance: Option<Relevance>,
}

/// Gather the patient's record: prefetch first, then the FHIR server (by `deadline`, the
/// call's time budget), else 412.
pub async fn gather(
    request: &CdsRequest<'_>,
    templates: &BTreeMap<String, String>,
    server_queries: &BTreeMap<String, Vec<String>>,
    server: &FhirServerSettings,
    deadline: Instant,
    relevance: Option<Relevance>,
) -> Result<PatientRecord, DataError> {
    complete(request, read_prefetch(request, templates, server_queries, relevance)?, server, deadline).await
}

/// Read what prefetch holds and decide what must be fetched; 412 when something is missing and
/// there is no FHIR server to fetch it from.
pub fn read_prefetch(
    request: &CdsRequest<'_>,
    templates: &BTreeMap<String, String>,
    server_queries: &BTreeMap<String, Vec<String>>,
    relevance: Option<Relevance>,
) -> Result<Gathering, DataError> {
    let patient_id = &request.context.patient_id;
    let has_server = request.fhir_server.is_some();
    let mut record = PatientRecord::default();
    // Keys to fetch, with why (for the 412 when there is no server to fetch them from).
    let mut fetches: Vec<Fetch> = Vec::new();
    let mut missing: Vec<(&'static str, String)> = Vec::new();
    let mut want = |key: &'static str, why: String, fetches: &mut Vec<Fetch>| -> Result<(), DataError> {
        if has_server {
            let template = templates.get(key).map(String::as_str).unwrap_or_default();
            fetches.push(Fetch { key, query: expand(template, request)? });
            for extra in server_queries.get(key).into_iter().flatten() {
                fetches.push(Fetch { key, query: expand(extra, request)? });
            }
        }
        missing.push((key, why));
        Ok(())
    };
    for key in KEYS {
        let Some(value) = request.prefetch.get(key) else {
            want(key, "not in prefetch".into(), &mut fetches)?;
            continue;
        };
        let Some(reading) = read_prefetched(key, value, patient_id, &mut record, relevance.as_ref())? else {
            // `null` is the client's "no data"; only the Patient cannot be absent. With a FHIR
            // server to ask, the key is fetched all the same.
            if key == "patient" {
                want(key, "prefetch says null (no Patient)".into(), &mut fetches)?;
            } else if has_server {
                want(key, "prefetch says null".into(), &mut fetches)?;
            }
            continue;
        };
        if let Some(failure) = reading.failure {
            want(key, format!("prefetch holds an OperationOutcome: {failure}"), &mut fetches)?;
        } else if let Some(next) = reading.next_page {
            if has_server {
                // The rest of a search the EHR sent only the first page of.
                fetches.push(Fetch { key, query: next });
            } else {
                record.problems.push(RecordProblem::CutShort {
                    key: key.to_string(),
                    reason: "the EHR sent only the first page of the search".into(),
                });
            }
        }
    }
    if !has_server && !missing.is_empty() {
        let gaps = missing.iter().map(|(k, why)| format!("`{k}` ({why})")).collect::<Vec<_>>().join(", ");
        return Err(DataError::Unavailable(format!(
            "the service needs prefetch data it did not receive: {gaps}; the request names no fhirServer to fetch them from"
        )));
    }
    Ok(Gathering { record, fetches, relevance })
}

/// Fetch what prefetch lacked, by `deadline`; 412 when even the Patient cannot be had.
pub async fn complete(
    request: &CdsRequest<'_>,
    gathering: Gathering,
    server: &FhirServerSettings,
    deadline: Instant,
) -> Result<PatientRecord, DataError> {
    let Gathering { mut record, fetches, relevance } = gathering;
    if !fetches.is_empty() {
        server::fetch(request, server, fetches, &mut record, deadline, relevance.as_ref()).await?;
    }
    let patient_unreadable =
        record.problems.iter().any(|p| matches!(p, RecordProblem::Unreadable { key, .. } if key == "patient"));
    if record.patient.is_none() && !patient_unreadable {
        return Err(DataError::Unavailable("no Patient resource could be obtained".into()));
    }
    Ok(record)
}

/// Fetch Medication resources that orders name only by reference (`Medication/123`), by the
/// same `deadline` as the rest of the call.
pub async fn fetch_medications(
    request: &CdsRequest<'_>,
    server: &FhirServerSettings,
    references: &[String],
    record: &mut PatientRecord,
    deadline: Instant,
) -> Result<(), DataError> {
    if request.fhir_server.is_none() || references.is_empty() {
        return Ok(());
    }
    let fetches = references
        .iter()
        .filter_map(|r| r.rsplit('/').next())
        .map(|id| Fetch {
            key: "medications",
            query: format!("Medication/{}", url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()),
        })
        .collect();
    // Medications are not glanced at: no relevance to read them with.
    server::fetch(request, server, fetches, record, deadline, None).await
}
