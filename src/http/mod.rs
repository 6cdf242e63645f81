//! The HTTP layer: the URLs (`routes`, one module per endpoint under `routes/`), the gate in
//! front of the CDS endpoints (authentication, limits, metrics), what handlers extract (language,
//! JSON body, the CDS call), the shared state and the error bodies. It knows the CDS Hooks
//! endpoints, not the clinical rules.

mod errors;
mod extract;
mod gate;
mod large_calls;
mod matrix;
mod routes;
mod rules_page;
mod state;

use actix_web::middleware::from_fn;
use actix_web::web;

pub use errors::ApiError;
pub use extract::language;
pub use state::AppState;

pub use routes::matrix::CONTENT_SECURITY_POLICY as MATRIX_CSP;
use routes::{discovery, fallback, feedback, matrix as matrix_page, ops, rules, service};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/cds-services")
            .wrap(from_fn(gate::gate))
            .route("", web::get().to(discovery::discovery))
            .route("", web::route().to(fallback::method_not_allowed))
            .route("/{id}", web::post().to(service::call_service))
            .route("/{id}", web::route().to(fallback::method_not_allowed))
            .route("/{id}/feedback", web::post().to(feedback::feedback))
            .route("/{id}/feedback", web::route().to(fallback::method_not_allowed)),
    )
    .route("/feedback/summary", web::get().to(feedback::feedback_summary))
    .route("/rules", web::get().to(rules::rules))
    .route("/matrix/static/matrix.js", web::get().to(matrix_page::script))
    .route("/matrix/static/matrix.css", web::get().to(matrix_page::style))
    .route("/matrix/{token}", web::get().to(matrix_page::page))
    .route("/metrics", web::get().to(ops::metrics))
    .route("/health/live", web::get().to(ops::live))
    .route("/health/ready", web::get().to(ops::ready))
    .default_service(web::to(fallback::not_found));
}
