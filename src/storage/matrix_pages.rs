//! Decision-matrix pages on their way to the database. A call hands its page over and answers
//! at once; a writer task stores what has gathered in one transaction (one disk sync for many
//! calls, where one insert per call had cut the throughput of atopic-dermatitis calls six-fold,
//! issue 16). Until its row is written, a page is served from here, so a link works from the
//! moment the card is sent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use super::{Store, StoredMatrix};

/// Pages waiting for the writer beyond which a call's page is refused (its link left off the
/// cards): the database is then not keeping up, and memory must not grow without bound.
const MAX_PENDING: usize = 10_000;

/// How long the writer lets pages gather before it writes them.
const GATHER: std::time::Duration = std::time::Duration::from_millis(25);

#[derive(Clone)]
struct Pending {
    body: Arc<str>,
    created_at: i64,
    expires_at: i64,
}

pub struct MatrixPages {
    store: Store,
    pending: Mutex<HashMap<String, Pending>>,
    wake: Notify,
}

#[derive(Debug, thiserror::Error)]
#[error("{0} decision-matrix pages are waiting to be stored: the database is not keeping up")]
pub struct Backlog(usize);

impl MatrixPages {
    /// Start the writer on the current runtime.
    pub fn start(store: Store) -> Arc<MatrixPages> {
        let pages = Arc::new(MatrixPages { store, pending: Mutex::default(), wake: Notify::new() });
        let writer = Arc::clone(&pages);
        tokio::spawn(async move { writer.write_forever().await });
        pages
    }

    /// Keep a page until `expires_at` (Unix milliseconds); refused when too many are waiting.
    pub fn put(&self, token: String, body: String, created_at: i64, expires_at: i64) -> Result<(), Backlog> {
        let mut pending = self.pending.lock().expect("pending pages");
        if pending.len() >= MAX_PENDING {
            return Err(Backlog(pending.len()));
        }
        pending.insert(token, Pending { body: body.into(), created_at, expires_at });
        drop(pending);
        self.wake.notify_one();
        Ok(())
    }

    /// The page under `token` as of `now`: still waiting here, else from the database.
    pub async fn get(&self, token: &str, now: i64) -> Result<StoredMatrix, super::StoreError> {
        let waiting = self.pending.lock().expect("pending pages").get(token).cloned();
        match waiting {
            Some(p) if p.expires_at > now => Ok(StoredMatrix::Found(p.body.to_string(), p.expires_at)),
            Some(_) => Ok(StoredMatrix::Expired),
            None => self.store.matrix(token, now).await,
        }
    }

    /// Pages not yet written (for tests and operators).
    pub fn waiting(&self) -> usize {
        self.pending.lock().expect("pending pages").len()
    }

    async fn write_forever(&self) {
        loop {
            self.wake.notified().await;
            // Let a batch gather (the pages are readable here meanwhile): one transaction, and
            // one disk sync, for the pages of many calls rather than one or two.
            tokio::time::sleep(GATHER).await;
            // What has gathered since the last write, in one transaction; the pages stay
            // readable here until their rows are committed.
            let batch: Vec<(String, Pending)> =
                self.pending.lock().expect("pending pages").iter().map(|(t, p)| (t.clone(), p.clone())).collect();
            if batch.is_empty() {
                continue;
            }
            let rows = batch.iter().map(|(t, p)| (t.as_str(), &*p.body, p.created_at, p.expires_at));
            match self.store.put_matrices(rows).await {
                Ok(()) => {
                    let mut pending = self.pending.lock().expect("pending pages");
                    for (token, _) in &batch {
                        pending.remove(token);
                    }
                }
                Err(e) => {
                    // Kept and tried again on the next page; a page that expires meanwhile is
                    // answered 410 from here as it would be from the database.
                    tracing::error!(error = %e, pages = batch.len(), "decision-matrix pages could not be stored");
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                    self.wake.notify_one();
                }
            }
        }
    }
}
