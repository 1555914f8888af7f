//! Starting and stopping a real `runlet server` for a test.
//!
//! The server binds port 0 and prints its URL; we read it from stderr (bounded by a deadline),
//! keep draining its output into a log the test can print on failure, and kill the process by
//! PID when the handle drops, so no test leaves a server behind.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_runlet");

/// A suspended Job upstream's Job strategy warns about twice: its name is no DNS label, and it
/// defines an env var twice; [`WARNED_JOB_WARNINGS`] is what kubectl prints of them.
pub const WARNED_JOB: &str = "apiVersion: batch/v1
kind: Job
metadata:
  name: my.job
spec:
  suspend: true
  template:
    spec:
      containers:
      - name: main
        image: busybox
        command: [\"true\"]
        env:
        - {name: MODE, value: fast}
        - {name: MODE, value: slow}
      restartPolicy: Never
";
pub const WARNED_JOB_WARNINGS: &str = "Warning: metadata.name: this is used in Pod names and hostnames, which can result in surprising behavior; a DNS label is recommended: [must not contain dots]\n\
     Warning: spec.template.spec.containers[0].env[1]: hides previous definition of \"MODE\", which may be dropped when using apply\n";

/// A running server.
pub struct Server {
    child: Option<Child>,
    pub url: String,
    pub data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    log: Arc<Mutex<String>>,
}

impl Server {
    /// Starts a server with a fresh data directory.
    pub fn start() -> Server {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let mut s = Server::start_in(&dir);
        s._tmp = Some(tmp);
        s
    }

    /// Starts a server on an existing data directory (the caller keeps it alive).
    pub fn start_in(dir: &Path) -> Server {
        Server::start_in_with(dir, &[])
    }

    /// Starts a server on `dir` with extra flags.
    pub fn start_with(dir: &Path, flags: &[&str]) -> Server {
        Server::start_in_with(dir, flags)
    }

    /// Starts a server on an existing data directory with extra flags.
    pub fn start_in_with(dir: &Path, extra: &[&str]) -> Server {
        Server::start_bound(dir, "127.0.0.1:0", extra)
    }

    /// Starts a server on an existing data directory, listening on `bind`.
    pub fn start_bound(dir: &Path, bind: &str, extra: &[&str]) -> Server {
        let mut child = Command::new(BIN)
            .args(["server", "--bind", bind, "--data-dir"])
            .arg(dir)
            .args(extra)
            .env("RUNLET_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn runlet server");
        let stderr = child.stderr.take().expect("stderr piped");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("runlet server listening on ")
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(url.to_string());
                }
                sink.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "server did not start within 60s; log:\n{}",
                    log.lock().unwrap()
                );
            }
        };
        Server {
            child: Some(child),
            url,
            data_dir: dir.to_path_buf(),
            _tmp: None,
            log,
        }
    }

    /// The server's process ID, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.data_dir.join("kubeconfig")
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// `kill -9`: no chance to flush anything.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then wait (bounded) for a clean exit; returns whether it exited cleanly.
    pub fn terminate(&mut self) -> bool {
        self.child.take().is_some_and(terminate)
    }

    /// Runs genuine kubectl against this server, bounded by 60 s.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_with(args, None, &[])
    }

    /// Runs kubectl with optional stdin and extra environment.
    pub fn kubectl_with(&self, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new("kubectl");
        cmd.args(args).env("KUBECONFIG", self.kubeconfig());
        for (k, v) in env {
            cmd.env(k, v);
        }
        run_bounded(cmd, stdin, Duration::from_secs(60))
    }

    /// kubectl that must succeed; returns stdout.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}\n{}\nserver log:\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout),
            self.log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// kubectl with a YAML/JSON document on stdin that must succeed.
    pub fn kubectl_stdin(&self, args: &[&str], input: &str) -> String {
        let out = self.kubectl_with(args, Some(input), &[]);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A kube-rs client for this server.
    pub async fn client(&self) -> kube::Client {
        let kubeconfig =
            kube::config::Kubeconfig::read_from(self.kubeconfig()).expect("read kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .expect("config");
        kube::Client::try_from(config).expect("client")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// SIGTERM to `child`, then wait (bounded by 45 s, then SIGKILL); whether it exited cleanly.
pub fn terminate(mut child: Child) -> bool {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(45);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return status.success();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    false
}

/// A `runlet agent` process joining a server with its token; killed (by PID) on drop unless
/// stopped first.
pub struct AgentProcess(Option<Child>);

impl AgentProcess {
    /// The command that joins an agent for node `name`, with its data in `dir`, to `s`.
    pub fn command(s: &Server, name: &str, dir: &Path) -> Command {
        let token = std::fs::read_to_string(s.data_dir.join("token")).expect("token");
        let mut cmd = Command::new(BIN);
        cmd.args([
            "agent",
            "--server",
            &s.url,
            "--token",
            token.trim(),
            "--name",
            name,
        ])
        .arg("--data-dir")
        .arg(dir)
        .env("RUNLET_LOG", "warn");
        cmd
    }

    /// Starts an agent for node `name` with its data in `dir`, plus `extra` flags.
    pub fn start(s: &Server, name: &str, dir: &Path, extra: &[&str]) -> AgentProcess {
        let child = Self::command(s, name, dir)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn runlet agent");
        AgentProcess(Some(child))
    }

    /// SIGTERM, then wait (bounded); whether it exited cleanly.
    pub fn stop(&mut self) -> bool {
        self.0.take().is_some_and(terminate)
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs a command with a deadline, killing it if it overruns.
pub fn run_bounded(mut cmd: Command, stdin: Option<&str>, limit: Duration) -> Output {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    if let Some(input) = stdin {
        use std::io::Write;
        let mut pipe = child.stdin.take().expect("stdin");
        pipe.write_all(input.as_bytes()).expect("write stdin");
    }
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || read_all(stdout));
    let err_reader = std::thread::spawn(move || read_all(stderr));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let err = err_reader.join().unwrap_or_default();
            panic!(
                "command {cmd:?} overran {limit:?}; stderr: {}",
                String::from_utf8_lossy(&err)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
    }
}

fn read_all(mut r: impl std::io::Read) -> Vec<u8> {
    let mut buf = Vec::new();
    let _ = r.read_to_end(&mut buf);
    buf
}

/// Polls `check` every 50 ms until it returns true or `limit` passes.
pub fn wait_until(limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out after {limit:?} waiting for {what}");
}

/// Lines a child process prints, collected as they arrive.
pub fn collect_stdout(child: &mut std::process::Child) -> Arc<Mutex<String>> {
    let seen = Arc::new(Mutex::new(String::new()));
    let sink = seen.clone();
    let stdout = child.stdout.take().expect("stdout piped");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            sink.lock().unwrap().push_str(&format!("{line}\n"));
        }
    });
    seen
}

/// Whether the agent of a server started here can put containers in memory cgroups (it runs
/// as root on a host with a memory controller), or why not.
pub fn memory_cgroups() -> Result<(), String> {
    let v2 = std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers")
        .unwrap_or_default()
        .contains("memory");
    let v1 = Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists();
    let root = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
    if root && (v1 || v2) {
        Ok(())
    } else {
        Err(format!(
            "no usable memory cgroup (root: {root}, v1: {v1}, v2: {v2})"
        ))
    }
}
