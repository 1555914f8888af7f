//! Logs that outlive their pods (through the Job's PodRecords, until the Job is deleted) and
//! logs of pods on an agent that joined from elsewhere (proxied by the server over HTTPS), read
//! with genuine kubectl and runlet's own `logs`.

use crate::cli::ok as runlet_ok;
use crate::harness::{AgentProcess, Server, collect_stdout, run_bounded, wait_until};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const INDEXED_JOB: &str = "apiVersion: batch/v1
kind: Job
metadata:
  name: kept
spec:
  completions: 2
  parallelism: 2
  completionMode: Indexed
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: c
        image: busybox
        command: [\"sh\", \"-c\", \"echo out $JOB_COMPLETION_INDEX\"]
";

/// `name uid` of every record of Job `job`.
fn records(s: &Server, job: &str) -> Vec<(String, String)> {
    let out = s.kubectl_ok(&[
        "get",
        "podrecords",
        "-l",
        &format!("batch.kubernetes.io/job-name={job}"),
        "-o",
        "jsonpath={range .items[*]}{.metadata.name} {.podUID}{\"\\n\"}{end}",
    ]);
    let mut v: Vec<(String, String)> = out
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(n, u)| (n.to_string(), u.to_string()))
        .collect();
    v.sort();
    v
}

/// The agent's log file of the first attempt of one pod's container `c`.
fn log_file(agent_dir: &Path, pod: &str, uid: &str) -> PathBuf {
    agent_dir.join(format!("logs/default_{pod}_{uid}_c.0.log"))
}

#[test]
fn job_logs_stay_readable_through_pod_records_until_the_job_is_deleted() {
    let s = Server::start();
    s.kubectl_stdin(&["apply", "-f", "-"], INDEXED_JOB);
    s.kubectl_ok(&[
        "wait",
        "--for=condition=complete",
        "job/kept",
        "--timeout=60s",
    ]);
    wait_until(Duration::from_secs(30), "two records", || {
        records(&s, "kept").len() == 2
    });
    let recs = records(&s, "kept");
    s.kubectl_ok(&[
        "delete",
        "pods",
        "-l",
        "batch.kubernetes.io/job-name=kept",
        "--timeout=60s",
    ]);
    let agent_dir = s.data_dir.join("agent");
    for (name, uid) in &recs {
        let log = s.kubectl_ok(&[
            "get",
            "--raw",
            &format!("/apis/runlet.dev/v1/namespaces/default/podrecords/{name}/log"),
        ]);
        assert!(log == "out 0\n" || log == "out 1\n", "{name}: {log:?}");
        // The same options as pods/log.
        let stamped = s.kubectl_ok(&[
            "get",
            "--raw",
            &format!(
                "/apis/runlet.dev/v1/namespaces/default/podrecords/{name}/log?container=c&timestamps=true&tailLines=1"
            ),
        ]);
        assert!(
            stamped.ends_with(&log) && stamped.len() > log.len(),
            "{stamped:?}"
        );
        assert!(log_file(&agent_dir, name, uid).is_file());
    }
    let bad = s.kubectl(&[
        "get",
        "--raw",
        &format!(
            "/apis/runlet.dev/v1/namespaces/default/podrecords/{}/log?container=nope",
            recs[0].0
        ),
    ]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("container nope is not valid for pod"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );

    // runlet logs falls back to the records of the deleted pods.
    let all = runlet_ok(&s, &["logs", "job/kept"]);
    assert!(all.contains(" #0] out 0\n"), "{all}");
    assert!(all.contains(" #1] out 1\n"), "{all}");

    // The schema: kubectl explain, and strict validation of a record.
    let explain = s.kubectl_ok(&["explain", "podrecords"]);
    assert!(
        explain.contains("KIND:") && explain.contains("PodRecord"),
        "{explain}"
    );
    assert!(explain.contains("podUID"), "{explain}");
    let field = s.kubectl_ok(&["explain", "podrecords.exitCode"]);
    assert!(field.contains("<integer>"), "{field}");
    let yaml = s.kubectl_ok(&["get", "podrecord", &recs[0].0, "-o", "yaml"]);
    s.kubectl_stdin(
        &["apply", "--dry-run=server", "--validate=strict", "-f", "-"],
        &yaml,
    );
    let bogus = format!("{yaml}bogus: 1\n");
    let out = s.kubectl_with(
        &["apply", "--dry-run=server", "--validate=strict", "-f", "-"],
        Some(&bogus),
        &[],
    );
    assert!(!out.status.success(), "an unknown field is refused");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("bogus"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = s.kubectl_ok(&["get", "podrecords"]);
    for column in ["NAME", "JOB", "INDEX", "NODE", "PHASE", "EXIT CODE"] {
        assert!(table.contains(column), "{table}");
    }

    // Deleting the Job deletes its records, and the agent its log files.
    s.kubectl_ok(&["delete", "job", "kept", "--timeout=60s"]);
    wait_until(
        Duration::from_secs(60),
        "the log files removed with the job",
        || {
            recs.iter()
                .all(|(name, uid)| !log_file(&agent_dir, name, uid).exists())
        },
    );
    assert!(records(&s, "kept").is_empty());
}

const SLOW_JOB: &str = "apiVersion: batch/v1
kind: Job
metadata:
  name: far
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: c
        image: busybox
        command: [\"sh\", \"-c\", \"echo first; sleep 3; echo second\"]
";

#[test]
fn a_remote_agent_serves_its_logs_through_the_server_and_to_no_one_unauthenticated() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start_with(tmp.path(), &["--disable-agent"]);
    let ca = s.data_dir.join("tls/ca.crt");
    let agent_dir = tmp.path().join("remote");
    let mut agent = AgentProcess::start(
        &s,
        "remote",
        &agent_dir,
        &[
            "--ca-file",
            ca.to_str().unwrap(),
            "--log-bind",
            "127.0.0.1:0",
        ],
    );
    let port = || {
        s.kubectl_ok(&[
            "get",
            "node",
            "remote",
            "-o",
            "jsonpath={.status.daemonEndpoints.kubeletEndpoint.Port}",
            "--ignore-not-found",
        ])
    };
    wait_until(
        Duration::from_secs(60),
        "the agent publishes its port",
        || port().parse::<u16>().is_ok_and(|p| p > 0),
    );
    let port = port();
    let address = s.kubectl_ok(&[
        "get",
        "node",
        "remote",
        "-o",
        "jsonpath={.status.addresses[?(@.type==\"InternalIP\")].address}",
    ]);
    assert_eq!(address, "127.0.0.1");

    s.kubectl_stdin(&["apply", "-f", "-"], SLOW_JOB);
    s.kubectl_ok(&[
        "wait",
        "--for=jsonpath={.status.phase}=Running",
        "pod",
        "-l",
        "batch.kubernetes.io/job-name=far",
        "--timeout=60s",
    ]);
    // Follow while the container runs: both lines, then kubectl returns as the log ends.
    let started = Instant::now();
    let followed = s.kubectl_ok(&["logs", "-f", "job/far"]);
    assert_eq!(followed, "first\nsecond\n");
    assert!(started.elapsed() < Duration::from_secs(30));
    s.kubectl_ok(&[
        "wait",
        "--for=condition=complete",
        "job/far",
        "--timeout=60s",
    ]);
    assert_eq!(s.kubectl_ok(&["logs", "job/far"]), "first\nsecond\n");
    assert_eq!(
        s.kubectl_ok(&["logs", "job/far", "--tail=1"]),
        "second\n",
        "options reach the agent"
    );

    // Straight to the agent without a client certificate: refused.
    let pod = s.kubectl_ok(&[
        "get",
        "pod",
        "-l",
        "batch.kubernetes.io/job-name=far",
        "-o",
        "jsonpath={.items[0].metadata.name} {.items[0].metadata.uid}",
    ]);
    let (pod, uid) = pod.split_once(' ').expect("name and uid");
    let url = format!("https://127.0.0.1:{port}/containerLogs/default/{pod}/c?podUID={uid}");
    let mut curl = Command::new("curl");
    curl.args(["-sS", "-k", "--max-time", "20", &url]);
    let out = run_bounded(curl, None, Duration::from_secs(30));
    assert!(
        !out.status.success(),
        "an unauthenticated request must be refused: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("first"));
    // With a bearer token (the agent's own join token) but no certificate: refused too.
    let token = std::fs::read_to_string(s.data_dir.join("token")).unwrap();
    let mut curl = Command::new("curl");
    curl.args([
        "-sS",
        "-k",
        "--max-time",
        "20",
        "-H",
        &format!("Authorization: Bearer {}", token.trim()),
        &url,
    ]);
    let out = run_bounded(curl, None, Duration::from_secs(30));
    assert!(!out.status.success(), "a token is no client certificate");

    // After the pod is deleted, its logs come through its record from the same agent.
    s.kubectl_ok(&[
        "delete",
        "pods",
        "-l",
        "batch.kubernetes.io/job-name=far",
        "--timeout=60s",
    ]);
    wait_until(Duration::from_secs(30), "the record", || {
        !records(&s, "far").is_empty()
    });
    let (record, _) = records(&s, "far").remove(0);
    let log = s.kubectl_ok(&[
        "get",
        "--raw",
        &format!("/apis/runlet.dev/v1/namespaces/default/podrecords/{record}/log"),
    ]);
    assert_eq!(log, "first\nsecond\n");
    assert!(agent.stop(), "the agent stops cleanly");
}

/// A container's log file is rotated once it reaches `--container-log-max-size`, as the
/// kubelet's container log manager rotates it (looking every
/// `--container-log-monitor-interval-seconds`), and at most `--container-log-max-files` of its
/// files are kept: `kubectl logs -f` goes on from one file to the next and sees every line,
/// `kubectl logs` afterwards reads the current file only, as upstream's does. A container that
/// prints many times the size and exits within the interval keeps all its output.
#[test]
fn container_logs_are_rotated_and_followed_from_file_to_file() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start_with(
        tmp.path(),
        &[
            "--container-log-max-size",
            "2Ki",
            "--container-log-max-files",
            "2",
            "--container-log-monitor-interval-seconds",
            "3",
        ],
    );
    let go = tmp.path().join("go");
    let job = format!(
        "apiVersion: batch/v1
kind: Job
metadata:
  name: chatty
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: c
        image: busybox
        command: [\"sh\", \"-c\", \"echo ready; until [ -e {go} ]; do sleep 0.05; done; for i in $(seq 1 300); do echo line $i of a log that is rotated; sleep 0.05; done\"]
",
        go = go.display()
    );
    s.kubectl_stdin(&["apply", "-f", "-"], &job);
    wait_until(
        Duration::from_secs(60),
        "the container says it is ready",
        || {
            s.kubectl(&["logs", "job/chatty"])
                .stdout
                .starts_with(b"ready\n")
        },
    );
    let mut follower = Command::new("kubectl")
        .args(["logs", "-f", "job/chatty"])
        .env("KUBECONFIG", s.kubeconfig())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let followed = collect_stdout(&mut follower);
    wait_until(Duration::from_secs(30), "the follower's first line", || {
        followed.lock().unwrap().starts_with("ready\n")
    });
    std::fs::write(&go, "").unwrap();
    let expected: String = std::iter::once("ready\n".to_string())
        .chain((1..=300).map(|i| format!("line {i} of a log that is rotated\n")))
        .collect();
    wait_until(Duration::from_secs(90), "every line followed", || {
        followed.lock().unwrap().len() >= expected.len()
            || follower.try_wait().ok().flatten().is_some()
    });
    wait_until(Duration::from_secs(30), "the follower to end", || {
        follower.try_wait().ok().flatten().is_some()
    });
    let followed = followed.lock().unwrap().clone();
    assert_eq!(followed, expected, "followed across the rotations");

    s.kubectl_ok(&[
        "wait",
        "--for=condition=complete",
        "job/chatty",
        "--timeout=60s",
    ]);
    // Afterwards: the current file only, the last lines.
    let current = s.kubectl_ok(&["logs", "job/chatty"]);
    assert!(
        current.ends_with("line 300 of a log that is rotated\n") && current.lines().count() < 100,
        "{current}"
    );
    // On disk: the current file and one rotated out of it, each about the size limit (a
    // file is rotated at most every 3 s, so one can hold 3 s worth more).
    let files: Vec<(String, u64)> = std::fs::read_dir(s.data_dir.join("agent/logs"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("_chatty-"))
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name, e.metadata().unwrap().len())
        })
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(
        files.iter().any(|(n, _)| n.ends_with(".0.log"))
            && files.iter().any(|(n, _)| n.contains(".0.log.")),
        "{files:?}"
    );
    assert!(files.iter().all(|(_, len)| *len < 8192), "{files:?}");

    // A burst of fifty times the size limit, then the container exits: nothing rotated away.
    let burst = crate::scenarios::job("burst", "seq 1 20000", json!({}), json!({}));
    s.kubectl_stdin(&["apply", "-f", "-"], &burst);
    s.kubectl_ok(&[
        "wait",
        "--for=condition=complete",
        "job/burst",
        "--timeout=60s",
    ]);
    let all: String = (1..=20000).map(|i| format!("{i}\n")).collect();
    assert!(
        s.kubectl_ok(&["logs", "job/burst"]) == all,
        "every line of the burst"
    );
}

const ECHOES_JOB: &str = "apiVersion: batch/v1
kind: Job
metadata:
  name: echoes
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: c
        image: busybox
        command: [\"sh\", \"-c\", \"echo out; sleep 0.2; echo err >&2; sleep 0.2; printf 'crlf\\\\r\\\\n'; printf last\"]
";

#[test]
fn log_options_streams_and_line_ends_read_as_upstream() {
    let s = Server::start();
    s.kubectl_stdin(&["apply", "-f", "-"], ECHOES_JOB);
    s.kubectl_ok(&[
        "wait",
        "--for=condition=complete",
        "job/echoes",
        "--timeout=60s",
    ]);
    let pod = s.kubectl_ok(&[
        "get",
        "pods",
        "-l",
        "job-name=echoes",
        "-o",
        "jsonpath={.items[0].metadata.name}",
    ]);
    let raw = |query: &str| format!("/api/v1/namespaces/default/pods/{pod}/log{query}");

    // `\r\n` ends a line as `\n` does; a last line without a newline is read back without one.
    let all = s.kubectl_ok(&["logs", "job/echoes"]);
    assert_eq!(all, "out\nerr\ncrlf\nlast");
    let stderr = s.kubectl_ok(&["get", "--raw", &raw("?stream=Stderr")]);
    assert_eq!(stderr, "err\n");
    let stdout = s.kubectl_ok(&["get", "--raw", &raw("?stream=Stdout")]);
    assert_eq!(stdout, "out\ncrlf\nlast");
    // Booleans as upstream reads them: anything but `0` and `false` is true.
    let stamped = s.kubectl_ok(&["get", "--raw", &raw("?timestamps=yes&follow=True")]);
    assert!(
        stamped.starts_with("20") && stamped.ends_with(" last"),
        "{stamped:?}"
    );

    // Every refused option at once, as upstream's 422 for PodLogOptions, checked before the
    // pod is looked up.
    for path in [
        raw("?tailLines=-1&limitBytes=0"),
        "/api/v1/namespaces/default/pods/nope/log?tailLines=-1&limitBytes=0".to_string(),
    ] {
        let out = s.kubectl(&["get", "--raw", &path]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{path}");
        assert!(err.contains("PodLogOptions"), "{path}: {err}");
        assert!(
            err.contains("tailLines: Invalid value: -1: must be greater than or equal to 0"),
            "{path}: {err}"
        );
        assert!(
            err.contains("limitBytes: Invalid value: 0: must be greater than 0"),
            "{path}: {err}"
        );
    }
    // A pod bound to a node that does not exist: the node is not found, as upstream's.
    s.kubectl_stdin(
        &["apply", "-f", "-"],
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: nowhere\nspec:\n  nodeName: ghost\n  containers:\n  - name: c\n    image: busybox\n",
    );
    let out = s.kubectl(&["logs", "nowhere"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nodes \"ghost\" not found"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = s.kubectl(&["get", "--raw", &raw("?stream=Stderr&tailLines=1")]);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("`tailLines` and specific `stream` are mutually exclusive for now"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
