//! Start-up: load and validate the knowledge, open the database, bind, serve. Tests build the
//! same `Application` on port 0 and talk HTTP to it.

use std::net::TcpListener;
use std::sync::Arc;

use actix_cors::Cors;
use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::Condition;
use actix_web::{App, HttpServer, web};

use crate::advice::Advisor;
use crate::auth::Authenticator;
use crate::config::{Clock, Settings};
use crate::http::{AppState, routes};
use crate::knowledge::{Knowledge, KnowledgeErrors};
use crate::storage::{Store, StoreError};
use crate::terminology::TerminologyServer;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("{0}")]
    Knowledge(#[from] KnowledgeErrors),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("authentication cannot be set up: {0}")]
    Auth(String),
    #[error("the terminology server cannot be used: {0}")]
    Terminology(String),
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

/// Browser-based EHRs on these origins may call (preflight answered, an hour cached).
fn cors(origins: &[String]) -> Cors {
    origins
        .iter()
        .fold(Cors::default(), |cors, origin| cors.allowed_origin(origin))
        .allowed_methods(["GET", "POST", "OPTIONS"])
        .allowed_headers(["Authorization", "Content-Type", "Accept", "Accept-Language"])
        .max_age(3600)
}

/// Now and then, expired decision-matrix pages are emptied (and a day later deleted): at half
/// their time to live, at least every second and at most every minute.
fn sweep_matrix_pages(store: Store, ttl: std::time::Duration) {
    let every = (ttl / 2).clamp(std::time::Duration::from_secs(1), std::time::Duration::from_secs(60));
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            match store.sweep_matrices(crate::storage::now_ms()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(pages = n, "expired matrix pages swept"),
                Err(e) => tracing::warn!(error = %e, "expired matrix pages could not be swept"),
            }
        }
    });
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Application, StartupError> {
        let knowledge = load_knowledge(&settings)?;
        let store = Store::open(&settings.data_dir, settings.database_url.as_deref()).await?;
        tracing::info!(database = ?store.backend(), "database open and migrated");
        if let Clock::Fixed(day) = settings.clock {
            tracing::warn!(%day, "the clock is FIXED (--as-of): ages and time windows use this date, not today");
        }
        let auth = Authenticator::new(&settings.auth, store.clone()).map_err(StartupError::Auth)?;
        match &auth {
            Some(_) => tracing::info!(issuers = settings.auth.issuers.len(), "EHR authentication is ON"),
            None => tracing::warn!(
                "EHR AUTHENTICATION IS OFF: any caller can use this service. Fine on 127.0.0.1 for a demo; \
                 set auth.enabled = true with [[auth.issuers]] before an EHR calls it"
            ),
        }
        if let Some(why) = settings.fhir.unavailable() {
            tracing::error!(
                reason = why,
                "FETCHING FROM EHR FHIR SERVERS IS UNAVAILABLE: calls that lack prefetch are answered 412"
            );
        }
        // Metrics are recorded from the first call on.
        let _ = crate::telemetry::handle();
        let listener = TcpListener::bind(settings.bind)
            .map_err(|source| StartupError::Bind { addr: settings.bind.to_string(), source })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind { addr: settings.bind.to_string(), source })?
            .port();
        let public_url = settings.public_url.clone().unwrap_or_else(|| format!("http://{}:{port}", settings.bind.ip()));
        let terminology = TerminologyServer::new(&settings.terminology).map_err(StartupError::Terminology)?;
        if let Some(server) = &terminology {
            tracing::info!(url = server.base(), "codes no shipped expansion holds are asked of the terminology server");
        }
        let advisor = Advisor::new(knowledge, settings.jurisdiction, settings.fhir.clone())
            .with_public_url(public_url.clone())
            .with_terminology_server(terminology)
            .with_max_draft_orders(settings.limits.max_draft_orders)
            .with_matrix(settings.matrix.enabled);
        let mut state =
            AppState::new(advisor, store.clone(), auth, public_url, settings.limits.clone(), settings.clock);
        state.matrix = settings.matrix.clone();
        let state = web::Data::new(state);
        if settings.matrix.enabled {
            sweep_matrix_pages(store.clone(), settings.matrix.ttl);
        }
        let origins = settings.cors_origins.clone();
        let service_ids: Vec<String> = state.advisor.knowledge.services.iter().map(|s| s.id.clone()).collect();
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .wrap(Condition::new(!origins.is_empty(), cors(&origins)))
                .configure(|cfg| routes(cfg, &service_ids))
        })
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
