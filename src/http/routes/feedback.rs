//! `POST /cds-services/{id}/feedback` (what the prescriber did with the cards) and
//! `GET /feedback/summary` (the outcomes per rule).

use actix_web::{HttpResponse, web};
use tracing::{Instrument, field};

use crate::http::extract::CdsCall;
use crate::http::{ApiError, AppState};
use crate::telemetry;

pub async fn feedback(mut call: CdsCall, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let span = tracing::info_span!(
        "cds_feedback",
        service = call.logged_service(),
        issuer = field::Empty,
        entries = field::Empty
    );
    async {
        let body = call.open().await?;
        let entries = state.advisor.feedback(&call.service, &body)?;
        tracing::Span::current().record("entries", entries.len());
        // The write runs to its end on its own even if this call is cut off (time limit, client
        // gone): a committed row is never answered as lost, and a half write never happens.
        let store = state.store.clone();
        let (service_id, to_store) = (call.service.clone(), entries.clone());
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

pub async fn feedback_summary(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let rows = state.store.summary().await.map_err(|e| {
        tracing::error!(error = %e, "feedback summary failed");
        ApiError::Internal("the feedback summary could not be read".into())
    })?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "feedback": rows })))
}
