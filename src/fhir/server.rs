//! Fetching from the EHR's FHIR server what prefetch lacks (CDS Hooks "FHIR resource access"),
//! with fhir-sdk's REST client: the bearer token of `fhirAuthorization`, every page of a search
//! (bounded), the keys in parallel, all within one time budget.
//!
//! fhir-sdk's typed client speaks R4B (`Accept: application/fhir+json; fhirVersion=4.3`) and
//! parses whole Bundles strictly. EHRs serve R4, and one odd entry must not cost the others, so
//! the requests go through the client's `send_custom_request` (its retries, timeout, headers and
//! FHIR major-version check) with a version-neutral `Accept: application/fhir+json`, and the
//! bodies are read resource by resource like prefetch.

use std::time::{Duration, Instant};

use fhir_sdk::client::{Client, RequestSettings};
use fhir_sdk::version::FhirR4B;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};
use serde_json::value::RawValue;
use url::Url;

use super::read::{next_link, outcome_message};
use super::{DataError, PatientRecord, RecordProblem, Relevance, read_key};
use crate::protocol::CdsRequest;

/// How the service may use the EHR's FHIR server.
#[derive(Debug, Clone)]
pub struct FhirServerSettings {
    /// Everything fetched for one request must arrive within this time.
    pub time_budget: Duration,
    /// Pages followed per search; more is cut short (and said so).
    pub max_pages: usize,
    /// Resources read per search; more is cut short (and said so).
    pub max_resources: usize,
    /// Allow `http://` servers other than on this machine (CDS Hooks requires https).
    pub allow_plain_http: bool,
    /// The HTTPS client; it cannot be built without the system's CA certificates, and then
    /// every fetch is refused with the reason (412) instead of the service failing.
    http: Result<reqwest::Client, String>,
}

impl Default for FhirServerSettings {
    fn default() -> Self {
        FhirServerSettings::new(Duration::from_secs(2), 20, 5000, false)
    }
}

/// Install the TLS provider once: reqwest is built with rustls but without a default provider.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl FhirServerSettings {
    pub fn new(time_budget: Duration, max_pages: usize, max_resources: usize, allow_plain_http: bool) -> Self {
        install_tls_provider();
        let http = reqwest::Client::builder()
            .user_agent(concat!("advanced-therapy-cds/", env!("CARGO_PKG_VERSION")))
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| {
                format!(
                    "the HTTPS client cannot be set up ({}); are the system's CA certificates installed \
                     (Debian: ca-certificates)?",
                    describe_error(&e)
                )
            });
        FhirServerSettings { time_budget, max_pages, max_resources, allow_plain_http, http }
    }

    /// Why this service cannot fetch from FHIR servers at all, if it cannot (logged at start-up).
    pub fn unavailable(&self) -> Option<&str> {
        self.http.as_ref().err().map(String::as_str)
    }

    /// The moment by which everything of one call must have been fetched.
    pub fn deadline(&self) -> Instant {
        Instant::now() + self.time_budget
    }
}

/// One search or read to make for a prefetch key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetch {
    pub key: &'static str,
    /// A query relative to the server base (`Condition?patient=…`), or an absolute next-page URL.
    pub query: String,
}

#[derive(Debug)]
enum Failure {
    Refused(StatusCode, String),
    NotFound(String),
    Failed(String),
}

/// What one key's fetch brought.
struct Fetched {
    key: &'static str,
    /// Each page, with how many of its entries to read (the last may cross `max_resources`).
    bodies: Vec<(String, usize)>,
    cut_short: Option<String>,
    failure: Option<Failure>,
}

/// Fill a prefetch template's tokens from the request context (CDS Hooks §Prefetch tokens).
pub fn expand(template: &str, request: &CdsRequest<'_>) -> Result<String, DataError> {
    let ctx = &request.context;
    let user = ctx.user_id.as_deref().unwrap_or("");
    let user_id_of = |kind: &str| user.strip_prefix(kind).and_then(|r| r.strip_prefix('/')).map(str::to_string);
    let tokens: [(&str, Option<String>); 7] = [
        ("{{context.patientId}}", Some(ctx.patient_id.clone())),
        ("{{context.encounterId}}", ctx.encounter_id.clone()),
        ("{{context.userId}}", ctx.user_id.clone()),
        ("{{userPractitionerId}}", user_id_of("Practitioner")),
        ("{{userPractitionerRoleId}}", user_id_of("PractitionerRole")),
        ("{{userPatientId}}", user_id_of("Patient")),
        ("{{userRelatedPersonId}}", user_id_of("RelatedPerson")),
    ];
    let mut out = template.to_string();
    for (token, value) in tokens {
        if out.contains(token) {
            let Some(value) = value else {
                return Err(DataError::Unavailable(format!(
                    "the query {template} needs {token}, which the request does not give"
                )));
            };
            let encoded: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
            out = out.replace(token, &encoded);
        }
    }
    Ok(out)
}

fn base_url(request: &CdsRequest<'_>, settings: &FhirServerSettings) -> Result<Url, DataError> {
    let server = request.fhir_server.as_deref().unwrap_or_default();
    let mut url = Url::parse(server).map_err(|e| DataError::Unavailable(format!("fhirServer is not a URL: {e}")))?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if url.scheme() != "https" && !(url.scheme() == "http" && (loopback || settings.allow_plain_http)) {
        return Err(DataError::Unavailable("fhirServer must be an https URL (CDS Hooks requires TLS)".into()));
    }
    // A base URL with a trailing slash makes relative queries resolve below it.
    if !url.path().ends_with('/') {
        url.set_path(&format!("{}/", url.path()));
    }
    Ok(url)
}

fn client(request: &CdsRequest<'_>, settings: &FhirServerSettings, base: Url) -> Result<Client<FhirR4B>, DataError> {
    let mut request_settings = RequestSettings::default().retries(0);
    if let Some(auth) = &request.fhir_authorization {
        let mut bearer = HeaderValue::from_str(&format!("Bearer {}", auth.access_token))
            .map_err(|_| DataError::Unavailable("fhirAuthorization.access_token is not a valid header value".into()))?;
        bearer.set_sensitive(true);
        request_settings = request_settings.header(AUTHORIZATION, bearer);
    }
    let http = settings.http.clone().map_err(|why| DataError::Unavailable(format!("cannot use fhirServer: {why}")))?;
    Client::<FhirR4B>::builder()
        .base_url(base)
        .client(http)
        .request_settings(request_settings)
        .build()
        .map_err(|e| DataError::Unavailable(format!("cannot use fhirServer: {e}")))
}

/// Fetch every key of `fetches` (in parallel, by the call's `deadline`) into the record.
/// A refused token, or a Patient that cannot be had, is a 412; other failures leave the key
/// incomplete and say so in the record's problems.
pub(super) async fn fetch(
    request: &CdsRequest<'_>,
    settings: &FhirServerSettings,
    fetches: Vec<Fetch>,
    record: &mut PatientRecord,
    deadline: Instant,
    relevance: Option<&Relevance>,
) -> Result<(), DataError> {
    let base = base_url(request, settings)?;
    let client = client(request, settings, base.clone())?;
    let results = futures_util::future::join_all(
        fetches.iter().map(|f| fetch_one(&client, &base, settings, f.key, &f.query, deadline)),
    )
    .await;
    let patient_id = &request.context.patient_id;
    for fetched in results {
        match fetched.failure {
            Some(Failure::Refused(status, why)) => {
                tracing::warn!(key = fetched.key, status = status.as_u16(), "FHIR server refused access");
                return Err(DataError::Unavailable(format!(
                    "the FHIR server refused access to `{}` ({status}): {why}",
                    fetched.key
                )));
            }
            Some(Failure::NotFound(why)) if fetched.key == "patient" => {
                return Err(DataError::Unavailable(format!("the FHIR server has no such Patient: {why}")));
            }
            Some(Failure::NotFound(why) | Failure::Failed(why)) => {
                tracing::warn!(key = fetched.key, "FHIR fetch failed");
                if fetched.key == "patient" {
                    return Err(DataError::Unavailable(format!("the Patient could not be fetched: {why}")));
                }
                record.problems.push(RecordProblem::CutShort { key: fetched.key.to_string(), reason: why });
            }
            None => {}
        }
        for (body, keep) in &fetched.bodies {
            let raw: Box<RawValue> = match serde_json::from_str(body) {
                Ok(raw) => raw,
                Err(e) => {
                    record.problems.push(RecordProblem::CutShort {
                        key: fetched.key.to_string(),
                        reason: format!("the FHIR server sent no JSON ({e})"),
                    });
                    continue;
                }
            };
            let reading = read_key(fetched.key, &raw, patient_id, record, *keep, relevance)?;
            if let Some(failure) = reading.failure {
                record.problems.push(RecordProblem::CutShort { key: fetched.key.to_string(), reason: failure });
            }
        }
        if let Some(why) = fetched.cut_short {
            record.problems.push(RecordProblem::CutShort { key: fetched.key.to_string(), reason: why });
        }
    }
    Ok(())
}

async fn fetch_one(
    client: &Client<FhirR4B>,
    base: &Url,
    settings: &FhirServerSettings,
    key: &'static str,
    query: &str,
    deadline: Instant,
) -> Fetched {
    let mut fetched = Fetched { key, bodies: Vec::new(), cut_short: None, failure: None };
    let mut url = match base.join(query) {
        Ok(u) => u,
        Err(e) => {
            fetched.failure = Some(Failure::Failed(format!("the query cannot be made into a URL: {e}")));
            return fetched;
        }
    };
    let mut resources = 0usize;
    for page in 0.. {
        if page == settings.max_pages {
            fetched.cut_short =
                Some(format!("the search has more than {} pages: only those were read", settings.max_pages));
            break;
        }
        let Some(remaining) = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) else {
            fetched.cut_short =
                Some(format!("not all was fetched within the {} ms budget", settings.time_budget.as_millis()));
            if page == 0 {
                fetched.failure = Some(Failure::Failed("the time budget ran out before it was fetched".into()));
            }
            break;
        };
        let target = url.clone();
        let started = Instant::now();
        let response = tokio::time::timeout(
            remaining,
            // The client's own timeout is a little later than ours, so that running out of
            // budget is always seen as that.
            client.send_custom_request(move |http| {
                http.get(target).header(ACCEPT, "application/fhir+json").timeout(remaining + Duration::from_millis(100))
            }),
        )
        .await;
        tracing::debug!(key, page, elapsed_ms = started.elapsed().as_millis() as u64, "FHIR page");
        let outcome = match &response {
            Err(_) => "timeout".to_string(),
            Ok(Err(_)) => "error".to_string(),
            Ok(Ok(r)) if r.status().is_success() => "ok".to_string(),
            Ok(Ok(r)) => r.status().as_u16().to_string(),
        };
        crate::telemetry::fhir_fetch(key, &outcome, started.elapsed().as_secs_f64());
        let response = match response {
            Err(_) => {
                let why =
                    format!("the FHIR server did not answer within the {} ms budget", settings.time_budget.as_millis());
                if page == 0 {
                    fetched.failure = Some(Failure::Failed(why));
                } else {
                    fetched.cut_short = Some(why);
                }
                break;
            }
            Ok(Err(e)) => {
                let why = format!("the FHIR server could not be reached ({})", describe_error(&e));
                if page == 0 {
                    fetched.failure = Some(Failure::Failed(why));
                } else {
                    fetched.cut_short = Some(why);
                }
                break;
            }
            Ok(Ok(r)) => r,
        };
        let status = response.status();
        let body = match tokio::time::timeout(deadline.saturating_duration_since(Instant::now()), response.text()).await
        {
            Ok(Ok(body)) => body,
            Ok(Err(e)) => {
                fetched.failure =
                    Some(Failure::Failed(format!("the answer could not be read ({})", describe_error(&e))));
                break;
            }
            Err(_) => {
                fetched.failure = Some(Failure::Failed("the answer did not arrive within the time budget".into()));
                break;
            }
        };
        if !status.is_success() {
            let why = if body.contains("OperationOutcome") { outcome_message(&body) } else { format!("HTTP {status}") };
            fetched.failure = Some(match status {
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Failure::Refused(status, why),
                StatusCode::NOT_FOUND | StatusCode::GONE => Failure::NotFound(why),
                _ => Failure::Failed(format!("the FHIR server answered {status}: {why}")),
            });
            break;
        }
        let (next, count) = next_link(&body);
        let room = settings.max_resources - resources;
        let cut = || Some(format!("more than {} resources: only the first {0} were read", settings.max_resources));
        if count > room {
            fetched.bodies.push((body, room));
            fetched.cut_short = cut();
            break;
        }
        resources += count;
        fetched.bodies.push((body, count));
        let Some(next) = next else { break };
        if resources == settings.max_resources {
            fetched.cut_short = cut();
            break;
        }
        match Url::parse(&next).or_else(|_| base.join(&next)) {
            // The token goes to the EHR's own server only.
            Ok(n) if n.origin() == base.origin() => url = n,
            _ => {
                fetched.cut_short = Some("the next page lives on another server: not followed".into());
                break;
            }
        }
    }
    fetched
}

/// The root cause of an error, without any URL (URLs name the patient).
fn describe_error(e: &dyn std::error::Error) -> String {
    let mut root: &dyn std::error::Error = e;
    while let Some(s) = root.source() {
        root = s;
    }
    let text = root.to_string();
    match text.find("http") {
        Some(i) => text[..i].trim_end_matches([' ', '(', ':']).to_string(),
        None => text,
    }
}
