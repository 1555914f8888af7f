//! CronJobs on the real clock with genuine kubectl (issue 6), and `runlet run` interrupted
//! with Ctrl-C.

use crate::harness::{BIN, Server, wait_until};
use crate::scenarios::Ns;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A `*/1 * * * *` CronJob runs a Job within 70 s (named `<cronjob>-<minutes since epoch>`,
/// owned by the CronJob); `kubectl get cronjobs` shows upstream's columns;
/// `kubectl create job --from=cronjob/...` runs one now, annotated as a manual run.
pub fn cronjob_on_the_real_clock(s: &Server) {
    let ns = Ns::new(s, "cron");
    ns.create(
        "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: every-minute\nspec:\n  schedule: \"*/1 * * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers:\n          - name: tick\n            image: busybox\n            command: [\"sh\", \"-c\", \"echo tick\"]\n",
    );
    let table = ns.k(&["get", "cronjobs"]);
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or_default()
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        header,
        [
            "NAME",
            "SCHEDULE",
            "TIMEZONE",
            "SUSPEND",
            "ACTIVE",
            "LAST SCHEDULE",
            "AGE"
        ],
        "{table}"
    );
    let row = table.lines().nth(1).unwrap_or_default();
    assert!(
        row.starts_with("every-minute")
            && row.contains("*/1 * * * *")
            && row.contains("<none>")
            && row.contains("False"),
        "{table}"
    );

    let mut scheduled = String::new();
    ns.wait_for(Duration::from_secs(70), "a scheduled Job", || {
        let jobs = ns.items("jobs", "!nothing");
        scheduled = jobs
            .iter()
            .find(|j| j["metadata"]["ownerReferences"][0]["name"] == "every-minute")
            .and_then(|j| j["metadata"]["name"].as_str())
            .unwrap_or_default()
            .to_string();
        !scheduled.is_empty()
    });
    let minutes = scheduled.strip_prefix("every-minute-").unwrap_or_default();
    assert!(
        minutes.parse::<u64>().is_ok(),
        "named after the scheduled minute: {scheduled}"
    );
    ns.wait_job(&scheduled, "complete", 60);
    assert_eq!(ns.k(&["logs", &format!("job/{scheduled}")]), "tick\n");
    ns.wait_for(Duration::from_secs(30), "LAST SCHEDULE to be shown", || {
        // NAME, five schedule fields, TIMEZONE, SUSPEND, ACTIVE, LAST SCHEDULE, AGE.
        let row = ns.k(&["get", "cronjob", "every-minute", "--no-headers"]);
        row.split_whitespace().nth(9).is_some_and(|c| c != "<none>")
    });
    let cj = ns.json("cronjob", "every-minute");
    assert!(cj["status"]["lastScheduleTime"].is_string(), "{cj}");

    ns.k(&["create", "job", "by-hand", "--from=cronjob/every-minute"]);
    ns.wait_job("by-hand", "complete", 60);
    let manual = ns.json("job", "by-hand");
    assert_eq!(
        manual["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"], "manual",
        "{manual}"
    );
    assert_eq!(manual["metadata"]["ownerReferences"][0]["kind"], "CronJob");
    assert_eq!(ns.k(&["logs", "job/by-hand"]), "tick\n");
    ns.k(&["delete", "cronjob", "every-minute"]);
}

/// A `runlet run -f FILE` child whose stdout and stderr lines arrive on channels; killed with
/// SIGKILL if a test fails before it exited.
struct RunProcess {
    child: std::process::Child,
    stdout: std::sync::mpsc::Receiver<String>,
    stderr: std::sync::mpsc::Receiver<String>,
    /// Every stderr line received so far, for messages.
    seen_stderr: Vec<String>,
}

impl RunProcess {
    fn start(file: &std::path::Path) -> RunProcess {
        Self::start_with_tmpdir(file, &std::env::temp_dir())
    }

    /// `runlet run -f FILE` with `TMPDIR` (where its data directory goes) at `tmp`.
    fn start_with_tmpdir(file: &std::path::Path, tmp: &std::path::Path) -> RunProcess {
        Self::start_with(file, tmp, &[])
    }

    /// `runlet run -f FILE ARGS...` with `TMPDIR` at `tmp`.
    fn start_with(file: &std::path::Path, tmp: &std::path::Path, args: &[&str]) -> RunProcess {
        let mut child = Command::new(BIN)
            .env("TMPDIR", tmp)
            .args(["run", "-f"])
            .arg(file)
            .args(args)
            .env("RUNLET_LOG", "error")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = |pipe: Box<dyn std::io::Read + Send>| {
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
            rx
        };
        let stdout = lines(Box::new(child.stdout.take().unwrap()));
        let stderr = lines(Box::new(child.stderr.take().unwrap()));
        RunProcess {
            child,
            stdout,
            stderr,
            seen_stderr: Vec::new(),
        }
    }

    /// Waits for a stdout line that `matches`.
    fn wait_stdout(&self, what: &str, matches: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) if matches(&line) => return,
                Ok(_) => {}
                Err(_) => panic!("no {what} on stdout"),
            }
        }
    }

    /// Waits for a stderr line containing `text`.
    fn wait_stderr(&mut self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(text);
                    self.seen_stderr.push(line);
                    if found {
                        return;
                    }
                }
                Err(_) => panic!("no {text:?} on stderr: {:?}", self.seen_stderr),
            }
        }
    }

    fn interrupt(&self) {
        self.signal("-INT");
    }

    fn signal(&self, which: &str) {
        Command::new("kill")
            .args([which, &self.child.id().to_string()])
            .status()
            .unwrap();
    }

    /// [`Self::exit_within`], and every stdout line not read yet, to the end of the pipe.
    fn finish_within(mut self, limit: Duration) -> (Option<i32>, String, Vec<String>) {
        let (_, unused) = std::sync::mpsc::channel();
        let stdout = std::mem::replace(&mut self.stdout, unused);
        let (code, stderr) = self.exit_within(limit);
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut lines = Vec::new();
        while let Ok(line) = stdout.recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            lines.push(line);
        }
        (code, stderr, lines)
    }

    /// Waits at most `limit` for the process to exit; its exit code and all of its stderr.
    fn exit_within(mut self, limit: Duration) -> (Option<i32>, String) {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "runlet run did not exit within {limit:?}: {:?}",
                self.seen_stderr
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stderr = std::mem::take(&mut self.seen_stderr);
        stderr.extend(self.stderr.try_iter());
        (status.code(), stderr.join("\n"))
    }
}

impl Drop for RunProcess {
    fn drop(&mut self) {
        // Only a child not reaped yet: its PID is still ours.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A Job file whose container writes `trap_action` on SIGTERM, with that grace period.
fn sleeper_job(dir: &std::path::Path, grace: u32, trap_action: &str) -> std::path::PathBuf {
    let file = dir.join("sleeper.yaml");
    std::fs::write(
        &file,
        format!(
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: sleeper\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      terminationGracePeriodSeconds: {grace}\n      containers:\n      - name: c\n        image: busybox\n        command: [\"sh\", \"-c\", \"trap '{trap_action}' TERM; echo started; while true; do sleep 0.1; done\"]\n"
        ),
    )
    .unwrap();
    file
}

fn started(line: &str) -> bool {
    line.starts_with("[sleeper-") && line.ends_with("started")
}

/// Ctrl-C (SIGINT) during `runlet run`: the Job's pods get SIGTERM and their grace period,
/// and `runlet run` exits 130.
#[test]
fn run_interrupted_terminates_pods_gracefully_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("terminated");
    let file = sleeper_job(
        dir.path(),
        10,
        &format!("echo graceful > {}; exit 0", marker.display()),
    );
    let run = RunProcess::start(&file);
    run.wait_stdout("pod start", started);
    run.interrupt();
    let (code, stderr) = run.exit_within(Duration::from_secs(30));
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap_or_default(),
        "graceful\n",
        "the container got SIGTERM and ran its trap"
    );
}

/// SIGTERM (`timeout`, `kill`, a CI cancelling the run) stops it as Ctrl-C does: the pods
/// get SIGTERM, what they print as they stop is still shown, the summary says where the Job
/// got to, and `runlet run` exits 143 after removing its temporary data directory.
#[test]
fn run_stopped_by_sigterm_stops_pods_gracefully_shows_their_last_words_and_exits_143() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("terminated");
    let file = sleeper_job(
        dir.path(),
        10,
        &format!(
            "echo last-words; echo graceful > {}; exit 0",
            marker.display()
        ),
    );
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let run = RunProcess::start_with_tmpdir(&file, &tmp);
    run.wait_stdout("pod start", started);
    run.signal("-TERM");
    let (code, stderr, stdout_lines) = run.finish_within(Duration::from_secs(30));
    assert_eq!(code, Some(143), "{stderr}");
    assert!(
        stderr.contains("terminated: stopping the Jobs' pods gracefully"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap_or_default(),
        "graceful\n",
        "the container got SIGTERM and ran its trap"
    );
    let stdout = stdout_lines.join("\n");
    assert!(
        stdout_lines
            .iter()
            .any(|l| l.starts_with("[sleeper-") && l.ends_with("last-words")),
        "{stdout}"
    );
    assert!(
        stdout.contains("job.batch/sleeper: Interrupted after"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("runlet resume") && !stderr.contains("runlet resume"),
        "no advice to resume a Job whose temporary server is gone: {stdout}\n{stderr}"
    );
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "its data directory is removed: {left:?}");
}

/// A second Ctrl-C stops waiting for pods that take their grace period: `runlet run` exits
/// 130 at once, and its embedded agent kills what is left.
#[test]
fn a_second_interrupt_stops_waiting_for_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let marker = format!("ignoring-{}", std::process::id());
    let file = sleeper_job(dir.path(), 60, &format!("echo {marker}"));
    let mut run = RunProcess::start(&file);
    run.wait_stdout("pod start", started);
    run.interrupt();
    run.wait_stderr("interrupted");
    run.interrupt();
    let (code, stderr) = run.exit_within(Duration::from_secs(20));
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("interrupted again"), "{stderr}");
    let container_left = || {
        std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
            std::fs::read(e.path().join("cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&marker))
        })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while container_left() {
        assert!(
            Instant::now() < deadline,
            "the container outlived runlet run"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An interrupt stops the Jobs still running and leaves alone one that had finished: it is
/// reported as it ended, not suspended.
#[test]
fn an_interrupt_leaves_a_finished_job_alone() {
    let s = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let sleeper = std::fs::read_to_string(sleeper_job(dir.path(), 10, "exit 0")).unwrap();
    let file = dir.path().join("mix.yaml");
    std::fs::write(
        &file,
        format!(
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: quick\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: c\n        image: busybox\n        command: [\"echo\", \"quick done\"]\n---\n{sleeper}"
        ),
    )
    .unwrap();
    let kubeconfig = s.kubeconfig();
    let kubeconfig = kubeconfig.to_str().unwrap();
    let run = RunProcess::start_with(&file, &std::env::temp_dir(), &["--kubeconfig", kubeconfig]);
    run.wait_stdout("pod start", started);
    let condition = "jsonpath={.status.conditions[?(@.type==\"Complete\")].status}";
    wait_until(Duration::from_secs(60), "the quick Job complete", || {
        s.kubectl_ok(&["get", "job", "quick", "-o", condition]) == "True"
    });
    run.interrupt();
    let (code, stderr, lines) = run.finish_within(Duration::from_secs(30));
    assert_eq!(code, Some(130), "{stderr}");
    let stdout = lines.join("\n");
    assert!(
        stdout.contains("job.batch/quick: Complete in") && stdout.contains("1 succeeded, 0 failed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("job.batch/sleeper: Interrupted after"),
        "{stdout}"
    );
    let suspended =
        |job: &str| s.kubectl_ok(&["get", "job", job, "-o", "jsonpath={.spec.suspend}"]);
    assert_eq!(
        suspended("quick"),
        "false",
        "a finished Job is left as it is"
    );
    assert_eq!(suspended("sleeper"), "true");
}

/// `runlet run --kubeconfig` follows its Job through a restart of the server (a `kill -9`, then
/// the server again on the same address): it says it lost the connection, tries again, and
/// ends with the Job's outcome.
#[test]
fn run_with_a_kubeconfig_follows_its_job_through_a_server_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start_in(dir.path());
    let bind = s.url.trim_start_matches("https://").to_string();
    let file = dir.path().join("rr.yaml");
    std::fs::write(
        &file,
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: rr\nspec:\n  completions: 2\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: c\n        image: busybox\n        command: [\"sh\", \"-c\", \"echo started; sleep 2\"]\n",
    )
    .unwrap();
    let kubeconfig = s.kubeconfig();
    let mut run = RunProcess::start_with(
        &file,
        &std::env::temp_dir(),
        &["--kubeconfig", kubeconfig.to_str().unwrap()],
    );
    run.wait_stdout("pod start", |l| {
        l.starts_with("[rr-") && l.ends_with("started")
    });
    s.kill9();
    run.wait_stderr("lost the connection to the API server");
    let s = Server::start_bound(dir.path(), &bind, &[]);
    let (code, stderr, lines) = run.finish_within(Duration::from_secs(90));
    assert_eq!(code, Some(0), "{stderr}\nserver log:\n{}", s.log());
    let stdout = lines.join("\n");
    assert!(stdout.contains("job.batch/rr: Complete in"), "{stdout}");
}
