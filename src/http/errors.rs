//! Every refusal is a JSON body that says what is wrong, with the right status; never a 500
//! for bad input.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::advice::AdviceError;
use crate::fhir::{DataError, DraftOrdersRefused};
use crate::protocol::RequestError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("the body is larger than the limit of {limit} bytes")]
    TooLarge { limit: usize },
    /// More draft orders than a call may carry.
    #[error("{0}")]
    TooManyOrders(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    PreconditionFailed(String),
    /// The caller is not authenticated (a missing, invalid or replayed EHR token).
    #[error("{0}")]
    Unauthorized(String),
    /// Too many calls in progress: try again shortly.
    #[error("the service is at its limit of {limit} calls in progress; try again shortly")]
    Busy { limit: usize },
    /// The call took longer than the configured limit.
    #[error("the call was not answered within {ms} ms")]
    Timeout { ms: u128 },
    /// Something this service depends on (its database, a key server) failed.
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: String,
}

impl ApiError {
    /// A short, PHI-free name of the error, for logs and clients.
    pub fn kind(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad-request",
            ApiError::NotFound(_) => "not-found",
            ApiError::MethodNotAllowed(_) => "method-not-allowed",
            ApiError::TooLarge { .. } => "payload-too-large",
            ApiError::TooManyOrders(_) => "too-many-draft-orders",
            ApiError::UnsupportedMediaType(_) => "unsupported-media-type",
            ApiError::Unprocessable(_) => "unprocessable",
            ApiError::PreconditionFailed(_) => "precondition-failed",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Busy { .. } => "busy",
            ApiError::Timeout { .. } => "timeout",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::TooLarge { .. } | ApiError::TooManyOrders(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Busy { .. } | ApiError::Timeout { .. } | ApiError::Unavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        match self {
            // RFC 6750: say which scheme, and why the token was not accepted.
            ApiError::Unauthorized(why) => {
                // A header value: printable ASCII only, no quotes to break out of the parameter.
                let description: String = why
                    .chars()
                    .take(200)
                    .map(|c| match c {
                        '"' | '\\' => '\'',
                        c if c.is_ascii_graphic() || c == ' ' => c,
                        _ => '?',
                    })
                    .collect();
                response.insert_header((
                    "WWW-Authenticate",
                    format!("Bearer error=\"invalid_token\", error_description=\"{description}\""),
                ));
            }
            ApiError::Busy { .. } | ApiError::Unavailable(_) => {
                response.insert_header(("Retry-After", "1"));
            }
            _ => {}
        }
        response.json(ErrorBody { error: self.kind(), message: self.to_string() })
    }
}

impl From<AdviceError> for ApiError {
    fn from(e: AdviceError) -> Self {
        match e {
            AdviceError::UnknownService(_) => ApiError::NotFound(e.to_string()),
            AdviceError::Request(RequestError::MalformedJson(_)) => ApiError::BadRequest(e.to_string()),
            AdviceError::Request(_) => ApiError::BadRequest(e.to_string()),
            AdviceError::Data(DataError::Refused(w)) => ApiError::Unprocessable(w.to_string()),
            AdviceError::Data(DataError::Unavailable(why)) => ApiError::PreconditionFailed(why),
            AdviceError::DraftOrders(DraftOrdersRefused::Wrong(w)) => ApiError::Unprocessable(w.to_string()),
            AdviceError::DraftOrders(DraftOrdersRefused::Conflicting { .. }) => ApiError::BadRequest(e.to_string()),
            AdviceError::DraftOrders(DraftOrdersRefused::TooMany { .. }) => ApiError::TooManyOrders(e.to_string()),
        }
    }
}

impl ApiError {
    /// The HTTP status, for the call's log span.
    pub(super) fn status_code_u16(&self) -> u16 {
        ResponseError::status_code(self).as_u16()
    }
}
