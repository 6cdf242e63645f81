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
use actix_web::{guard, web};

pub use errors::ApiError;
pub(crate) use extract::ServiceId;
pub use extract::language;
pub use state::AppState;

pub use routes::matrix::CONTENT_SECURITY_POLICY as MATRIX_CSP;
use routes::{discovery, fallback, feedback, matrix as matrix_page, ops, rules, service};

/// The service's URLs; `service_ids`, the CDS services it offers, get fixed paths of their own.
pub fn routes(cfg: &mut web::ServiceConfig, service_ids: &[String]) {
    let mut cds = web::scope("/cds-services")
        .wrap(from_fn(gate::gate))
        .route("", web::get().to(discovery::discovery))
        .route("", web::route().to(fallback::method_not_allowed));
    // A fixed path is matched by comparing strings; `/{id}` costs a regex capture per call
    // (3 % of a small call's instructions). `/{id}` still takes the rest: an unknown id (404)
    // and other methods (405).
    for id in service_ids {
        cds = cds.service(
            // POST only, as a guard of the resource: other methods go on to `/{id}` (405).
            web::resource(format!("/{id}"))
                .guard(guard::Post())
                .app_data(ServiceId(id.clone()))
                .to(service::call_service),
        );
    }
    cfg.service(
        cds.route("/{id}", web::post().to(service::call_service))
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
