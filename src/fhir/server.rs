//! The seam for fetching from the EHR's FHIR server what prefetch lacks (CDS Hooks "FHIR
//! resource access"). Until that client exists, a gap is answered with 412 and its reason.

use std::collections::BTreeMap;

use super::{DataError, MissingKey, PatientRecord};
use crate::protocol::CdsRequest;

/// How the service may use the EHR's FHIR server.
#[derive(Debug, Clone, Default)]
pub struct FhirServerSettings {}

pub(super) async fn fetch_missing(
    request: &CdsRequest<'_>,
    _templates: &BTreeMap<String, String>,
    _settings: &FhirServerSettings,
    missing: &[MissingKey],
    _record: &mut PatientRecord,
) -> Result<(), DataError> {
    let gaps = missing.iter().map(|m| format!("`{}` ({})", m.key, m.why)).collect::<Vec<_>>().join(", ");
    let why = if request.fhir_server.is_none() {
        "the request names no fhirServer to fetch them from"
    } else {
        "this version cannot fetch from fhirServer yet"
    };
    Err(DataError::Unavailable(format!("the service needs prefetch data it did not receive: {gaps}; {why}")))
}
