//! Start-up: load and validate the knowledge, open the database, bind, serve. Tests build the
//! same `Application` on port 0 and talk HTTP to it.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{App, HttpServer, web};

use crate::advice::Advisor;
use crate::config::{Clock, Settings};
use crate::http::{AppState, routes};
use crate::knowledge::{Knowledge, KnowledgeErrors};
use crate::storage::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("{0}")]
    Knowledge(#[from] KnowledgeErrors),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
}

pub struct Application {
    server: Server,
    port: u16,
    store: Store,
}

/// Load the knowledge and log what it holds.
pub fn load_knowledge(settings: &Settings) -> Result<Arc<Knowledge>, KnowledgeErrors> {
    let started = std::time::Instant::now();
    let knowledge = Knowledge::load(&settings.knowledge_dir)?;
    tracing::info!(
        dir = %settings.knowledge_dir.display(),
        rules = knowledge.rules.len(),
        value_sets = knowledge.value_sets.len(),
        drugs = knowledge.drugs.len(),
        unverified_entries = knowledge.unverified.len(),
        not_implemented = ?knowledge.not_implemented,
        load_ms = started.elapsed().as_millis() as u64,
        "knowledge loaded and validated"
    );
    Ok(Arc::new(knowledge))
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Application, StartupError> {
        let knowledge = load_knowledge(&settings)?;
        let store = Store::open(&settings.data_dir).await?;
        if let Clock::Fixed(day) = settings.clock {
            tracing::warn!(%day, "the clock is FIXED (--as-of): ages and time windows use this date, not today");
        }
        let listener = TcpListener::bind(settings.bind)
            .map_err(|source| StartupError::Bind { addr: settings.bind.to_string(), source })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind { addr: settings.bind.to_string(), source })?
            .port();
        let public_url = settings.public_url.clone().unwrap_or_else(|| format!("http://{}:{port}", settings.bind.ip()));
        let advisor = Advisor::new(knowledge, settings.jurisdiction, settings.fhir.clone()).with_public_url(public_url);
        let state = web::Data::new(AppState::new(advisor, store.clone(), settings.max_body_bytes, settings.clock));
        let mut server = HttpServer::new(move || App::new().app_data(state.clone()).configure(routes))
            .listen(listener)
            .map_err(|source| StartupError::Bind { addr: settings.bind.to_string(), source })?;
        if settings.workers > 0 {
            server = server.workers(settings.workers);
        }
        tracing::info!(port, jurisdiction = %settings.jurisdiction, data_dir = %settings.data_dir.display(), "listening");
        Ok(Application { server: server.run(), port, store })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serve until stopped (SIGINT/SIGTERM or the handle); in-flight requests finish first.
    pub async fn run(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.store.close().await;
        result
    }
}
