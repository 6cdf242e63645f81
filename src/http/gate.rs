//! The gate in front of the CDS endpoints: the caller's token (service and feedback calls), then
//! the limits — calls in progress and time per call — and the metrics of every call.
//! Authentication comes before a slot is taken, so calls without a valid token cannot crowd out
//! the EHR.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, web};

use super::{ApiError, AppState};
use crate::auth::AuthError;
use crate::telemetry;

pub(super) async fn gate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next.call(req).await.map(ServiceResponse::map_into_boxed_body);
    };
    let label = metric_label(&state, req.path());
    let gated = async {
        if req.method() == actix_web::http::Method::POST {
            authenticate(&state, req.request()).await?;
        }
        let Ok(_permit) = state.in_flight.clone().try_acquire_owned() else {
            tracing::warn!(limit = state.limits.max_concurrent_requests, "call refused: too many in progress");
            return Err(ApiError::Busy { limit: state.limits.max_concurrent_requests }.into());
        };
        next.call(req).await.map(ServiceResponse::map_into_boxed_body)
    };
    let result = match tokio::time::timeout(state.limits.request_timeout, gated).await {
        Ok(r) => r,
        Err(_) => {
            tracing::warn!(service = %label, limit_ms = state.limits.request_timeout.as_millis() as u64, "call timed out");
            Err(ApiError::Timeout { ms: state.limits.request_timeout.as_millis() }.into())
        }
    };
    let status = match &result {
        Ok(r) => r.status().as_u16(),
        Err(e) => e.as_response_error().status_code().as_u16(),
    };
    telemetry::request(&label, status, started.elapsed().as_secs_f64());
    result
}

/// Check the EHR's token for a call to `path` (401 unless it is good, or auth is off); the
/// caller is kept with the request for the call's log span.
async fn authenticate(state: &AppState, req: &HttpRequest) -> Result<(), ApiError> {
    let Some(auth) = &state.auth else { return Ok(()) };
    let base = state.public_url.trim_end_matches('/');
    let mut audiences = vec![format!("{base}{}", req.path())];
    // Feedback may name the service's endpoint rather than its own.
    if let Some(service) = req.path().strip_suffix("/feedback") {
        audiences.push(format!("{base}{service}"));
    }
    let header = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    match auth.verify(header, &audiences).await {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            Ok(())
        }
        Err(AuthError::Refused(why)) => {
            telemetry::auth_refused();
            tracing::warn!(reason = %why, "call refused: authentication");
            Err(ApiError::Unauthorized(why))
        }
        Err(AuthError::Unavailable(why)) => {
            // The details (key server, database) are for the operator, not the caller.
            tracing::error!(reason = %why, "authentication could not be checked");
            Err(ApiError::Unavailable("the token could not be checked right now; try again shortly".into()))
        }
    }
}

/// The `service` label of a CDS endpoint: `discovery`, a known service id, `ID/feedback`, or
/// `unknown` (the paths callers invent stay out of the metrics).
fn metric_label(state: &AppState, path: &str) -> String {
    let rest = path.strip_prefix("/cds-services").unwrap_or(path).trim_start_matches('/');
    let mut parts = rest.split('/');
    let known = |id: &str| state.advisor.knowledge.service(id).is_some();
    match (parts.next(), parts.next(), parts.next()) {
        (Some(""), None, None) => "discovery".into(),
        (Some(id), None, None) if known(id) => id.into(),
        (Some(id), Some("feedback"), None) if known(id) => format!("{id}/feedback"),
        _ => "unknown".into(),
    }
}
