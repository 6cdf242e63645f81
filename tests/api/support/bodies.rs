//! The bodies tests send: a fixture request pointed at a FHIR server instead of its prefetch,
//! and feedback on a card.

use serde_json::{Value, json};

/// The bearer token tests give for their FHIR servers (mock or real).
pub const FHIR_TOKEN: &str = "secret-token-4f7a";

/// A fixture request without its prefetch, pointed at `fhir_server` with `FHIR_TOKEN`.
pub fn without_prefetch(request: &Value, fhir_server: &str) -> Vec<u8> {
    let mut r = request.clone();
    r.as_object_mut().unwrap().remove("prefetch");
    r["fhirServer"] = json!(fhir_server);
    r["fhirAuthorization"] = json!({
        "access_token": FHIR_TOKEN, "token_type": "Bearer", "expires_in": 300, "scope": "user/*.read", "subject": "atcds"
    });
    serde_json::to_vec(&r).unwrap()
}

/// Feedback on `card`: `overridden` (with a coded reason) or `accepted` (with one suggestion);
/// a test changes the entry (`["feedback"][0]`) where it needs other values.
pub fn feedback(outcome: &str, card: &str) -> Value {
    let mut entry = json!({"card": card, "outcome": outcome, "outcomeTimestamp": "2026-11-28T10:00:00Z"});
    match outcome {
        "overridden" => {
            entry["overrideReason"] = json!({"reason": {"code": "benefit-outweighs-risk", "system": "urn:advanced-therapy-cds:override-reason"}});
        }
        "accepted" => entry["acceptedSuggestions"] = json!([{"id": "9d0c1b7e-0000-4000-8000-000000000001"}]),
        _ => {}
    }
    json!({ "feedback": [entry] })
}
