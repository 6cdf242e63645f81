//! Paths and methods no endpoint has: a JSON 404 or 405 that says what exists.

use actix_web::{HttpRequest, HttpResponse};

use crate::http::ApiError;

pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound(format!("no endpoint {} {}; see GET /cds-services", req.method(), req.path())))
}

pub async fn method_not_allowed(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed(format!("{} is not allowed on {}", req.method(), req.path())))
}
