//! `POST /cds-services/{id}`: one CDS Hooks call, answered with cards. Its span carries the
//! service, hook, hookInstance, counts, status and time — never patient data.

use std::time::Instant;

use actix_web::{HttpResponse, web};
use tracing::{Instrument, field};

use crate::advice::MatrixPage;
use crate::http::extract::CdsCall;
use crate::http::large_calls::LARGE_BODY_BYTES;
use crate::http::{ApiError, AppState};
use crate::protocol::CdsResponse;
use crate::storage::now_ms;
use crate::telemetry;

pub async fn call_service(mut call: CdsCall, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    // Never patient data in a span: service, hook, hookInstance, counts and time only.
    let span = tracing::info_span!(
        "cds_call",
        service = call.logged_service(),
        issuer = field::Empty,
        hook = field::Empty,
        hook_instance = field::Empty,
        orders = field::Empty,
        cards = field::Empty,
        status = field::Empty,
        elapsed_ms = field::Empty,
    );
    let started = Instant::now();
    let language = call.language();
    let result = async {
        // A call that will be refused is refused before it could take a slot; a large call
        // takes one before its body is received (see `LargeCalls`).
        call.admit()?;
        let today = state.clock.today();
        let slot = if call.announced_length().is_some_and(|n| n > LARGE_BODY_BYTES) {
            let mut slot = state.large_calls.slot().await;
            call.read_into(&mut slot.body).await?;
            slot
        } else {
            let body = call.read().await?;
            if body.len() <= LARGE_BODY_BYTES {
                return Ok(state.advisor.advise(&call.service, &body, language, today).await?);
            }
            // Large and not announced (chunked): the received buffer becomes the slot's.
            let mut slot = state.large_calls.slot().await;
            slot.body = body;
            slot
        };
        // Its fetches still run on the worker's runtime (the handle), within the call's span.
        let (advisor, service, span) = (state.advisor.clone(), call.service.clone(), tracing::Span::current());
        let runtime = tokio::runtime::Handle::current();
        let advice = state
            .large_calls
            .run(slot, move |body| span.in_scope(|| runtime.block_on(advisor.advise(&service, body, language, today))))
            .await
            .map_err(|_| ApiError::Internal("the call's evaluation stopped".into()))??;
        Ok::<_, ApiError>(advice)
    }
    .instrument(span.clone())
    .await;
    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
    span.record("elapsed_ms", (elapsed * 1000.0).round() / 1000.0);
    match result {
        Ok(mut advice) => {
            if let Some(page) = advice.matrix.take() {
                span.in_scope(|| store_matrix(&state, page, &mut advice.response));
            }
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

/// Hand the call's decision-matrix page to the writer, to be kept for its time to live. When it
/// cannot be kept, its links are left off the cards (a link to nothing helps no one) and the
/// answer goes out anyway.
fn store_matrix(state: &AppState, page: MatrixPage, response: &mut CdsResponse) {
    let now = now_ms();
    let expires_at = now + state.matrix.ttl.as_millis() as i64;
    let stored = match serde_json::to_string(&page.view) {
        Ok(body) => state.matrix_pages.put(page.token.clone(), body, now, expires_at).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(error) = stored {
        tracing::error!(%error, "the decision-matrix page could not be kept: its links are left off the cards");
        let path = format!("/matrix/{}", page.token);
        for card in &mut response.cards {
            card.links.retain(|l| !l.url.ends_with(&path));
        }
    }
}
