//! Starting the service for a test and talking to it.

use std::path::{Path, PathBuf};

use actix_web::dev::ServerHandle;
use advanced_therapy_cds::config::{Clock, Settings, parse_date};
use advanced_therapy_cds::startup::Application;
use advanced_therapy_cds::vocabulary::Jurisdiction;
use serde_json::Value;

pub const SELECT: &str = "advanced-therapy-order-select";
pub const SIGN: &str = "advanced-therapy-order-sign";

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(rel: &str) -> Vec<u8> {
    let path = root().join("fixtures").join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

pub fn fixture_json(rel: &str) -> Value {
    serde_json::from_slice(&fixture(rel)).expect("fixture is JSON")
}

/// The day the fixtures are written for (fixtures/cases.json `as_of`).
pub fn as_of() -> time::Date {
    let cases = fixture_json("cases.json");
    parse_date(cases["as_of"].as_str().expect("as_of")).expect("as_of date")
}

pub fn settings(data_dir: &Path) -> Settings {
    Settings {
        bind: "127.0.0.1:0".parse().unwrap(),
        knowledge_dir: root().join("cds-services"),
        data_dir: data_dir.to_path_buf(),
        clock: Clock::Fixed(as_of()),
        workers: 2,
        ..Settings::embedded_default()
    }
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub handle: ServerHandle,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
    /// Kept alive for the app's lifetime when the test did not give its own.
    _data_dir: Option<tempfile::TempDir>,
}

impl TestApp {
    pub async fn start() -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let mut app = TestApp::start_with(settings(dir.path())).await;
        app._data_dir = Some(dir);
        app
    }

    pub async fn start_with(settings: Settings) -> TestApp {
        let app = Application::build(settings).await.expect("the service starts");
        let base = format!("http://127.0.0.1:{}", app.port());
        let handle = app.handle();
        let task = tokio::spawn(app.run());
        TestApp { base, client: http_client(), handle, task, _data_dir: None }
    }

    /// Keep a directory (its data dir) alive as long as the app.
    pub fn keep(&mut self, dir: tempfile::TempDir) {
        self._data_dir = Some(dir);
    }

    /// Graceful stop: in-flight requests finish, the database is closed.
    pub async fn stop(self) {
        self.handle.stop(true).await;
        self.task.await.expect("server task").expect("server stopped cleanly");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn post_json(&self, path: &str, body: &[u8], lang: Option<&str>) -> reqwest::Response {
        let mut req = self.client.post(self.url(path)).header("content-type", "application/json").body(body.to_vec());
        if let Some(lang) = lang {
            req = req.header("accept-language", lang);
        }
        req.send().await.expect("request sent")
    }

    pub async fn call(&self, service: &str, body: &[u8]) -> (u16, Value) {
        let resp = self.post_json(&format!("/cds-services/{service}"), body, None).await;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or_else(|_| panic!("body is not JSON: {text}")))
    }
}

/// The service a request is for, by its hook.
pub fn service_for(body: &Value) -> &'static str {
    match body["hook"].as_str() {
        Some("order-sign") => SIGN,
        _ => SELECT,
    }
}

/// (rule id, indicator) of each card.
pub fn rules_of(response: &Value) -> Vec<(String, String)> {
    response["cards"]
        .as_array()
        .expect("cards array")
        .iter()
        .map(|c| {
            (
                c["source"]["topic"]["code"].as_str().unwrap_or("").to_string(),
                c["indicator"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// A Dutch deployment (the default) and a Belgian one, for the cases marked `BE`.
pub struct Deployments {
    nl: TestApp,
    be: TestApp,
    _data: tempfile::TempDir,
}

impl Deployments {
    pub async fn start() -> Self {
        let data = tempfile::tempdir().unwrap();
        let be = TestApp::start_with(Settings { jurisdiction: Jurisdiction::Be, ..settings(data.path()) }).await;
        Deployments { nl: TestApp::start().await, be, _data: data }
    }

    pub fn for_case(&self, case: &Value) -> &TestApp {
        if case["jurisdiction"] == "BE" { &self.be } else { &self.nl }
    }

    pub async fn stop(self) {
        self.nl.stop().await;
        self.be.stop().await;
    }
}

/// A fixture request without its prefetch, pointed at `fhir_server` with a bearer token.
pub fn without_prefetch(request: &Value, fhir_server: &str, token: &str) -> Vec<u8> {
    let mut r = request.clone();
    r.as_object_mut().unwrap().remove("prefetch");
    r["fhirServer"] = serde_json::json!(fhir_server);
    r["fhirAuthorization"] = serde_json::json!({
        "access_token": token, "token_type": "Bearer", "expires_in": 300, "scope": "user/*.read", "subject": "atcds"
    });
    serde_json::to_vec(&r).unwrap()
}

/// The service binary run as a separate process (for signals and restarts), its log collected.
pub struct ServedProcess {
    pub child: std::process::Child,
    pub port: u16,
    log: std::sync::mpsc::Receiver<String>,
    pub lines: Vec<String>,
}

pub const BIN: &str = env!("CARGO_BIN_EXE_advanced-therapy-cds");

impl ServedProcess {
    /// `serve` with these arguments (add `--bind 127.0.0.1:0`) and environment; waits for the
    /// port in the log.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> ServedProcess {
        use std::io::BufRead;
        let mut cmd = std::process::Command::new(BIN);
        cmd.arg("serve").args(args).env("NO_COLOR", "1").stderr(std::process::Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("the binary starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut lines = Vec::new();
        let port = loop {
            let line = rx
                .recv_timeout(std::time::Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("the server logs its port; log so far:\n{}", lines.join("\n")));
            lines.push(line.clone());
            if line.contains("listening")
                && let Some(rest) = line.split("port=").nth(1)
            {
                break rest.split_whitespace().next().unwrap().parse::<u16>().unwrap();
            }
        };
        // Ready when it answers: by then its signal handlers are in place too.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !health_ok(port) {
            assert!(std::time::Instant::now() < deadline, "the server never answered /health/live");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        ServedProcess { child, port, log: rx, lines }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn signal(&self, signal: &str) {
        let status =
            std::process::Command::new("kill").arg(format!("-{signal}")).arg(self.child.id().to_string()).status();
        assert!(status.is_ok_and(|s| s.success()), "kill -{signal}");
    }

    /// Wait for the process to end; its exit status and the rest of its log.
    pub fn wait(&mut self, limit: std::time::Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + limit;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break Some(s);
            }
            if std::time::Instant::now() > deadline {
                break None;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        while let Ok(line) = self.log.recv_timeout(std::time::Duration::from_millis(200)) {
            self.lines.push(line);
        }
        status
    }
}

impl Drop for ServedProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A blocking GET /health/live (no runtime needed).
fn health_ok(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(2)));
    if stream.write_all(b"GET /health/live HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200")
}

/// An HTTP client for the tests. reqwest is built with rustls but without a default crypto
/// provider: install it first, as the service does, so that a test run alone works too.
pub fn http_client() -> reqwest::Client {
    advanced_therapy_cds::fhir::install_tls_provider();
    reqwest::Client::new()
}

/// POST a JSON body to `url`; the status.
pub async fn post_json_to(client: &reqwest::Client, url: &str, body: String) -> u16 {
    client.post(url).header("content-type", "application/json").body(body).send().await.unwrap().status().as_u16()
}

/// Say something the test runner must not swallow (a skipped or degraded test): written to the
/// process's stderr directly, past libtest's output capture.
pub fn loud(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "\n*** {message}\n");
}
