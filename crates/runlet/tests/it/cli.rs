//! runlet's own CLI (`apply`, `get`, `describe`, `logs`, `delete`, `wait`, `suspend`,
//! `resume`, `rerun`, `trigger`, `completion`) against the real server, checked against what
//! genuine kubectl shows of the same objects.

use crate::harness::{
    BIN, Server, WARNED_JOB, WARNED_JOB_WARNINGS, collect_stdout, run_bounded, wait_until,
};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// Runs `runlet ARGS --kubeconfig <server's>` without colour, bounded by 90 s.
fn runlet(s: &Server, args: &[&str]) -> Output {
    runlet_with(s, args, None)
}

fn runlet_with(s: &Server, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .arg("--kubeconfig")
        .arg(s.kubeconfig())
        .env("NO_COLOR", "1")
        .env_remove("KUBECONFIG");
    run_bounded(cmd, stdin, Duration::from_secs(90))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `runlet ARGS` that must succeed; returns stdout.
pub fn ok(s: &Server, args: &[&str]) -> String {
    let out = runlet(s, args);
    assert!(
        out.status.success(),
        "runlet {args:?} failed: {}\n{}\nserver log:\n{}",
        text(&out.stderr),
        text(&out.stdout),
        s.log()
    );
    text(&out.stdout)
}

fn write(dir: &tempfile::TempDir, name: &str, body: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, body).unwrap();
    path.display().to_string()
}

const INDEXED_JOB: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  greeting: hello
---
apiVersion: batch/v1
kind: Job
metadata:
  name: hello
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
        command: [\"sh\", \"-c\", \"echo $GREETING from $JOB_COMPLETION_INDEX\"]
        env:
        - name: GREETING
          valueFrom:
            configMapKeyRef: {name: settings, key: greeting}
";

/// Ages and durations can tick between two commands; compare tables with them blanked.
fn without_ages(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .map(|l| {
            l.split_whitespace()
                .map(|w| {
                    // Ages and durations (`5s`, `2m3s`, `1s)` in "(x4 over 1s)") differ between
                    // two calls a moment apart.
                    let core = w.trim_matches(|c: char| c == '(' || c == ')');
                    if w.starts_with("(x") && w[2..].chars().all(|c| c.is_ascii_digit()) {
                        // An event's repeat count can grow between the two calls too.
                        "(x<n>".to_string()
                    } else if is_age(core) {
                        w.replace(core, "<age>")
                    } else {
                        w.to_string()
                    }
                })
                .collect()
        })
        .collect()
}

/// `5s`, `2m3s`, `10d`: one or more number-and-unit pairs.
fn is_age(w: &str) -> bool {
    let mut saw_digit = false;
    let mut pairs = 0;
    for c in w.chars() {
        if c.is_ascii_digit() {
            saw_digit = true;
        } else if matches!(c, 's' | 'm' | 'h' | 'd' | 'y') && saw_digit {
            saw_digit = false;
            pairs += 1;
        } else {
            return false;
        }
    }
    pairs > 0 && !saw_digit
}

#[test]
fn cli_apply_wait_get_describe_logs_delete_round_trip() {
    let s = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let file = write(&dir, "hello.yaml", INDEXED_JOB);

    // apply: created, then unchanged; a changed document is configured.
    assert_eq!(
        ok(&s, &["apply", "-f", &file]),
        "configmap/settings created\njob.batch/hello created\n"
    );
    assert_eq!(
        ok(&s, &["apply", "-f", &file]),
        "configmap/settings unchanged\njob.batch/hello unchanged\n"
    );
    let changed = write(
        &dir,
        "settings.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  greeting: hello\n  extra: x\n",
    );
    assert_eq!(
        ok(&s, &["apply", "-f", &changed]),
        "configmap/settings configured\n"
    );
    // As kubectl apply's strict validation: a misspelt field is refused, not dropped.
    let typo = write(
        &dir,
        "typo.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: typo\ndataa:\n  k: v\n",
    );
    let refused = runlet(&s, &["apply", "-f", &typo]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && stderr.contains("unknown field \"dataa\""),
        "{stderr}"
    );
    assert_eq!(
        s.kubectl_ok(&[
            "get",
            "configmap",
            "settings",
            "-o",
            "jsonpath={.data.extra}"
        ]),
        "x"
    );

    // wait
    assert_eq!(
        ok(
            &s,
            &[
                "wait",
                "job/hello",
                "--for=condition=complete",
                "--timeout=90s"
            ]
        ),
        "job.batch/hello condition met\n"
    );
    // As kubectl's: a zero timeout looks once.
    assert_eq!(
        ok(
            &s,
            &[
                "wait",
                "job/hello",
                "--for=condition=complete",
                "--timeout=0"
            ]
        ),
        "job.batch/hello condition met\n"
    );
    let unmet = runlet(
        &s,
        &[
            "wait",
            "job/hello",
            "--for=condition=Suspended",
            "--timeout=0",
        ],
    );
    assert_eq!(unmet.status.code(), Some(1));
    assert_eq!(
        text(&unmet.stderr),
        "error: condition not met for jobs/hello\n"
    );

    // apply -o json of several objects: one List that parses; a document naming another
    // namespace than -n is refused, as kubectl's.
    let two = write(
        &dir,
        "two.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: one\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: two\n  namespace: kube-system\n",
    );
    let applied: serde_json::Value =
        serde_json::from_str(&ok(&s, &["apply", "-f", &two, "-o", "json"])).unwrap();
    assert_eq!(applied["kind"], "List", "{applied}");
    assert_eq!(applied["items"][1]["metadata"]["namespace"], "kube-system");
    let contradicted = runlet(&s, &["apply", "-n", "default", "-f", &two]);
    assert_eq!(contradicted.status.code(), Some(1));
    assert!(
        text(&contradicted.stderr).contains(
            "the namespace from the provided object \"kube-system\" does not match the namespace \"default\""
        ),
        "{}",
        text(&contradicted.stderr)
    );

    // get: the same table kubectl prints from the same server.
    for args in [
        &["get", "jobs"][..],
        &["get", "jobs", "-o", "wide"][..],
        &["get", "pods"][..],
        &["get", "jobs", "-A"][..],
        &["get", "job", "hello"][..],
        &["get", "nodes"][..],
        &["get", "cronjobs", "-A"][..],
        &["get", "jobs,pods"][..],
        &["get", "all"][..],
    ] {
        let mine = ok(&s, args);
        let theirs = s.kubectl_ok(args);
        assert_eq!(
            without_ages(&mine),
            without_ages(&theirs),
            "runlet {args:?}:\n{mine}\nkubectl:\n{theirs}"
        );
    }
    let empty = runlet(&s, &["get", "cronjobs"]);
    assert!(empty.status.success());
    assert_eq!(text(&empty.stdout), "");
    assert_eq!(
        text(&empty.stderr),
        "No resources found in default namespace.\n"
    );
    assert_eq!(ok(&s, &["get", "jobs", "-o", "name"]), "job.batch/hello\n");
    let json: serde_json::Value =
        serde_json::from_str(&ok(&s, &["get", "job/hello", "-o", "json"])).unwrap();
    assert_eq!(json["kind"], "Job");
    assert_eq!(json["status"]["succeeded"], 2);
    let list: serde_json::Value = serde_json::from_str(&ok(
        &s,
        &[
            "get",
            "pods",
            "-o",
            "json",
            "-l",
            "batch.kubernetes.io/job-name=hello",
        ],
    ))
    .unwrap();
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(list["items"][0]["kind"], "Pod");
    let yaml = ok(&s, &["get", "job", "hello", "-o", "yaml"]);
    assert!(yaml.contains("kind: Job"), "{yaml}");
    // Events are recorded in the background: wait for the Job's last one (Completed) so that
    // the event lists compared below are settled.
    wait_until(Duration::from_secs(30), "the Job's Completed event", || {
        s.kubectl_ok(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=hello,reason=Completed",
            "-o",
            "name",
        ])
        .lines()
        .count()
            > 0
    });
    let events = ok(&s, &["get", "events"]);
    assert!(events.contains("SuccessfulCreate"), "{events}");

    // describe: what kubectl describe prints of the same objects.
    let d = ok(&s, &["describe", "job", "hello"]);
    for want in [
        "Name:               hello\n",
        "Completion Mode:    Indexed\n",
        "Pods Statuses:      0 Active (0 Ready) / 2 Succeeded / 0 Failed\n",
        "Completed Indexes:  0,1\n",
        "GREETING:    <set to the key 'greeting' of config map 'settings'>  Optional: false\n",
    ] {
        assert!(d.contains(want), "missing {want:?} in:\n{d}");
    }
    assert!(d.contains("job-controller  Created pod: hello-0-"), "{d}");
    let pods = ok(&s, &["get", "pods", "-o", "name"]);
    let pod = pods
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("pod/")
        .to_string();
    for args in [
        &["describe", "job", "hello"][..],
        &["describe", "pod", &pod][..],
    ] {
        let mine = ok(&s, args);
        let theirs = s.kubectl_ok(args);
        assert_eq!(
            without_ages(&mine),
            without_ages(&theirs),
            "runlet {args:?}:\n{mine}\nkubectl:\n{theirs}"
        );
    }

    // logs: every pod, prefixed with its name and completion index.
    let logs = ok(&s, &["logs", "job/hello"]);
    let mut lines: Vec<&str> = logs.lines().collect();
    lines.sort();
    assert_eq!(lines.len(), 2, "{logs}");
    assert!(
        lines[0].starts_with("[hello-0-") && lines[0].ends_with(" #0] hello from 0"),
        "{logs}"
    );
    assert!(
        lines[1].starts_with("[hello-1-") && lines[1].ends_with(" #1] hello from 1"),
        "{logs}"
    );
    let one = ok(&s, &["logs", &format!("pod/{pod}")]);
    assert!(one.starts_with("hello from "), "{one}");
    let stamped = ok(&s, &["logs", &pod, "--timestamps", "--tail", "1"]);
    assert!(stamped.contains("Z hello from "), "{stamped}");
    // RFC 3339 with nine fraction digits, as the kubelet's `timeFormatOut`, below the
    // millisecond (a millisecond clock would leave six zeros).
    let stamp = stamped.split(' ').next().unwrap_or_default();
    assert_eq!(
        stamp.len(),
        "2026-01-01T00:00:00.123456789Z".len(),
        "{stamped}"
    );
    assert!(!stamp.ends_with("000000Z"), "{stamped}");

    // invalid input reads like kubectl's.
    let bad = write(
        &dir,
        "bad.yaml",
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: bad\nspec:\n  completions: -1\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: c\n        image: busybox\n",
    );
    let out = runlet(&s, &["apply", "-f", &bad]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(
            "The Job \"bad\" is invalid: spec.completions: Invalid value: -1: must be greater than or equal to 0"
        ),
        "{}",
        text(&out.stderr)
    );

    // get, describe and delete go on past a name that is missing, and exit 1, as kubectl's.
    let some = runlet(&s, &["get", "jobs", "nosuch", "hello"]);
    assert_eq!(some.status.code(), Some(1));
    assert!(
        text(&some.stdout).contains("hello"),
        "{}",
        text(&some.stdout)
    );
    assert_eq!(
        text(&some.stderr),
        "Error from server (NotFound): jobs.batch \"nosuch\" not found\n"
    );
    // delete waits until the Job is gone; background cascade removes its pods.
    let deleted = runlet(&s, &["delete", "job", "nosuch", "hello"]);
    assert_eq!(deleted.status.code(), Some(1));
    assert_eq!(text(&deleted.stdout), "job.batch \"hello\" deleted\n");
    assert_eq!(
        text(&deleted.stderr),
        "Error from server (NotFound): jobs.batch \"nosuch\" not found\n"
    );
    wait_until(Duration::from_secs(30), "the Job's pods deleted", || {
        s.kubectl_ok(&["get", "pods", "-o", "name"])
            .trim()
            .is_empty()
    });
    let gone = runlet(&s, &["get", "job", "hello"]);
    assert_eq!(gone.status.code(), Some(1));
    assert_eq!(
        text(&gone.stderr),
        "Error from server (NotFound): jobs.batch \"hello\" not found\n"
    );
    let gone = runlet(&s, &["describe", "job", "hello"]);
    assert_eq!(gone.status.code(), Some(1));
    assert!(text(&gone.stderr).contains("(NotFound)"));
    let gone = runlet(
        &s,
        &[
            "wait",
            "job/hello",
            "--for=condition=complete",
            "--timeout=5s",
        ],
    );
    assert_eq!(gone.status.code(), Some(1));
    assert_eq!(
        text(&gone.stderr),
        "Error from server (NotFound): jobs.batch \"hello\" not found\n",
        "waiting for a condition of a missing Job, as kubectl wait"
    );
}

const CRONJOB: &str = "apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
spec:
  schedule: \"0 0 1 1 *\"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: c
            image: busybox
            command: [\"sh\", \"-c\", \"echo nightly run\"]
";

const SLOW: &str = "apiVersion: batch/v1
kind: Job
metadata:
  name: slow
spec:
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers:
      - name: c
        image: busybox
        command: [\"sh\", \"-c\", \"sleep 300\"]
";

const FAILING: &str = "apiVersion: batch/v1
kind: Job
metadata:
  name: failing
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: c
        image: busybox
        command: [\"sh\", \"-c\", \"exit 3\"]
";

#[test]
fn cli_trigger_rerun_suspend_resume_and_cascades() {
    let s = Server::start();
    let applied = runlet_with(&s, &["apply", "-f", "-"], Some(CRONJOB));
    assert!(applied.status.success(), "{}", text(&applied.stderr));

    // trigger: a manual Job owned by the CronJob, as `kubectl create job --from`.
    let created = ok(&s, &["trigger", "cronjob/nightly"]);
    let job = created
        .trim()
        .strip_prefix("job.batch/")
        .and_then(|r| r.strip_suffix(" created"))
        .unwrap_or_else(|| panic!("{created}"))
        .to_string();
    assert!(job.starts_with("nightly-manual-"), "{job}");
    let obj: serde_json::Value =
        serde_json::from_str(&s.kubectl_ok(&["get", "job", &job, "-o", "json"])).unwrap();
    assert_eq!(
        obj["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"],
        "manual"
    );
    assert_eq!(obj["metadata"]["ownerReferences"][0]["kind"], "CronJob");
    ok(
        &s,
        &[
            "wait",
            &format!("job/{job}"),
            "--for=condition=complete",
            "--timeout=90s",
        ],
    );
    assert!(ok(&s, &["logs", &format!("job/{job}")]).contains("] nightly run"));

    // rerun: a fresh Job from the template, named after the original.
    let rerun = ok(&s, &["rerun", &format!("job/{job}"), "-o", "name"]);
    let again = rerun.trim().trim_start_matches("job.batch/").to_string();
    assert!(again.starts_with(&format!("{job}-rerun-")), "{again}");
    // Several objects are waited for in turn, as kubectl's wait.
    let met = ok(
        &s,
        &[
            "wait",
            &format!("job/{job}"),
            &format!("job/{again}"),
            "--for=condition=complete",
            "--timeout=90s",
        ],
    );
    assert_eq!(
        met,
        format!("job.batch/{job} condition met\njob.batch/{again} condition met\n")
    );
    let obj: serde_json::Value =
        serde_json::from_str(&s.kubectl_ok(&["get", "job", &again, "-o", "json"])).unwrap();
    assert_eq!(
        obj["metadata"]["annotations"]["runlet.dev/rerun-of"],
        job.as_str()
    );
    assert_ne!(
        obj["spec"]["selector"],
        serde_json::from_str::<serde_json::Value>(&s.kubectl_ok(&[
            "get",
            "job",
            &job,
            "-o",
            "jsonpath={.spec.selector}"
        ]))
        .unwrap(),
        "the server generated a new selector"
    );

    // suspend / resume a CronJob and a Job.
    assert_eq!(
        ok(&s, &["suspend", "cronjob/nightly"]),
        "cronjob.batch/nightly suspended\n"
    );
    assert_eq!(
        s.kubectl_ok(&[
            "get",
            "cronjob",
            "nightly",
            "-o",
            "jsonpath={.spec.suspend}"
        ]),
        "true"
    );
    assert_eq!(
        ok(&s, &["suspend", "cronjob", "nightly"]),
        "cronjob.batch/nightly already suspended\n"
    );
    assert_eq!(
        ok(&s, &["resume", "cronjob/nightly"]),
        "cronjob.batch/nightly resumed\n"
    );
    let mine = ok(&s, &["describe", "cronjob", "nightly"]);
    let theirs = s.kubectl_ok(&["describe", "cronjob", "nightly"]);
    assert_eq!(
        without_ages(&mine),
        without_ages(&theirs),
        "runlet:\n{mine}\nkubectl:\n{theirs}"
    );
    runlet_with(&s, &["apply", "-f", "-"], Some(SLOW));
    wait_until(Duration::from_secs(60), "slow's pod running", || {
        s.kubectl_ok(&["get", "pods", "-l", "batch.kubernetes.io/job-name=slow"])
            .contains("Running")
    });
    assert_eq!(
        ok(&s, &["suspend", "job/slow"]),
        "job.batch/slow suspended\n"
    );
    assert_eq!(
        ok(
            &s,
            &[
                "wait",
                "job/slow",
                "--for=condition=suspended",
                "--timeout=60s"
            ]
        ),
        "job.batch/slow condition met\n"
    );
    assert_eq!(ok(&s, &["resume", "job/slow"]), "job.batch/slow resumed\n");
    wait_until(Duration::from_secs(60), "slow's new pod running", || {
        s.kubectl_ok(&["get", "pods", "-l", "batch.kubernetes.io/job-name=slow"])
            .contains("Running")
    });

    // delete --cascade=orphan leaves the pod behind.
    assert_eq!(
        ok(&s, &["delete", "job/slow", "--cascade=orphan"]),
        "job.batch \"slow\" deleted\n"
    );
    let left = s.kubectl_ok(&[
        "get",
        "pods",
        "-l",
        "batch.kubernetes.io/job-name=slow",
        "-o",
        "name",
    ]);
    assert!(!left.trim().is_empty(), "orphaned pod kept");
    s.kubectl_ok(&[
        "delete",
        "pods",
        "-l",
        "batch.kubernetes.io/job-name=slow",
        "--wait=false",
    ]);

    // delete --cascade=foreground deletes the Jobs first and returns when the CronJob is gone.
    assert_eq!(
        ok(
            &s,
            &["delete", "cronjob", "nightly", "--cascade=foreground"]
        ),
        "cronjob.batch \"nightly\" deleted\n"
    );
    wait_until(Duration::from_secs(30), "the CronJob's Job deleted", || {
        !s.kubectl_ok(&["get", "jobs", "-o", "name"])
            .lines()
            .any(|l| l == format!("job.batch/{job}"))
    });

    // waiting for a failed Job to complete gives up at once with the reason.
    runlet_with(&s, &["apply", "-f", "-"], Some(FAILING));
    let out = runlet(
        &s,
        &[
            "wait",
            "job/failing",
            "--for=condition=complete",
            "--timeout=90s",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("job.batch/failing failed (BackoffLimitExceeded")
            && err.contains("will never complete"),
        "{err}"
    );
    let out = runlet(
        &s,
        &[
            "wait",
            "job/failing",
            "--for=condition=suspended",
            "--timeout=1s",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "error: timed out waiting for the condition on jobs/failing\n"
    );
}

#[test]
fn cli_get_watch_and_logs_follow_see_later_changes() {
    let s = Server::start();
    let mut watch = Command::new(BIN)
        .args(["get", "jobs", "--watch", "--kubeconfig"])
        .arg(s.kubeconfig())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let seen = collect_stdout(&mut watch);
    let job = "apiVersion: batch/v1
kind: Job
metadata:
  name: steps
spec:
  completions: 2
  parallelism: 1
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: c
        image: busybox
        command: [\"sh\", \"-c\", \"echo step begins; sleep 1; echo step ends\"]
";
    runlet_with(&s, &["apply", "-f", "-"], Some(job));
    // Follow from the start: both pods (started one after the other) are printed, then it ends.
    let follow = ok(&s, &["logs", "job/steps", "-f"]);
    assert_eq!(follow.matches("step ends").count(), 2, "{follow}");
    assert_eq!(
        follow
            .lines()
            .filter_map(|l| l.split(']').next())
            .collect::<std::collections::HashSet<_>>()
            .len(),
        2,
        "two pods' prefixes: {follow}"
    );
    wait_until(
        Duration::from_secs(60),
        "the watch to show the Job complete",
        || {
            let text = seen.lock().unwrap().clone();
            text.starts_with("NAME")
                && text
                    .lines()
                    .any(|l| l.starts_with("steps") && l.contains("Complete"))
        },
    );
    let text = seen.lock().unwrap().clone();
    assert_eq!(text.matches("NAME").count(), 1, "one header: {text}");
    let _ = watch.kill();
    let _ = watch.wait();
}

#[test]
fn cli_errors_name_the_server_and_how_to_start_one() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = write(
        &dir,
        "kubeconfig",
        "apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: \"https://127.0.0.1:1\", insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: x}
contexts:
- name: x
  context: {cluster: c, user: u}
current-context: x
",
    );
    let mut cmd = Command::new(BIN);
    cmd.args(["get", "jobs", "--kubeconfig", &kubeconfig]);
    let out = run_bounded(cmd, None, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("The connection to the server 127.0.0.1:1 was refused"),
        "{err}"
    );
    assert!(err.contains("runlet server"), "{err}");

    // No kubeconfig anywhere: say where the local server's would be.
    let mut cmd = Command::new(BIN);
    cmd.args(["get", "jobs"])
        .env_remove("KUBECONFIG")
        .env_remove("RUNLET_DATA_DIR")
        .env("HOME", dir.path());
    let out = run_bounded(cmd, None, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    if !err.contains("/var/lib/runlet") {
        assert!(
            err.contains(&format!(
                "{}/.local/share/runlet/kubeconfig",
                dir.path().display()
            )),
            "{err}"
        );
    }
    assert!(err.contains("runlet server"), "{err}");

    // RUNLET_DATA_DIR, where `runlet server` and `runlet run` keep their state, is where the
    // local server's kubeconfig is looked for.
    let data = dir.path().join("data");
    let mut cmd = Command::new(BIN);
    cmd.args(["get", "jobs"])
        .env_remove("KUBECONFIG")
        .env("RUNLET_DATA_DIR", &data);
    let out = run_bounded(cmd, None, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("{}/kubeconfig", data.display())),
        "{err}"
    );

    // A kubeconfig that cannot be read: its path once, then why.
    let missing = dir.path().join("missing");
    let mut cmd = Command::new(BIN);
    cmd.args(["get", "jobs", "--kubeconfig", missing.to_str().unwrap()]);
    let out = run_bounded(cmd, None, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "error: kubeconfig {}: No such file or directory (os error 2)\n",
            missing.display()
        )
    );

    let mut cmd = Command::new(BIN);
    cmd.args(["get", "widgets", "--kubeconfig", &kubeconfig]);
    let out = run_bounded(cmd, None, Duration::from_secs(30));
    assert_eq!(
        text(&out.stderr),
        "error: the server doesn't have a resource type \"widgets\"\n"
    );
}

#[test]
fn cli_completion_scripts_for_bash_zsh_and_fish() {
    for (shell, marker) in [
        ("bash", "_runlet()"),
        ("zsh", "#compdef runlet"),
        ("fish", "complete -c runlet"),
    ] {
        let mut cmd = Command::new(BIN);
        cmd.args(["completion", shell]);
        let out = run_bounded(cmd, None, Duration::from_secs(30));
        assert!(out.status.success());
        let script = text(&out.stdout);
        assert!(script.contains(marker), "{shell}: {script}");
        for sub in ["describe", "rerun", "trigger"] {
            assert!(script.contains(sub), "{shell} completes {sub}");
        }
    }
    // Piped into a reader that goes away (`| head`), a printing command dies of SIGPIPE as
    // kubectl does, instead of panicking (exit 101) on the failed write.
    use std::os::unix::process::ExitStatusExt;
    let mut child = Command::new(BIN)
        .args(["completion", "zsh"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success() || out.status.signal() == Some(13),
        "{:?}: {}",
        out.status,
        text(&out.stderr)
    );
}

#[test]
fn kubectl_get_watch_prints_the_servers_table_rows() {
    let s = Server::start();
    s.kubectl_ok(&["create", "cm", "before", "--from-literal=a=1"]);
    let mut watch = Command::new("kubectl")
        .args(["get", "configmaps", "-w"])
        .env("KUBECONFIG", s.kubeconfig())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let seen = collect_stdout(&mut watch);
    wait_until(Duration::from_secs(30), "the initial list", || {
        seen.lock().unwrap().contains("before")
    });
    s.kubectl_ok(&[
        "create",
        "cm",
        "during",
        "--from-literal=a=1",
        "--from-literal=b=2",
    ]);
    // Only a Table row carries the DATA column: a plain object would print NAME and AGE.
    wait_until(
        Duration::from_secs(30),
        "the watched row with its DATA column",
        || {
            seen.lock()
                .unwrap()
                .lines()
                .any(|l| l.split_whitespace().take(2).eq(["during", "2"]))
        },
    );
    let _ = watch.kill();
    let _ = watch.wait();
}

/// `runlet apply` shows the server's warnings as kubectl does, and still applies.
#[test]
fn cli_apply_prints_the_server_s_warnings() {
    let s = Server::start();
    let out = runlet_with(&s, &["apply", "-f", "-"], Some(WARNED_JOB));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "job.batch/my.job created\n");
    assert_eq!(text(&out.stderr), WARNED_JOB_WARNINGS);
}
