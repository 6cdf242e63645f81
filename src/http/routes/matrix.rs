//! `GET /matrix/{token}`: the decision-matrix page of one call (issue 17), and its script and
//! style sheet. Every answer carries `no-store`, `no-referrer`, `noindex` and a Content-Security-
//! Policy that allows only this origin's script and style. The log says that a page was served
//! and with which status — never the token.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, HttpResponseBuilder, web};

use crate::cards::matrix::{MatrixView, is_token, restore};
use crate::http::AppState;
use crate::http::matrix;
use crate::storage::{StoredMatrix, now_ms};
use crate::vocabulary::Language;

pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn respond(status: StatusCode, content_type: &str) -> HttpResponseBuilder {
    let mut r = HttpResponse::build(status);
    r.content_type(content_type)
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        .insert_header(("X-Robots-Tag", "noindex, nofollow"))
        .insert_header(("X-Content-Type-Options", "nosniff"));
    r
}

pub async fn script() -> HttpResponse {
    respond(StatusCode::OK, "text/javascript; charset=utf-8").body(matrix::SCRIPT)
}

pub async fn style() -> HttpResponse {
    respond(StatusCode::OK, "text/css; charset=utf-8").body(matrix::STYLE)
}

#[derive(serde::Deserialize)]
pub struct PageQuery {
    lang: Option<String>,
}

pub async fn page(token: web::Path<String>, query: web::Query<PageQuery>, state: web::Data<AppState>) -> HttpResponse {
    let m = &state.advisor.knowledge.messages;
    let html = "text/html; charset=utf-8";
    let now = now_ms();
    let stored = if is_token(&token) { state.matrix_pages.get(&token, now).await } else { Ok(StoredMatrix::Unknown) };
    let (status, body) = match stored {
        Ok(StoredMatrix::Found(json, expires_at)) => match serde_json::from_str::<MatrixView>(&json) {
            Ok(mut view) => {
                restore(&mut view, &state.advisor.knowledge);
                let lang = match query.lang.as_deref() {
                    Some("nl") => Language::Nl,
                    Some("en") => Language::En,
                    _ if view.language == "nl" => Language::Nl,
                    _ => Language::En,
                };
                let expires = time::OffsetDateTime::from_unix_timestamp(expires_at / 1000)
                    .ok()
                    .and_then(|t| {
                        t.format(time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]")).ok()
                    })
                    .unwrap_or_default();
                (StatusCode::OK, matrix::render(&view, m, lang, &expires).into_string())
            }
            Err(e) => {
                tracing::error!(error = %e, "a stored matrix page cannot be read");
                (StatusCode::INTERNAL_SERVER_ERROR, matrix::gone(m, "matrix.not-found").into_string())
            }
        },
        Ok(StoredMatrix::Expired) => (StatusCode::GONE, matrix::gone(m, "matrix.gone").into_string()),
        Ok(StoredMatrix::Unknown) => (StatusCode::NOT_FOUND, matrix::gone(m, "matrix.not-found").into_string()),
        Err(e) => {
            tracing::error!(error = %e, "the matrix page store cannot be read");
            (StatusCode::SERVICE_UNAVAILABLE, matrix::gone(m, "matrix.not-found").into_string())
        }
    };
    tracing::info!(status = status.as_u16(), "matrix page served");
    respond(status, html).body(body)
}
