//! The HTTP layer: routes, authentication of the caller, limits, body handling, content
//! negotiation, error bodies, request spans and metrics. It knows the CDS Hooks endpoints, not
//! the clinical rules.

mod errors;
mod rules_page;

use std::sync::Arc;
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, AcceptLanguage, Header};
use actix_web::middleware::{Next, from_fn};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use futures_core::Stream;
use tokio::sync::Semaphore;
use tracing::{Instrument, field};

pub use errors::ApiError;

use crate::advice::Advisor;
use crate::auth::{AuthError, Authenticator};
use crate::config::{Clock, Limits};
use crate::protocol::{DiscoveredService, Discovery};
use crate::storage::Store;
use crate::telemetry;
use crate::vocabulary::Language;

/// Shared by all workers.
pub struct AppState {
    pub advisor: Advisor,
    pub store: Store,
    /// `None`: authentication is off.
    pub auth: Option<Authenticator>,
    /// This service's URL as EHRs call it: tokens' `aud` names an endpoint under it.
    pub public_url: String,
    pub limits: Limits,
    in_flight: Arc<Semaphore>,
    pub clock: Clock,
    /// The rules page, rendered once: the knowledge does not change while the service runs.
    pub rules_page: String,
}

impl AppState {
    pub fn new(
        advisor: Advisor,
        store: Store,
        auth: Option<Authenticator>,
        public_url: String,
        limits: Limits,
        clock: Clock,
    ) -> AppState {
        let rules_page = rules_page::render(&advisor.knowledge, advisor.jurisdiction).into_string();
        let in_flight = Arc::new(Semaphore::new(limits.max_concurrent_requests));
        AppState { advisor, store, auth, public_url, limits, in_flight, clock, rules_page }
    }

    /// Check the EHR's token for a call to `path` (401 unless it is good, or auth is off); the
    /// caller is kept with the request for the call's log span.
    async fn authenticate(&self, req: &HttpRequest) -> Result<(), ApiError> {
        let Some(auth) = &self.auth else { return Ok(()) };
        let base = self.public_url.trim_end_matches('/');
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
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/cds-services")
            .wrap(from_fn(limits))
            .route("", web::get().to(discovery))
            .route("", web::route().to(method_not_allowed))
            .route("/{id}", web::post().to(call_service))
            .route("/{id}", web::route().to(method_not_allowed))
            .route("/{id}/feedback", web::post().to(feedback))
            .route("/{id}/feedback", web::route().to(method_not_allowed)),
    )
    .route("/feedback/summary", web::get().to(feedback_summary))
    .route("/rules", web::get().to(rules))
    .route("/metrics", web::get().to(metrics))
    .route("/health/live", web::get().to(live))
    .route("/health/ready", web::get().to(ready))
    .default_service(web::to(not_found));
}

/// The CDS endpoints' gate: the caller's token (service and feedback calls), then the limits —
/// calls in progress and time per call — and the metrics. Authentication comes before a slot is
/// taken, so calls without a valid token cannot crowd out the EHR.
async fn limits(
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
            state.authenticate(req.request()).await?;
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

/// The service id for the log: one of ours, or `unknown` — a caller's path segment (which may
/// hold line breaks or anything else) never reaches the log.
fn logged_service<'a>(state: &AppState, service: &'a str) -> &'a str {
    if state.advisor.knowledge.service(service).is_some() { service } else { "unknown" }
}

/// Name the authenticated EHR (its issuer; no patient data) in the current span.
fn record_caller(req: &HttpRequest) {
    if let Some(caller) = req.extensions().get::<crate::auth::Caller>() {
        tracing::Span::current().record("issuer", field::display(&caller.issuer));
    }
}

async fn discovery(state: web::Data<AppState>) -> HttpResponse {
    let k = &state.advisor.knowledge;
    let services = k
        .services
        .iter()
        .map(|s| DiscoveredService {
            hook: s.hook.clone(),
            title: s.title.clone(),
            description: s.description.clone(),
            id: s.id.clone(),
            prefetch: k.prefetch.clone(),
            usage_requirements: s.usage_requirements.clone(),
        })
        .collect();
    HttpResponse::Ok().json(Discovery { services })
}

/// The prescriber's language: Dutch when `Accept-Language` ranks `nl` above `en`.
pub fn language(req: &HttpRequest) -> Language {
    let Ok(accept) = AcceptLanguage::parse(req) else {
        return Language::En;
    };
    for preference in accept.ranked() {
        if let header::Preference::Specific(tag) = preference {
            match tag.primary_language() {
                "nl" => return Language::Nl,
                "en" => return Language::En,
                _ => {}
            }
        }
    }
    Language::En
}

/// Read a JSON body up to the limit; anything else is refused before it is parsed.
async fn json_body(req: &HttpRequest, mut payload: web::Payload, limit: usize) -> Result<web::Bytes, ApiError> {
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if mime != "application/json" && !(mime.starts_with("application/") && mime.ends_with("+json")) {
        return Err(ApiError::UnsupportedMediaType(if content_type.is_empty() {
            "send the body as JSON with `Content-Type: application/json`".into()
        } else {
            format!("`Content-Type: {content_type}` is not JSON; send application/json")
        }));
    }
    let length = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if length.is_some_and(|l| l > limit) {
        return Err(ApiError::TooLarge { limit });
    }
    // One buffer of the announced size, so a typical prefetch is not regrown and copied as its
    // chunks arrive; at most 256 KiB up front, so that slow senders announcing large bodies
    // cannot make the service reserve memory for data that has not come.
    let mut body = web::BytesMut::with_capacity(length.unwrap_or(0).min(256 * 1024));
    while let Some(chunk) = std::future::poll_fn(|cx| std::pin::Pin::new(&mut payload).poll_next(cx)).await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("the body could not be read: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    if body.is_empty() {
        return Err(ApiError::BadRequest("the body is empty; send a CDS Hooks request".into()));
    }
    Ok(body.freeze())
}

async fn call_service(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let service = path.into_inner();
    // Never patient data in a span: service, hook, hookInstance, counts and time only.
    let span = tracing::info_span!(
        "cds_call",
        service = logged_service(&state, &service),
        issuer = field::Empty,
        hook = field::Empty,
        hook_instance = field::Empty,
        orders = field::Empty,
        cards = field::Empty,
        status = field::Empty,
        elapsed_ms = field::Empty,
    );
    let started = Instant::now();
    let language = language(&req);
    let result = async {
        record_caller(&req);
        if state.advisor.knowledge.service(&service).is_none() {
            return Err(ApiError::NotFound(format!("no CDS service `{service}`; see GET /cds-services")));
        }
        let body = json_body(&req, payload, state.limits.max_body_bytes).await?;
        let advice = state.advisor.advise(&service, &body, language, state.clock.today()).await?;
        Ok::<_, ApiError>(advice)
    }
    .instrument(span.clone())
    .await;
    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
    span.record("elapsed_ms", (elapsed * 1000.0).round() / 1000.0);
    match result {
        Ok(advice) => {
            span.record("hook", field::display(&advice.hook));
            span.record("hook_instance", field::display(&advice.hook_instance));
            span.record("orders", advice.orders_reviewed);
            span.record("cards", advice.response.cards.len());
            span.record("status", 200);
            span.in_scope(|| tracing::info!("answered"));
            for card in &advice.response.cards {
                let rule = card.source.topic.as_ref().map(|t| t.code.as_str()).unwrap_or("");
                telemetry::card(rule, card.indicator.as_str());
            }
            Ok(HttpResponse::Ok().json(advice.response))
        }
        Err(e) => {
            span.record("status", e.status_code_u16());
            span.in_scope(|| tracing::warn!(error = e.kind(), "refused"));
            Err(e)
        }
    }
}

impl ApiError {
    fn status_code_u16(&self) -> u16 {
        actix_web::ResponseError::status_code(self).as_u16()
    }
}

async fn feedback(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let service = path.into_inner();
    let span = tracing::info_span!(
        "cds_feedback",
        service = logged_service(&state, &service),
        issuer = field::Empty,
        entries = field::Empty
    );
    async {
        record_caller(&req);
        let body = json_body(&req, payload, state.limits.max_body_bytes).await?;
        let entries = state.advisor.feedback(&service, &body)?;
        tracing::Span::current().record("entries", entries.len());
        // The write runs to its end on its own even if this call is cut off (time limit, client
        // gone): a committed row is never answered as lost, and a half write never happens.
        let store = state.store.clone();
        let (service_id, to_store) = (service.clone(), entries.clone());
        let stored = tokio::spawn(async move { store.record_feedback(&service_id, &to_store).await })
            .await
            .map_err(|e| ApiError::Internal(format!("the feedback write failed: {e}")))?;
        stored.map_err(|e| {
            tracing::error!(error = %e, "feedback not stored");
            ApiError::Unavailable("the feedback could not be stored right now; please send it again".into())
        })?;
        tracing::info!("feedback stored");
        for (f, rule) in &entries {
            telemetry::feedback(rule.as_deref().unwrap_or("unknown"), f.outcome.as_str());
        }
        // CDS Hooks 2.0 defines no response body for feedback: 200 with an empty body.
        Ok(HttpResponse::Ok().finish())
    }
    .instrument(span)
    .await
}

async fn feedback_summary(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let rows = state.store.summary().await.map_err(|e| {
        tracing::error!(error = %e, "feedback summary failed");
        ApiError::Internal("the feedback summary could not be read".into())
    })?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "feedback": rows })))
}

async fn rules(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(state.rules_page.clone())
}

async fn metrics() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(telemetry::render())
}

async fn live() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "live" }))
}

async fn ready(state: web::Data<AppState>) -> HttpResponse {
    match state.store.ping().await {
        Ok(()) => HttpResponse::Ok().json(serde_json::json!({
            "status": "ready",
            "rules": state.advisor.knowledge.rules.len(),
        })),
        Err(e) => {
            tracing::error!(error = %e, "database not ready");
            HttpResponse::ServiceUnavailable().json(serde_json::json!({ "status": "database unavailable" }))
        }
    }
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound(format!("no endpoint {} {}; see GET /cds-services", req.method(), req.path())))
}

async fn method_not_allowed(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed(format!("{} is not allowed on {}", req.method(), req.path())))
}
