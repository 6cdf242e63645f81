//! What every worker shares: the advisor (knowledge and engine), the feedback store, the
//! authenticator, the limits with the slots of calls in progress, the clock, the rules page.

use std::sync::Arc;

use tokio::sync::Semaphore;

use super::large_calls::LargeCalls;
use super::rules_page;
use crate::advice::Advisor;
use crate::auth::Authenticator;
use crate::config::{Clock, Limits, MatrixSettings};
use crate::storage::{MatrixPages, Store};

/// Shared by all workers.
pub struct AppState {
    pub advisor: Advisor,
    pub store: Store,
    /// `None`: authentication is off.
    pub auth: Option<Authenticator>,
    /// This service's URL as EHRs call it: tokens' `aud` names an endpoint under it.
    pub public_url: String,
    pub limits: Limits,
    /// One permit per call in progress (`limits.max_concurrent_requests`), taken by the gate.
    pub(super) in_flight: Arc<Semaphore>,
    /// Calls with a large body: one per core at a time, parsed and evaluated off the workers.
    pub(super) large_calls: LargeCalls,
    pub clock: Clock,
    /// The rules page, rendered once: the knowledge does not change while the service runs.
    pub rules_page: String,
    /// The decision-matrix pages: on or off, and how long each is kept.
    pub matrix: MatrixSettings,
    /// The pages themselves: handed to a writer, served until written from memory.
    pub matrix_pages: Arc<MatrixPages>,
}

impl AppState {
    pub fn new(
        advisor: Advisor,
        store: Store,
        auth: Option<Authenticator>,
        public_url: String,
        limits: Limits,
        clock: Clock,
    ) -> AppState {
        let rules_page = rules_page::render(&advisor.knowledge, advisor.jurisdiction).into_string();
        let in_flight = Arc::new(Semaphore::new(limits.max_concurrent_requests));
        let store_for_pages = store.clone();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let large_calls = LargeCalls::start(cores, limits.give_back_memory_above_mib.saturating_mul(1 << 20));
        AppState {
            advisor,
            store,
            auth,
            public_url,
            limits,
            in_flight,
            large_calls,
            clock,
            rules_page,
            matrix: MatrixSettings::default(),
            matrix_pages: MatrixPages::start(store_for_pages),
        }
    }

    /// The service id for the log: one of ours, or `unknown` — a caller's path segment (which may
    /// hold line breaks or anything else) never reaches the log.
    pub(super) fn logged_service<'a>(&self, service: &'a str) -> &'a str {
        if self.advisor.knowledge.service(service).is_some() { service } else { "unknown" }
    }
}
