//! Storage: prescriber feedback and the token ids already seen. SQLite in the data directory by
//! default (WAL, fully synchronous: a row is on disk before the answer is sent), PostgreSQL when
//! a `postgres://` URL is configured — one code path through sqlx's `Any` driver, with the
//! migrations of each dialect compiled in. No patient data is stored, but for the decision-matrix
//! pages (no name, identifier or birth date), each kept for its short time to live.

use std::path::{Path, PathBuf};

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::{AnyPool, Executor};
use time::format_description::well_known::Rfc3339;

use crate::protocol::Feedback;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Migrations compiled into the binary: the service runs from any working directory.
#[derive(Debug)]
struct EmbeddedMigrations(Backend);

const SQLITE: &[(i64, &str, &str)] = &[
    (1, "feedback", include_str!("migrations/sqlite/0001_feedback.sql")),
    (2, "seen tokens", include_str!("migrations/0002_seen_tokens.sql")),
    (3, "matrix pages", include_str!("migrations/0003_matrix_pages.sql")),
];
const POSTGRES: &[(i64, &str, &str)] = &[
    (1, "feedback", include_str!("migrations/postgres/0001_feedback.sql")),
    (2, "seen tokens", include_str!("migrations/0002_seen_tokens.sql")),
    (3, "matrix pages", include_str!("migrations/0003_matrix_pages.sql")),
];

/// A decision-matrix page looked up by its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredMatrix {
    /// Its view model (JSON), and when it expires (Unix milliseconds).
    Found(String, i64),
    /// It was there, and its time is up.
    Expired,
    Unknown,
}

/// Most decision-matrix pages one INSERT carries (4 parameters each: well inside the limits of
/// SQLite, 32,766, and PostgreSQL, 65,535).
const MATRIX_ROWS_PER_INSERT: usize = 128;

/// `INSERT … VALUES (…), …` for `rows` rows (a power of two up to `MATRIX_ROWS_PER_INSERT`),
/// made once per size and backend. SQLite gets anonymous `?` parameters: it keeps `$N` as
/// named ones and finds a named parameter's name by a linear search, which sqlx does for every
/// parameter it binds — 512 searches of 512 names for a full statement, 1 % of the service's
/// CPU under load (perf, issue 16). PostgreSQL needs `$N`.
fn matrix_insert(rows: usize, backend: Backend) -> &'static str {
    use std::sync::OnceLock;
    const SIZES: usize = MATRIX_ROWS_PER_INSERT.ilog2() as usize + 1;
    static MADE: [[OnceLock<String>; SIZES]; 2] = [const { [const { OnceLock::new() }; SIZES] }; 2];
    debug_assert!(rows.is_power_of_two() && rows <= MATRIX_ROWS_PER_INSERT, "{rows} rows");
    MADE[backend as usize][rows.ilog2() as usize].get_or_init(|| {
        let values: Vec<String> = (0..rows)
            .map(|i| match backend {
                Backend::Sqlite => "(?, ?, ?, ?)".to_string(),
                Backend::Postgres => format!("(${}, ${}, ${}, ${})", 4 * i + 1, 4 * i + 2, 4 * i + 3, 4 * i + 4),
            })
            .collect();
        format!("INSERT INTO matrix_pages (token, created_at, expires_at, body) VALUES {}", values.join(", "))
    })
}

/// How long an expired page is still known as expired (410) before its row goes (then 404).
const EXPIRED_KEPT_MS: i64 = 24 * 3600 * 1000;

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

impl<'s> MigrationSource<'s> for EmbeddedMigrations {
    fn resolve(self) -> futures_core::future::BoxFuture<'s, Result<Vec<Migration>, sqlx::error::BoxDynError>> {
        let list = match self.0 {
            Backend::Sqlite => SQLITE,
            Backend::Postgres => POSTGRES,
        };
        Box::pin(async move {
            Ok(list
                .iter()
                .map(|(v, d, sql)| Migration::new(*v, (*d).into(), MigrationType::Simple, (*sql).into(), false))
                .collect())
        })
    }
}

/// What feedback says about one rule, for operators (no card ids, no patient data).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FeedbackCount {
    pub rule_id: String,
    pub outcome: String,
    pub count: i64,
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl Store {
    pub const FILE_NAME: &'static str = "advanced-therapy-cds.sqlite";

    /// Open the database (`url`, else SQLite in `data_dir`, created if needed) and migrate it.
    pub async fn open(data_dir: &Path, url: Option<&str>) -> Result<Store, StoreError> {
        install_default_drivers();
        let url = match url {
            Some(url) => url.to_string(),
            None => {
                std::fs::create_dir_all(data_dir)
                    .map_err(|source| StoreError::DataDir { path: data_dir.to_path_buf(), source })?;
                format!("sqlite://{}?mode=rwc", data_dir.join(Self::FILE_NAME).display())
            }
        };
        let backend = if url.starts_with("sqlite:") { Backend::Sqlite } else { Backend::Postgres };
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 10 })
            // A database that is down is reported within seconds (503), not after sqlx's 30 s.
            .acquire_timeout(std::time::Duration::from_secs(3))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // Durable before the answer: write-ahead log, fsync on every commit.
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        Migrator::new(EmbeddedMigrations(backend)).await?.run(&pool).await?;
        Ok(Store { pool, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Store feedback entries in one transaction (all or nothing).
    pub async fn record_feedback(
        &self,
        service_id: &str,
        entries: &[(Feedback, Option<String>)],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let received = time::OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default();
        for (f, rule_id) in entries {
            let suggestions = serde_json::to_string(&f.accepted_suggestions).unwrap_or_else(|_| "[]".into());
            sqlx::query(
                "INSERT INTO feedback (service_id, card_uuid, rule_id, outcome, accepted_suggestions, \
                 override_code, override_system, override_display, user_comment, outcome_timestamp, received_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(service_id)
            .bind(&f.card)
            .bind(rule_id.clone())
            .bind(f.outcome.as_str())
            .bind(suggestions)
            .bind(f.override_reason.as_ref().map(|r| r.code.clone()))
            .bind(f.override_reason.as_ref().map(|r| r.system.clone()))
            .bind(f.override_reason.as_ref().and_then(|r| r.display.clone()))
            .bind(f.user_comment.clone())
            .bind(f.outcome_timestamp.format(&Rfc3339).unwrap_or_default())
            .bind(&received)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Feedback counts per rule and outcome.
    pub async fn summary(&self) -> Result<Vec<FeedbackCount>, StoreError> {
        let rows: Vec<(Option<String>, String, i64)> = sqlx::query_as(
            "SELECT rule_id, outcome, COUNT(*) FROM feedback GROUP BY rule_id, outcome ORDER BY rule_id, outcome",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(rule_id, outcome, count)| FeedbackCount {
                rule_id: rule_id.unwrap_or_else(|| "(unknown card)".into()),
                outcome,
                count,
            })
            .collect())
    }

    /// Remember a token id until it expires; `false` when it was already seen (a replay), by
    /// this replica or another one sharing the database.
    pub async fn first_use_of_token(&self, issuer: &str, jti: &str, expires_at: i64) -> Result<bool, StoreError> {
        // Now and then, expired ids go: their tokens are refused for being expired anyway.
        static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        if CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed).is_multiple_of(256) {
            let an_hour_ago = time::OffsetDateTime::now_utc().unix_timestamp() - 3600;
            sqlx::query("DELETE FROM seen_tokens WHERE expires_at < $1").bind(an_hour_ago).execute(&self.pool).await?;
        }
        let inserted = sqlx::query(
            "INSERT INTO seen_tokens (issuer, jti, expires_at) VALUES ($1, $2, $3) ON CONFLICT (issuer, jti) DO NOTHING",
        )
        .bind(issuer)
        .bind(jti)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    /// Keep several decision-matrix pages, in one transaction: (token, body, created, expires).
    pub async fn put_matrices<'a>(
        &self,
        pages: impl Iterator<Item = (&'a str, &'a str, i64, i64)>,
    ) -> Result<(), StoreError> {
        let pages: Vec<_> = pages.collect();
        let mut tx = self.pool.begin().await?;
        // Many rows per statement: each statement is a round trip to the database (for SQLite,
        // to sqlx's connection thread), which cost more than the rows themselves. The chunk
        // sizes are powers of two, so that only a few statement shapes are prepared and cached.
        let mut rest = &pages[..];
        while !rest.is_empty() {
            let n = if rest.len() >= MATRIX_ROWS_PER_INSERT { MATRIX_ROWS_PER_INSERT } else { 1 << rest.len().ilog2() };
            let (chunk, after) = rest.split_at(n);
            let mut query = sqlx::query(matrix_insert(n, self.backend));
            for (token, body, created_at, expires_at) in chunk {
                query = query.bind(*token).bind(*created_at).bind(*expires_at).bind(*body);
            }
            query.execute(&mut *tx).await?;
            rest = after;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The page under `token` as of `now` (Unix milliseconds).
    pub async fn matrix(&self, token: &str, now: i64) -> Result<StoredMatrix, StoreError> {
        let row: Option<(i64, Option<String>)> =
            sqlx::query_as("SELECT expires_at, body FROM matrix_pages WHERE token = $1")
                .bind(token)
                .fetch_optional(&self.pool)
                .await?;
        Ok(match row {
            None => StoredMatrix::Unknown,
            Some((expires_at, Some(body))) if expires_at > now => StoredMatrix::Found(body, expires_at),
            Some(_) => StoredMatrix::Expired,
        })
    }

    /// Forget what expired pages showed (their rows stay a day, so that they answer 410), and
    /// delete the rows after that day. Returns the number of pages emptied.
    pub async fn sweep_matrices(&self, now: i64) -> Result<u64, StoreError> {
        let emptied = sqlx::query("UPDATE matrix_pages SET body = NULL WHERE expires_at <= $1 AND body IS NOT NULL")
            .bind(now)
            .execute(&self.pool)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM matrix_pages WHERE expires_at <= $1")
            .bind(now - EXPIRED_KEPT_MS)
            .execute(&self.pool)
            .await?;
        Ok(emptied)
    }

    /// How many matrix pages still hold their content (for tests and operators).
    pub async fn matrix_pages_with_content(&self) -> Result<i64, StoreError> {
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM matrix_pages WHERE body IS NOT NULL").fetch_one(&self.pool).await?;
        Ok(n)
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

mod matrix_pages;
pub use matrix_pages::{Backlog, MatrixPages};

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn matrix_pages_expire_and_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), None).await.unwrap();
        store.put_matrices([("a", "{\"x\":1}", 1_000, 2_000)].into_iter()).await.unwrap();
        store.put_matrices([("b", "{}", 1_000, 9_000)].into_iter()).await.unwrap();
        assert_eq!(store.matrix("a", 1_500).await.unwrap(), StoredMatrix::Found("{\"x\":1}".into(), 2_000));
        assert_eq!(store.matrix("a", 2_000).await.unwrap(), StoredMatrix::Expired);
        assert_eq!(store.matrix("nope", 1_500).await.unwrap(), StoredMatrix::Unknown);
        // The sweep empties the expired page, keeps the other, and keeps answering "expired".
        assert_eq!(store.sweep_matrices(2_500).await.unwrap(), 1);
        assert_eq!(store.matrix_pages_with_content().await.unwrap(), 1);
        assert_eq!(store.matrix("a", 1_500).await.unwrap(), StoredMatrix::Expired);
        assert_eq!(store.matrix("b", 1_500).await.unwrap(), StoredMatrix::Found("{}".into(), 9_000));
        // A day later the row is gone; the other page, expired since, is emptied.
        store.sweep_matrices(2_000 + EXPIRED_KEPT_MS).await.unwrap();
        assert_eq!(store.matrix("a", 1_500).await.unwrap(), StoredMatrix::Unknown);
        assert_eq!(store.matrix("b", 1_500).await.unwrap(), StoredMatrix::Expired);
        store.close().await;
    }

    #[tokio::test]
    async fn a_batch_of_any_size_is_written_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), None).await.unwrap();
        // 300 = 128 + 128 + 32 + 8 + 4: full statements and every smaller size the rest needs.
        let pages: Vec<(String, String)> = (0..300).map(|n| (format!("t{n}"), format!("{{\"n\":{n}}}"))).collect();
        store.put_matrices(pages.iter().map(|(t, b)| (t.as_str(), b.as_str(), 1_000, 9_000))).await.unwrap();
        assert_eq!(store.matrix_pages_with_content().await.unwrap(), 300);
        for n in [0, 127, 128, 255, 256, 287, 295, 299] {
            let want = StoredMatrix::Found(format!("{{\"n\":{n}}}"), 9_000);
            assert_eq!(store.matrix(&format!("t{n}"), 1_500).await.unwrap(), want, "page {n}");
        }
        store.close().await;
    }

    #[tokio::test]
    async fn a_page_handed_over_is_served_at_once_and_written_in_the_background() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), None).await.unwrap();
        let pages = MatrixPages::start(store.clone());
        let now = now_ms();
        for n in 0..50 {
            pages.put(format!("t{n}"), format!("{{\"n\":{n}}}"), now, now + 60_000).unwrap();
        }
        // Served before, during and after the write.
        assert_eq!(pages.get("t7", now).await.unwrap(), StoredMatrix::Found("{\"n\":7}".into(), now + 60_000));
        assert_eq!(pages.get("t7", now + 60_000).await.unwrap(), StoredMatrix::Expired);
        for _ in 0..200 {
            if pages.waiting() == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(pages.waiting(), 0, "the writer stored every page");
        assert_eq!(store.matrix_pages_with_content().await.unwrap(), 50);
        assert_eq!(pages.get("t49", now).await.unwrap(), StoredMatrix::Found("{\"n\":49}".into(), now + 60_000));
        store.close().await;
    }
}
