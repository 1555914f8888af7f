//! CronJobs on the real clock with genuine kubectl (issue 6), and `runlet run` interrupted
//! with Ctrl-C.

use crate::harness::{BIN, Server};
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

/// Ctrl-C (SIGINT) during `runlet run`: the Job's pods get SIGTERM and their grace period,
/// and `runlet run` exits 130.
#[test]
fn run_interrupted_terminates_pods_gracefully_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("terminated");
    let file = dir.path().join("sleeper.yaml");
    std::fs::write(
        &file,
        format!(
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: sleeper\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      terminationGracePeriodSeconds: 10\n      containers:\n      - name: c\n        image: busybox\n        command: [\"sh\", \"-c\", \"trap 'echo graceful > {}; exit 0' TERM; echo started; while true; do sleep 0.1; done\"]\n",
            marker.display()
        ),
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .args(["run", "-f"])
        .arg(&file)
        .env("RUNLET_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    struct Kill(u32);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = Command::new("kill")
                .args(["-KILL", &self.0.to_string()])
                .status();
        }
    }
    let guard = Kill(child.id());
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let stderr = child.stderr.take().unwrap();
    let err_reader =
        std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.starts_with("[sleeper-") && line.ends_with("started") => break,
            Ok(_) => {}
            Err(_) => panic!("the pod never started"),
        }
    }
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "runlet run did not exit after SIGINT"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    // Reaped: the guard must not signal its PID, which another process may have by now.
    std::mem::forget(guard);
    let stderr = err_reader.join().unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap_or_default(),
        "graceful\n",
        "the container got SIGTERM and ran its trap"
    );
}
