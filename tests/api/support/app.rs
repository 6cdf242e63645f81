//! The service in this process, on a random port, for one test: real HTTP to the real
//! `Application`. It stops when dropped (its data dir, when it owns one, goes after it).

use std::path::Path;

use actix_web::dev::ServerHandle;
use advanced_therapy_cds::config::{Clock, Settings};
use advanced_therapy_cds::startup::Application;
use advanced_therapy_cds::vocabulary::Jurisdiction;
use serde_json::Value;

use super::{as_of, root};

/// The test settings: port 0, the shipped knowledge, the fixtures' day, two workers.
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
    handle: ServerHandle,
    /// The server's own thread and runtime, so that dropping the app can wait for its end.
    server: Option<std::thread::JoinHandle<std::io::Result<()>>>,
    /// Kept alive for the app's lifetime when the app owns its data dir.
    data_dir: Option<tempfile::TempDir>,
}

impl TestApp {
    /// The test settings, in a data dir of its own.
    pub async fn start() -> TestApp {
        TestApp::start_changed(|s| s).await
    }

    /// The test settings changed by `change`, in a data dir of its own.
    pub async fn start_changed(change: impl FnOnce(Settings) -> Settings) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let mut app = TestApp::start_with(change(settings(dir.path()))).await;
        app.data_dir = Some(dir);
        app
    }

    pub async fn start_with(settings: Settings) -> TestApp {
        let (started, port) = tokio::sync::oneshot::channel();
        let server = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async move {
                let app = Application::build(settings).await.expect("the service starts");
                let _ = started.send((app.port(), app.handle()));
                app.run().await
            })
        });
        let Ok((port, handle)) = port.await else {
            let why = server.join().err().and_then(|e| e.downcast_ref::<String>().cloned()).unwrap_or_default();
            panic!("the service did not start: {why}");
        };
        TestApp {
            base: format!("http://127.0.0.1:{port}"),
            client: http_client(),
            handle,
            server: Some(server),
            data_dir: None,
        }
    }

    /// Graceful stop: in-flight requests finish, the database is closed.
    pub async fn stop(mut self) {
        let server = self.server.take().expect("running");
        self.handle.stop(true).await;
        let ended = tokio::task::spawn_blocking(move || server.join()).await.unwrap();
        ended.expect("server thread").expect("server stopped cleanly");
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

impl Drop for TestApp {
    /// Stop at once (calls in flight are cut off) and wait until the server and its database are
    /// closed; then the data dir may go.
    fn drop(&mut self) {
        let Some(server) = self.server.take() else { return };
        // The stop command is sent when `stop` is called; the future only waits for it.
        drop(self.handle.stop(false));
        let ended = server.join();
        if !std::thread::panicking() {
            ended.expect("server thread").expect("server stopped cleanly");
        }
    }
}

/// A Dutch deployment (the default) and a Belgian one, for the cases marked `BE`.
pub struct Deployments {
    nl: TestApp,
    be: TestApp,
}

impl Deployments {
    pub async fn start() -> Self {
        let be = TestApp::start_changed(|s| Settings { jurisdiction: Jurisdiction::Be, ..s }).await;
        Deployments { nl: TestApp::start().await, be }
    }

    pub fn for_case(&self, case: &Value) -> &TestApp {
        if case["jurisdiction"] == "BE" { &self.be } else { &self.nl }
    }
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
