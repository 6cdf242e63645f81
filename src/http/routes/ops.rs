//! For operators: `GET /metrics` (Prometheus), `GET /health/live` and `GET /health/ready` (the
//! database answers).

use actix_web::{HttpResponse, web};

use crate::http::AppState;
use crate::telemetry;

pub async fn metrics() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(telemetry::render())
}

pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "live" }))
}

pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
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
