//! The CDS Hooks 2.0 service request (`POST /cds-services/{id}`) for `order-select` and
//! `order-sign`, read without copying: FHIR payloads stay raw JSON slices of the body until
//! the FHIR layer parses them resource by resource.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::value::RawValue;

/// Why a request cannot be answered; each message says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("the body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("the body is not a CDS Hooks request: {0}")]
    WrongShape(String),
    #[error("`{0}` is required")]
    Missing(&'static str),
    #[error("{0}")]
    Invalid(String),
}

/// `fhirAuthorization`: the token the EHR lends for FHIR calls. Never logged, never stored.
/// Its fields are snake_case on the wire (CDS Hooks 2.0 §Passing the Access Token).
#[derive(Clone, Deserialize)]
pub struct FhirAuthorization {
    pub access_token: String,
    #[serde(default)]
    pub token_type: Option<String>,
    #[serde(default)]
    pub expires_in: Option<i64>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub patient: Option<String>,
}

impl std::fmt::Debug for FhirAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FhirAuthorization").field("access_token", &"<redacted>").finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireRequest<'a> {
    hook: Option<String>,
    hook_instance: Option<String>,
    fhir_server: Option<String>,
    fhir_authorization: Option<FhirAuthorization>,
    #[serde(borrow)]
    context: Option<&'a RawValue>,
    #[serde(borrow, default)]
    prefetch: Option<HashMap<String, Option<&'a RawValue>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireContext<'a> {
    user_id: Option<String>,
    patient_id: Option<String>,
    encounter_id: Option<String>,
    selections: Option<Vec<String>>,
    #[serde(borrow)]
    draft_orders: Option<&'a RawValue>,
}

/// What the client sent under one prefetch key.
#[derive(Debug, Clone, Copy)]
pub enum PrefetchValue<'a> {
    /// `null`: the client had no data for this query.
    Null,
    Json(&'a RawValue),
}

/// `context` of `order-select` / `order-sign`.
#[derive(Debug)]
pub struct OrderContext<'a> {
    pub user_id: Option<String>,
    pub patient_id: String,
    pub encounter_id: Option<String>,
    /// `order-select` only: the orders the user just selected (`MedicationRequest/abc`).
    pub selections: Option<Vec<String>>,
    /// A Bundle of the session's unsigned orders.
    pub draft_orders: &'a RawValue,
}

/// A checked service request.
#[derive(Debug)]
pub struct CdsRequest<'a> {
    pub hook: String,
    pub hook_instance: String,
    pub fhir_server: Option<String>,
    pub fhir_authorization: Option<FhirAuthorization>,
    pub context: OrderContext<'a>,
    /// Absent keys are absent here too: "not sent" and "null" mean different things.
    pub prefetch: HashMap<String, PrefetchValue<'a>>,
}

impl<'a> CdsRequest<'a> {
    /// Parse and check a request body for `expected_hook`.
    pub fn parse(body: &'a [u8], expected_hook: &str) -> Result<CdsRequest<'a>, RequestError> {
        let wire: WireRequest<'a> = serde_json::from_slice(body).map_err(json_error)?;
        let hook = wire.hook.filter(|h| !h.is_empty()).ok_or(RequestError::Missing("hook"))?;
        if hook != expected_hook {
            return Err(RequestError::Invalid(format!(
                "this service answers the `{expected_hook}` hook, not `{hook}`"
            )));
        }
        let hook_instance =
            wire.hook_instance.filter(|h| !h.is_empty()).ok_or(RequestError::Missing("hookInstance"))?;
        if hook_instance.len() > 128 || !hook_instance.chars().all(|c| c.is_ascii_graphic()) {
            return Err(RequestError::Invalid(
                "`hookInstance` must be a short identifier (a UUID) of printable characters".into(),
            ));
        }
        if wire.fhir_authorization.is_some() && wire.fhir_server.is_none() {
            return Err(RequestError::Invalid("`fhirAuthorization` is given without `fhirServer`".into()));
        }
        if let Some(auth) = &wire.fhir_authorization
            && auth.access_token.is_empty()
        {
            return Err(RequestError::Invalid("`fhirAuthorization.access_token` is empty".into()));
        }
        if let Some(server) = &wire.fhir_server
            && !(server.starts_with("https://") || server.starts_with("http://"))
        {
            return Err(RequestError::Invalid("`fhirServer` must be an http(s) URL".into()));
        }
        let raw_context = wire.context.ok_or(RequestError::Missing("context"))?;
        let ctx: WireContext<'a> = serde_json::from_str(raw_context.get())
            .map_err(|e| RequestError::WrongShape(format!("`context`: {}", strip_position(&e))))?;
        let patient_id = ctx.patient_id.filter(|p| !p.is_empty()).ok_or(RequestError::Missing("context.patientId"))?;
        let draft_orders = ctx.draft_orders.ok_or(RequestError::Missing("context.draftOrders"))?;
        if hook == "order-select" {
            match &ctx.selections {
                None => return Err(RequestError::Missing("context.selections")),
                Some(s) if s.is_empty() => {
                    return Err(RequestError::Invalid("`context.selections` is empty: nothing was selected".into()));
                }
                Some(_) => {}
            }
        }
        let prefetch = wire
            .prefetch
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.map(PrefetchValue::Json).unwrap_or(PrefetchValue::Null)))
            .collect();
        Ok(CdsRequest {
            hook,
            hook_instance,
            fhir_server: wire.fhir_server,
            fhir_authorization: wire.fhir_authorization,
            context: OrderContext {
                user_id: ctx.user_id,
                patient_id,
                encounter_id: ctx.encounter_id,
                // order-sign reviews every draft: a stray `selections` is not obeyed.
                selections: if expected_hook == "order-select" { ctx.selections } else { None },
                draft_orders,
            },
            prefetch,
        })
    }
}

fn json_error(e: serde_json::Error) -> RequestError {
    match e.classify() {
        serde_json::error::Category::Data => RequestError::WrongShape(e.to_string()),
        _ => RequestError::MalformedJson(e.to_string()),
    }
}

fn strip_position(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.find(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: &str = r#"{"hook":"order-sign","hookInstance":"a-1","context":{"userId":"Practitioner/1","patientId":"p1","draftOrders":{"resourceType":"Bundle","entry":[]}},"prefetch":{"patient":null}}"#;

    #[test]
    fn null_prefetch_differs_from_absent() {
        let r = CdsRequest::parse(MIN.as_bytes(), "order-sign").unwrap();
        assert!(matches!(r.prefetch.get("patient"), Some(PrefetchValue::Null)));
        assert!(!r.prefetch.contains_key("conditions"));
    }

    #[test]
    fn hook_must_match_the_service() {
        let e = CdsRequest::parse(MIN.as_bytes(), "order-select").unwrap_err();
        assert!(e.to_string().contains("order-select"), "{e}");
    }

    #[test]
    fn order_select_needs_selections() {
        let body = MIN.replace("order-sign", "order-select");
        let e = CdsRequest::parse(body.as_bytes(), "order-select").unwrap_err();
        assert_eq!(e, RequestError::Missing("context.selections"));
    }

    #[test]
    fn token_is_never_printed() {
        let auth = FhirAuthorization {
            access_token: "secret-token".into(),
            token_type: None,
            expires_in: None,
            scope: None,
            subject: None,
            patient: None,
        };
        assert!(!format!("{auth:?}").contains("secret"));
    }
}
