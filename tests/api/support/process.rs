//! The service binary as a child process: `BIN` for one-shot commands, `ServedProcess` for a
//! server (signals, restarts, its log).

/// The service binary run as a separate process (for signals and restarts), its log collected.
pub struct ServedProcess {
    pub child: std::process::Child,
    pub port: u16,
    log: std::sync::mpsc::Receiver<String>,
    pub lines: Vec<String>,
}

/// The binary cargo built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_advanced-therapy-cds");

/// A command of the binary, with plain (uncoloured) logs.
pub fn binary() -> std::process::Command {
    let mut cmd = std::process::Command::new(BIN);
    cmd.env("NO_COLOR", "1");
    cmd
}

impl ServedProcess {
    /// `serve` with these arguments (add `--bind 127.0.0.1:0`) and environment; waits for the
    /// port in the log.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> ServedProcess {
        use std::io::BufRead;
        let mut cmd = binary();
        cmd.arg("serve").args(args).stderr(std::process::Stdio::piped());
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

    /// `serve` on a random port with the shipped knowledge, the fixtures' day and `data_dir`.
    pub fn start_for_fixtures(data_dir: &std::path::Path, env: &[(&str, &str)]) -> ServedProcess {
        let knowledge = super::root().join("cds-services");
        let as_of = super::as_of_arg();
        let args = ["--bind", "127.0.0.1:0", "--as-of", &as_of, "--knowledge", knowledge.to_str().unwrap()];
        ServedProcess::start(&[&args[..], &["--data-dir", data_dir.to_str().unwrap()]].concat(), env)
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
