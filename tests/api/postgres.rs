//! The same storage on PostgreSQL (issue 7): feedback, its summary, the replay check shared by
//! two replicas, and feedback surviving a SIGKILL. PostgreSQL comes from the Debian packages:
//! found under /usr/lib/postgresql, installed with apt-get when the tests run as root and it is
//! missing, started by the test on 127.0.0.1 in a temporary directory. When it cannot be had,
//! the tests say so loudly and skip.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use advanced_therapy_cds::config::Settings;
use serde_json::json;

use crate::support::{SELECT, ServedProcess, TestApp, feedback, post_json_to, root, settings};

/// A PostgreSQL cluster of its own, stopped when dropped.
pub struct Postgres {
    pub url: String,
    bin: PathBuf,
    data: PathBuf,
    /// Run as this user (PostgreSQL refuses to run as root).
    user: Option<&'static str>,
    _dir: tempfile::TempDir,
}

fn bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").exists() && b.join("pg_ctl").exists())
        .collect();
    dirs.sort();
    dirs.pop()
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// PostgreSQL's binaries, installed from the Debian packages if need be (once, under a lock).
fn ensure_postgres() -> Result<PathBuf, String> {
    if let Some(bin) = bin_dir() {
        return Ok(bin);
    }
    if !is_root() || !std::path::Path::new("/usr/bin/apt-get").exists() {
        return Err("PostgreSQL is not installed and cannot be installed here (needs root and apt-get)".into());
    }
    let lock =
        std::fs::File::create(std::env::temp_dir().join("atcds-postgres-install.lock")).map_err(|e| e.to_string())?;
    lock.lock().map_err(|e| e.to_string())?;
    if let Some(bin) = bin_dir() {
        return Ok(bin);
    }
    eprintln!("postgres: installing PostgreSQL from the Debian packages (apt-get install postgresql)");
    let ok = |mut c: Command| c.status().is_ok_and(|s| s.success());
    let mut update = Command::new("apt-get");
    update.args(["update", "-qq"]);
    let mut install = Command::new("apt-get");
    install.args(["install", "-y", "-qq", "postgresql"]).env("DEBIAN_FRONTEND", "noninteractive");
    if !ok(update) || !ok(install) {
        return Err("apt-get install postgresql failed".into());
    }
    bin_dir().ok_or_else(|| "apt-get installed postgresql but no initdb was found".into())
}

impl Postgres {
    pub fn start() -> Result<Postgres, String> {
        let bin = ensure_postgres()?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let user = is_root().then_some("postgres");
        if let Some(u) = user {
            let status = Command::new("chown").args(["-R", u]).arg(dir.path()).status().map_err(|e| e.to_string())?;
            if !status.success() {
                return Err(format!("cannot give {} to user {u}", dir.path().display()));
            }
        }
        let data = dir.path().join("data");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let pg = Postgres {
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            bin,
            data: data.clone(),
            user,
            _dir: dir,
        };
        pg.run("initdb", &["-D", data.to_str().unwrap(), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"])?;
        let socket_dir = pg._dir.path().to_str().unwrap().to_string();
        let options = format!("-h 127.0.0.1 -p {port} -k {socket_dir}");
        let log = pg._dir.path().join("postgres.log");
        pg.run("pg_ctl", &["-D", data.to_str().unwrap(), "-l", log.to_str().unwrap(), "-o", &options, "-w", "start"])?;
        Ok(pg)
    }

    fn run(&self, tool: &str, args: &[&str]) -> Result<(), String> {
        let program = self.bin.join(tool);
        let out = match self.user {
            Some(u) => Command::new("runuser").args(["-u", u, "--"]).arg(&program).args(args).output(),
            None => Command::new(&program).args(args).output(),
        }
        .map_err(|e| format!("{tool}: {e}"))?;
        if !out.status.success() {
            return Err(format!("{tool} failed: {}", String::from_utf8_lossy(&out.stderr)));
        }
        Ok(())
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self.run("pg_ctl", &["-D", self.data.to_str().unwrap(), "-m", "immediate", "stop"]);
    }
}

/// PostgreSQL, or a loud skip.
fn postgres_or_skip(test: &str) -> Option<Postgres> {
    match Postgres::start() {
        Ok(pg) => Some(pg),
        Err(why) => {
            crate::support::loud(&format!("{test}: SKIPPED — no PostgreSQL: {why}"));
            None
        }
    }
}

#[tokio::test]
async fn feedback_is_stored_and_summarised_in_postgresql() {
    let Some(pg) = postgres_or_skip("feedback_is_stored_and_summarised_in_postgresql") else { return };
    let dir = tempfile::tempdir().unwrap();
    let s = Settings { database_url: Some(pg.url.clone()), ..settings(dir.path()) };
    let app = TestApp::start_with(s.clone()).await;
    // A card of the restricted-population rule, as the service made it.
    let (status, answer) =
        app.call(SELECT, &crate::support::fixture("requests/baricitinib-age-71-ex-smoker.json")).await;
    assert_eq!(status, 200);
    let card = answer["cards"][0]["uuid"].as_str().unwrap().to_string();
    let feedback_url = app.url(&format!("/cds-services/{SELECT}/feedback"));
    for _ in 0..3 {
        assert_eq!(post_json_to(&app.client, &feedback_url, feedback("accepted", &card).to_string()).await, 200);
    }
    let ready = app.client.get(app.url("/health/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    app.stop().await;
    // A second replica on the same database sees the rows (and the migrations are not re-run).
    let other = TestApp::start_with(s).await;
    let summary: serde_json::Value =
        other.client.get(other.url("/feedback/summary")).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        summary["feedback"],
        json!([{"rule_id": "jak.restricted-population", "outcome": "accepted", "count": 3}]),
        "{summary}"
    );
    // The database goes down: not ready, and feedback is refused with 503 (send again), not lost
    // silently and not a 500.
    drop(pg);
    let ready = other.client.get(other.url("/health/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let feedback_url = other.url(&format!("/cds-services/{SELECT}/feedback"));
    assert_eq!(post_json_to(&other.client, &feedback_url, feedback("accepted", &card).to_string()).await, 503);
}

#[tokio::test]
async fn a_token_replayed_to_another_replica_is_refused_through_postgresql() {
    let Some(pg) = postgres_or_skip("a_token_replayed_to_another_replica_is_refused_through_postgresql") else {
        return;
    };
    crate::auth::replay_across_replicas(Some(pg.url.clone())).await;
}

#[tokio::test]
async fn feedback_in_postgresql_survives_a_sigkill_of_the_service() {
    let Some(pg) = postgres_or_skip("feedback_in_postgresql_survives_a_sigkill_of_the_service") else { return };
    let data = tempfile::tempdir().unwrap();
    let knowledge = root().join("cds-services");
    let args = [
        "--bind",
        "127.0.0.1:0",
        "--data-dir",
        data.path().to_str().unwrap(),
        "--knowledge",
        knowledge.to_str().unwrap(),
        "--database-url",
        &pg.url,
    ];
    let mut served = ServedProcess::start(&args, &[]);
    let client = crate::support::http_client();
    let feedback_url = served.url(&format!("/cds-services/{SELECT}/feedback"));
    for i in 0..10 {
        let card = format!("00000000-0000-8000-8000-{i:012}");
        assert_eq!(post_json_to(&client, &feedback_url, feedback("accepted", &card).to_string()).await, 200);
    }
    served.child.kill().unwrap();
    let _ = served.wait(Duration::from_secs(5));
    drop(served);
    let served = ServedProcess::start(&args, &[]);
    let summary: serde_json::Value =
        client.get(served.url("/feedback/summary")).send().await.unwrap().json().await.unwrap();
    let rows: i64 = summary["feedback"].as_array().unwrap().iter().map(|r| r["count"].as_i64().unwrap()).sum();
    assert_eq!(rows, 10, "{summary}");
}

#[tokio::test]
async fn a_matrix_page_made_by_one_replica_is_served_by_another_through_postgresql() {
    use advanced_therapy_cds::config::MatrixSettings;
    let Some(pg) = postgres_or_skip("a_matrix_page_made_by_one_replica_is_served_by_another_through_postgresql") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let s = Settings {
        database_url: Some(pg.url.clone()),
        matrix: MatrixSettings { enabled: true, ttl: std::time::Duration::from_secs(2) },
        ..settings(dir.path())
    };
    let (one, other) = (TestApp::start_with(s.clone()).await, TestApp::start_with(s).await);
    let (_, url) = crate::matrix::matrix_link(&one, crate::matrix::CASE, "en").await;
    let path = &url[url.find("/matrix/").unwrap()..];
    // The page reaches the database moments after the answer (written in batches): the other
    // replica serves it once it is there.
    let mut resp = other.client.get(other.url(path)).send().await.unwrap();
    for _ in 0..50 {
        if resp.status() != 404 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        resp = other.client.get(other.url(path)).send().await.unwrap();
    }
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("Atopische keratoconjunctivitis"));
    tokio::time::sleep(std::time::Duration::from_millis(2300)).await;
    assert_eq!(other.client.get(other.url(path)).send().await.unwrap().status(), 410);
}
