//! Storage of prescriber feedback in an embedded SQLite database (WAL, fully synchronous: a
//! feedback row is on disk before the answer is sent). No patient data is stored.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
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

/// Migrations compiled into the binary: the service runs from any working directory.
#[derive(Debug)]
struct EmbeddedMigrations;

const MIGRATIONS: &[(i64, &str, &str)] = &[(1, "feedback", include_str!("migrations/0001_feedback.sql"))];

impl<'s> MigrationSource<'s> for EmbeddedMigrations {
    fn resolve(self) -> futures_core::future::BoxFuture<'s, Result<Vec<Migration>, sqlx::error::BoxDynError>> {
        Box::pin(async {
            Ok(MIGRATIONS
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
    pool: SqlitePool,
}

impl Store {
    pub const FILE_NAME: &'static str = "advanced-therapy-cds.sqlite";

    /// Open (creating if needed) the database in `data_dir` and run the migrations.
    pub async fn open(data_dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|source| StoreError::DataDir { path: data_dir.to_path_buf(), source })?;
        let path = data_dir.join(Self::FILE_NAME);
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(std::time::Duration::from_secs(5));
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
        Migrator::new(EmbeddedMigrations).await?.run(&pool).await?;
        Ok(Store { pool })
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
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(service_id)
            .bind(&f.card)
            .bind(rule_id)
            .bind(f.outcome.as_str())
            .bind(suggestions)
            .bind(f.override_reason.as_ref().map(|r| r.code.clone()))
            .bind(f.override_reason.as_ref().map(|r| r.system.clone()))
            .bind(f.override_reason.as_ref().and_then(|r| r.display.clone()))
            .bind(&f.user_comment)
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

    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}
