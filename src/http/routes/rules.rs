//! `GET /rules`: the rules page for clinicians (rendered once at start-up, see `rules_page`).

use actix_web::{HttpResponse, web};

use crate::http::AppState;

pub async fn rules(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(state.rules_page.clone())
}
