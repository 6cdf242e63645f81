//! What handlers take from a request: the prescriber's language, a JSON body within the limit,
//! and `CdsCall`, the opening shared by the service call and its feedback.

use actix_web::dev::Payload;
use actix_web::http::header::{self, AcceptLanguage, Header};
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_core::Stream;
use tracing::field;

use super::large_calls::LARGE_BODY_BYTES;
use super::{ApiError, AppState};
use crate::vocabulary::Language;

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

/// The service a fixed path (`/cds-services/advanced-therapy-order-select`) is for.
#[derive(Debug, Clone)]
pub struct ServiceId(pub String);

/// A call to `/cds-services/{id}` or its feedback. Extracting it takes the service id from the
/// `ServiceId` of a service's fixed route, else from the path, and keeps the request and its
/// body stream; `open`, awaited inside the handler's span, records the caller, checks the
/// service id against the knowledge and reads the JSON body, so that a refusal is logged with
/// the call it refuses.
pub struct CdsCall {
    pub service: String,
    req: HttpRequest,
    payload: Payload,
    state: web::Data<AppState>,
}

impl FromRequest for CdsCall {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<CdsCall, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let call = (|| {
            let service = match req.app_data::<ServiceId>() {
                Some(ServiceId(id)) => id.clone(),
                None => web::Path::<String>::extract(req).into_inner()?.into_inner(),
            };
            let state = web::Data::<AppState>::extract(req).into_inner()?;
            Ok(CdsCall { service, req: req.clone(), payload: payload.take(), state })
        })();
        std::future::ready(call)
    }
}

impl CdsCall {
    /// The service id for the log (`unknown` unless it is one of ours).
    pub fn logged_service(&self) -> &str {
        self.state.logged_service(&self.service)
    }

    pub fn language(&self) -> Language {
        language(&self.req)
    }

    /// The body's announced size (`Content-Length`), if any.
    pub fn announced_length(&self) -> Option<usize> {
        self.req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse().ok())
    }

    /// Name the caller in the current span and refuse a call whose body will not be read: an
    /// unknown service, a body that is not JSON or is announced over the limit. Nothing of the
    /// body is read, so a large call can be admitted before it waits for a slot.
    pub fn admit(&self) -> Result<(), ApiError> {
        // The authenticated EHR (its issuer; no patient data), kept with the request by the gate.
        if let Some(caller) = self.req.extensions().get::<crate::auth::Caller>() {
            tracing::Span::current().record("issuer", field::display(&caller.issuer));
        }
        if self.state.advisor.knowledge.service(&self.service).is_none() {
            return Err(ApiError::NotFound(format!("no CDS service `{}`; see GET /cds-services", self.service)));
        }
        let content_type = self.req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if mime != "application/json" && !(mime.starts_with("application/") && mime.ends_with("+json")) {
            return Err(ApiError::UnsupportedMediaType(if content_type.is_empty() {
                "send the body as JSON with `Content-Type: application/json`".into()
            } else {
                format!("`Content-Type: {content_type}` is not JSON; send application/json")
            }));
        }
        let limit = self.state.limits.max_body_bytes;
        if self.announced_length().is_some_and(|l| l > limit) {
            return Err(ApiError::TooLarge { limit });
        }
        Ok(())
    }

    /// Admit the call, then read its body.
    pub async fn open(&mut self) -> Result<Vec<u8>, ApiError> {
        self.admit()?;
        self.read().await
    }

    /// The body of an admitted call. At most `LARGE_BODY_BYTES` are reserved up front (a larger
    /// announced body of a service call is read into its slot instead), so that slow senders
    /// announcing large bodies cannot make the service reserve memory for data that has not come.
    pub async fn read(&mut self) -> Result<Vec<u8>, ApiError> {
        let mut body = Vec::new();
        self.receive(&mut body, LARGE_BODY_BYTES).await?;
        Ok(body)
    }

    /// The body of an admitted call, into a large call's slot buffer (empty, kept from call to
    /// call): the whole announced size is reserved at once, which the slots bound.
    pub async fn read_into(&mut self, body: &mut Vec<u8>) -> Result<(), ApiError> {
        self.receive(body, usize::MAX).await
    }

    /// Receive the body into `body`, up to the limit.
    async fn receive(&mut self, body: &mut Vec<u8>, up_front: usize) -> Result<(), ApiError> {
        let limit = self.state.limits.max_body_bytes;
        // Room for the announced size (up to `up_front`), so that the body is not regrown and
        // copied as its chunks arrive: exactly that room, in a new buffer when the one given is
        // too small (it is empty, and growing it would double it and copy what it held before).
        let room = self.announced_length().unwrap_or(0).min(up_front);
        if body.capacity() < room {
            *body = Vec::with_capacity(room);
        }
        let payload = &mut self.payload;
        while let Some(chunk) = std::future::poll_fn(|cx| std::pin::Pin::new(&mut *payload).poll_next(cx)).await {
            let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("the body could not be read: {e}")))?;
            if body.len() + chunk.len() > limit {
                return Err(ApiError::TooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        if body.is_empty() {
            return Err(ApiError::BadRequest("the body is empty; send a CDS Hooks request".into()));
        }
        Ok(())
    }
}
