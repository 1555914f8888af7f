//! Jobs end to end: the real `runlet server` runs them on its embedded agent, and genuine
//! kubectl (and the official Python client) drive and observe them as users would. Scenarios
//! follow upstream's documented Job behaviour (kubernetes.io "Jobs" concept page and
//! `pkg/controller/job`); each runs in its own namespace, side by side with the others.

use crate::harness::{Server, run_bounded};
use crate::scenarios::{Ns, Scenario, job, run_all};
use serde_json::{Value, json};
use std::process::Command;
use std::time::Duration;

const T: Duration = Duration::from_secs(60);

fn pods_of<'a>(ns: &Ns<'a>, job: &str) -> Vec<Value> {
    ns.items("pods", &format!("job-name={job}"))
}

fn condition(job: &Value, kind: &str) -> Option<Value> {
    job["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind && c["status"] == "True")
        .cloned()
}

/// A simple Job completes; `kubectl logs job/NAME` shows its output and `kubectl describe`
/// lists the controller's events (upstream: `SuccessfulCreate`, `Completed`).
fn simple(s: &Server) {
    let ns = Ns::new(s, "simple");
    ns.create(&job(
        "hello",
        "echo 'Hello from runlet'; echo second line",
        json!({}),
        json!({}),
    ));
    ns.wait_job("hello", "complete", 60);
    assert_eq!(
        ns.k(&["logs", "job/hello"]),
        "Hello from runlet\nsecond line\n"
    );
    let get = ns.k(&["get", "jobs"]);
    assert!(get.contains("hello") && get.contains("1/1"), "{get}");
    let pods = ns.k(&["get", "pods", "-l", "job-name=hello"]);
    assert!(pods.contains("Completed"), "{pods}");
    // Events are written asynchronously after the status: wait for both.
    ns.wait_for(T, "the Completed event in describe", || {
        let d = ns.k(&["describe", "job", "hello"]);
        d.contains("SuccessfulCreate")
            && d.contains("Created pod: hello-")
            && d.contains("Job completed")
    });
    let describe = ns.k(&["describe", "job", "hello"]);
    assert!(
        describe.contains("Pods Statuses:    0 Active (0 Ready) / 1 Succeeded / 0 Failed"),
        "{describe}"
    );
}

/// `restartPolicy: Never`, exit 1, `backoffLimit: 1`: two failed pods, then the Job fails
/// with reason `BackoffLimitExceeded`.
fn backoff_limit(s: &Server) {
    let ns = Ns::new(s, "backoff");
    ns.create(&job(
        "doomed",
        "echo failing; exit 1",
        json!({"backoffLimit": 1}),
        json!({}),
    ));
    ns.wait_job("doomed", "failed", 60);
    let j = ns.json("job", "doomed");
    let failed = condition(&j, "Failed").unwrap();
    assert_eq!(failed["reason"], "BackoffLimitExceeded", "{j}");
    assert_eq!(j["status"]["failed"], 2, "{j}");
    let pods = pods_of(&ns, "doomed");
    assert_eq!(pods.len(), 2);
    for p in &pods {
        assert_eq!(p["status"]["phase"], "Failed");
        assert_eq!(
            p["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"],
            1
        );
    }
}

/// `restartPolicy: OnFailure` restarts the container in place (same pod, restartCount 1);
/// `kubectl logs --previous` shows the failed attempt.
fn on_failure_restarts(s: &Server) {
    let ns = Ns::new(s, "onfailure");
    // The working directory is the pod's, kept across restarts of its containers.
    ns.create(&job(
        "retry",
        "n=$(cat attempts 2>/dev/null || echo 0); n=$((n+1)); echo $n > attempts; echo attempt $n; [ $n -ge 2 ]",
        json!({}),
        json!({"restartPolicy": "OnFailure"}),
    ));
    ns.wait_job("retry", "complete", 60);
    let pods = pods_of(&ns, "retry");
    assert_eq!(pods.len(), 1, "restarted in place, not replaced");
    let pod = pods[0]["metadata"]["name"].as_str().unwrap();
    let cs = &pods[0]["status"]["containerStatuses"][0];
    assert_eq!(cs["restartCount"], 1, "{cs}");
    assert_eq!(cs["lastState"]["terminated"]["exitCode"], 1, "{cs}");
    assert_eq!(ns.k(&["logs", pod]), "attempt 2\n");
    assert_eq!(ns.k(&["logs", pod, "--previous"]), "attempt 1\n");
}

/// A crash-looping `OnFailure` Job fails at its backoff limit and its pod is deleted; the last
/// attempts' logs stay readable through the pod's record (`runlet logs job/NAME`), though the
/// first attempt's file went with the third attempt's start, as the kubelet keeps one dead
/// container.
fn crash_loop_logs_outlive_the_pod(s: &Server) {
    let ns = Ns::new(s, "crashloop");
    ns.create(&job(
        "crashy",
        "echo crashed once more; exit 1",
        json!({"backoffLimit": 2}),
        json!({"restartPolicy": "OnFailure"}),
    ));
    // Back-offs of 10 and 20 s between the three attempts.
    ns.wait_job("crashy", "failed", 120);
    ns.wait_for(T, "the failed Job's pod deleted", || {
        pods_of(&ns, "crashy").is_empty()
    });
    let logs = |extra: &[&str]| {
        let mut cmd = Command::new(crate::harness::BIN);
        cmd.args(["logs", "job/crashy", "-n", &ns.name, "--kubeconfig"])
            .arg(s.kubeconfig())
            .args(extra)
            .env("NO_COLOR", "1");
        let out = run_bounded(cmd, None, T);
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        assert!(out.status.success(), "{extra:?}: {stdout}\n{stderr}");
        stdout
    };
    // The last attempt may have been stopped before it printed (the Job failed as it
    // started); the one before it ran to its end.
    let last = logs(&[]);
    assert!(
        last.is_empty() || last.ends_with("] crashed once more\n"),
        "{last}"
    );
    let previous = logs(&["--previous"]);
    assert!(
        previous.starts_with("[crashy-") && previous.ends_with("] crashed once more\n"),
        "{previous}"
    );
}

/// `activeDeadlineSeconds`: the Job fails with reason `DeadlineExceeded` and its running pods
/// are terminated.
fn active_deadline(s: &Server) {
    let ns = Ns::new(s, "deadline");
    ns.create(&job(
        "slow",
        "sleep 60",
        json!({"activeDeadlineSeconds": 2, "parallelism": 2, "completions": 2}),
        json!({}),
    ));
    ns.wait_job("slow", "failed", 30);
    let j = ns.json("job", "slow");
    assert_eq!(
        condition(&j, "Failed").unwrap()["reason"],
        "DeadlineExceeded"
    );
    ns.wait_for(T, "the pods terminated", || {
        pods_of(&ns, "slow").iter().all(|p| {
            p["metadata"]["deletionTimestamp"].is_string()
                || matches!(p["status"]["phase"].as_str(), Some("Failed" | "Succeeded"))
        }) && ns.json("job", "slow")["status"]["active"]
            .as_i64()
            .unwrap_or(0)
            == 0
    });
}

/// A Job created suspended runs no pods (condition `Suspended`); resuming it runs it to
/// completion. Suspending a running Job terminates its pods.
fn suspend_resume(s: &Server) {
    let ns = Ns::new(s, "suspend");
    ns.create(&job(
        "later",
        "echo ran",
        json!({"suspend": true, "completions": 2, "parallelism": 2}),
        json!({}),
    ));
    ns.wait_for(T, "the Suspended condition", || {
        condition(&ns.json("job", "later"), "Suspended").is_some()
    });
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        pods_of(&ns, "later").is_empty(),
        "a suspended Job starts no pods"
    );
    ns.k(&[
        "patch",
        "job",
        "later",
        "--type=merge",
        "-p",
        r#"{"spec":{"suspend":false}}"#,
    ]);
    ns.wait_job("later", "complete", 60);
    assert_eq!(ns.json("job", "later")["status"]["succeeded"], 2);

    ns.create(&job(
        "running",
        "sleep 60",
        json!({"parallelism": 2, "completions": 2}),
        json!({}),
    ));
    ns.wait_for(T, "two active pods", || {
        ns.json("job", "running")["status"]["active"] == 2
    });
    ns.k(&[
        "patch",
        "job",
        "running",
        "--type=merge",
        "-p",
        r#"{"spec":{"suspend":true}}"#,
    ]);
    ns.wait_for(T, "the running pods to be terminated", || {
        let j = ns.json("job", "running");
        condition(&j, "Suspended").is_some()
            && j["status"]["active"].as_i64().unwrap_or(0) == 0
            && pods_of(&ns, "running").is_empty()
    });
    ns.k(&["delete", "job", "running"]);
}

/// `kubectl delete job` cascades in the background (pods deleted); `--cascade=orphan`
/// leaves the pods running, without their ownerReference.
fn delete_cascade(s: &Server) {
    let ns = Ns::new(s, "cascade");
    for name in ["bg", "orphaned"] {
        ns.create(&job(
            name,
            "sleep 60",
            json!({"parallelism": 2, "completions": 2}),
            json!({}),
        ));
    }
    for name in ["bg", "orphaned"] {
        ns.wait_for(T, "two running pods", || {
            let pods = pods_of(&ns, name);
            pods.len() == 2 && pods.iter().all(|p| p["status"]["phase"] == "Running")
        });
    }
    ns.k(&["delete", "job", "bg"]);
    ns.wait_for(T, "the background cascade", || {
        pods_of(&ns, "bg").is_empty()
    });

    ns.k(&["delete", "job", "orphaned", "--cascade=orphan"]);
    ns.wait_for(T, "the orphaned pods to lose their owner", || {
        let pods = pods_of(&ns, "orphaned");
        pods.len() == 2
            && pods
                .iter()
                .all(|p| p["metadata"]["ownerReferences"].is_null())
    });
    let pods = pods_of(&ns, "orphaned");
    assert!(pods.iter().all(|p| p["status"]["phase"] == "Running"));
    ns.k(&[
        "delete",
        "pods",
        "-l",
        "job-name=orphaned",
        "--grace-period=1",
    ]);
}

/// `ttlSecondsAfterFinished`: the finished Job and its pods are deleted.
fn ttl_cleanup(s: &Server) {
    let ns = Ns::new(s, "ttl");
    ns.create(&job(
        "shortlived",
        "echo bye",
        json!({"ttlSecondsAfterFinished": 1}),
        json!({}),
    ));
    ns.wait_for(
        T,
        "the TTL controller to delete the Job and its pods",
        || !ns.try_k(&["get", "job", "shortlived"]).0 && pods_of(&ns, "shortlived").is_empty(),
    );
    // The Job's pod records, and with them its logs, go with the Job, as the issue asks
    // ("until the Job is deleted"); `crash_loop_logs_outlive_the_pod` reads a deleted pod's.
}

/// Env from a Secret (`secretKeyRef`) and a ConfigMap (`configMapKeyRef`).
fn env_refs(s: &Server) {
    let ns = Ns::new(s, "envrefs");
    ns.k(&[
        "create",
        "secret",
        "generic",
        "creds",
        "--from-literal=user=admin",
    ]);
    ns.k(&[
        "create",
        "configmap",
        "settings",
        "--from-literal=color=blue",
    ]);
    ns.create(&job(
        "env",
        "echo \"user=$DB_USER color=$COLOR\"",
        json!({}),
        json!({"containers": [{"name": "main", "image": "busybox",
            "command": ["sh", "-c", "echo \"user=$DB_USER color=$COLOR\""],
            "env": [
                {"name": "DB_USER", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "user"}}},
                {"name": "COLOR", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "color"}}},
            ]}]}),
    ));
    ns.wait_job("env", "complete", 60);
    assert_eq!(ns.k(&["logs", "job/env"]), "user=admin color=blue\n");
}

/// An emptyDir written by an init container is read by the main container.
fn empty_dir_with_init(s: &Server) {
    let ns = Ns::new(s, "emptydir");
    let mount = json!([{"name": "shared", "mountPath": "/tmp/runlet-e2e-shared"}]);
    ns.create(&job(
        "handoff",
        "",
        json!({}),
        json!({
            "volumes": [{"name": "shared", "emptyDir": {}}],
            "initContainers": [{"name": "prepare", "image": "busybox", "volumeMounts": mount,
                "command": ["sh", "-c", "echo prepared-by-init > /tmp/runlet-e2e-shared/msg"]}],
            "containers": [{"name": "main", "image": "busybox", "volumeMounts": mount,
                "command": ["sh", "-c", "cat /tmp/runlet-e2e-shared/msg"]}],
        }),
    ));
    ns.wait_job("handoff", "complete", 60);
    assert_eq!(
        ns.k(&["logs", "job/handoff", "-c", "main"]),
        "prepared-by-init\n"
    );
}

/// A sidecar (init container with `restartPolicy: Always`) runs beside the main container
/// and is stopped after it, so the Job completes (KEP-753).
fn sidecar(s: &Server) {
    let ns = Ns::new(s, "sidecar");
    ns.create(&job(
        "withsidecar",
        "",
        json!({}),
        json!({
            "initContainers": [{"name": "helper", "image": "busybox", "restartPolicy": "Always",
                "command": ["sh", "-c", "trap 'echo helper stopping; exit 0' TERM; echo helper up; while true; do sleep 0.1; done"]}],
            "containers": [{"name": "main", "image": "busybox",
                "command": ["sh", "-c", "sleep 0.5; echo main done"]}],
        }),
    ));
    ns.wait_job("withsidecar", "complete", 60);
    let pod = &pods_of(&ns, "withsidecar")[0];
    let name = pod["metadata"]["name"].as_str().unwrap();
    assert_eq!(pod["status"]["phase"], "Succeeded");
    let helper = &pod["status"]["initContainerStatuses"][0];
    assert!(helper["state"]["terminated"].is_object(), "{helper}");
    let main = &pod["status"]["containerStatuses"][0]["state"]["terminated"];
    assert!(
        helper["state"]["terminated"]["finishedAt"].as_str() >= main["finishedAt"].as_str(),
        "the sidecar stopped after the main container: {pod}"
    );
    // SIGTERM reaches the sidecar's whole process group (its `sleep` too, which makes `sh`
    // print "Terminated", before or after the trap's line): only the trap's line is asserted.
    let helper_log = ns.k(&["logs", name, "-c", "helper"]);
    assert!(
        helper_log.starts_with("helper up\n") && helper_log.contains("helper stopping\n"),
        "{helper_log}"
    );
    assert_eq!(ns.k(&["logs", name, "-c", "main"]), "main done\n");
}

/// A memory limit is enforced through cgroups; the kill is reported as `OOMKilled`.
fn oom_killed(s: &Server) {
    if let Err(why) = crate::harness::memory_cgroups() {
        eprintln!("oom_killed skipped: {why}");
        return;
    }
    let ns = Ns::new(s, "oom");
    ns.create(&job(
        "hungry",
        "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived",
        json!({"backoffLimit": 0}),
        json!({"containers": [{"name": "main", "image": "busybox",
            "command": ["sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived"],
            "resources": {"limits": {"memory": "32Mi"}}}]}),
    ));
    ns.wait_job("hungry", "failed", 60);
    let pod = &pods_of(&ns, "hungry")[0];
    let t = &pod["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(
        (t["reason"].as_str(), t["exitCode"].as_i64()),
        (Some("OOMKilled"), Some(137)),
        "{pod}"
    );
    let get = ns.k(&["get", "pods", "-l", "job-name=hungry"]);
    assert!(get.contains("OOMKilled"), "{get}");
}

#[test]
fn jobs_run_end_to_end_with_kubectl() {
    let s = Server::start();
    // The CronJob scenario waits for the next minute: it runs beside all the others.
    let scenarios: Vec<Scenario<'_>> = vec![
        ("backoff_limit", Box::new(|| backoff_limit(&s))),
        ("on_failure_restarts", Box::new(|| on_failure_restarts(&s))),
        (
            "crash_loop_logs_outlive_the_pod",
            Box::new(|| crash_loop_logs_outlive_the_pod(&s)),
        ),
        ("simple", Box::new(|| simple(&s))),
        ("active_deadline", Box::new(|| active_deadline(&s))),
        ("suspend_resume", Box::new(|| suspend_resume(&s))),
        ("delete_cascade", Box::new(|| delete_cascade(&s))),
        ("ttl_cleanup", Box::new(|| ttl_cleanup(&s))),
        ("env_refs", Box::new(|| env_refs(&s))),
        ("empty_dir_with_init", Box::new(|| empty_dir_with_init(&s))),
        ("sidecar", Box::new(|| sidecar(&s))),
        ("oom_killed", Box::new(|| oom_killed(&s))),
        (
            "cronjob_on_the_real_clock",
            Box::new(|| crate::e2e_cron::cronjob_on_the_real_clock(&s)),
        ),
    ];
    run_all(&s, scenarios);
}

/// Parallelism watched through the Python client, a work queue and an Indexed Job.
#[test]
fn python_client_sees_jobs_run() {
    let s = Server::start();
    let queue = tempfile::tempdir().unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/test_jobs_e2e.py");
    let mut cmd = Command::new("python3");
    cmd.args(["-m", "unittest", "-v", script])
        .env("KUBECONFIG", s.kubeconfig())
        .env("QUEUE_DIR", queue.path().join("q"));
    let out = run_bounded(cmd, None, Duration::from_secs(180));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.contains("OK"),
        "python e2e suite failed:\n{stderr}\nserver log:\n{}",
        s.log()
    );
}

/// A ConfigMap patched with kubectl while a Job's pod runs reaches the pod's configMap volume
/// at the agent's next sync of the pod (`--sync-frequency-seconds`, the kubelet's
/// `--sync-frequency`), as it does on a kubelet: the pod waits for the new value, then ends.
#[test]
fn a_config_map_change_reaches_a_running_job_s_volume() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start_with(tmp.path(), &["--sync-frequency-seconds", "1"]);
    let ns = Ns::new(&s, "cmupdate");
    ns.k(&["create", "configmap", "flags", "--from-literal=mode=wait"]);
    let dir = format!("/tmp/runlet-e2e-flags-{}", std::process::id());
    let script = format!(
        "cat {dir}/mode; echo; until [ \"$(cat {dir}/mode)\" = go ]; do sleep 0.1; done; echo saw go"
    );
    ns.create(&job(
        "watcher",
        "",
        json!({}),
        json!({
            "volumes": [{"name": "flags", "configMap": {"name": "flags"}}],
            "containers": [{"name": "main", "image": "busybox",
                "volumeMounts": [{"name": "flags", "mountPath": dir}],
                "command": ["sh", "-c", script]}],
        }),
    ));
    ns.wait_for(T, "the pod runs", || {
        pods_of(&ns, "watcher")
            .first()
            .is_some_and(|p| p["status"]["phase"] == "Running")
    });
    ns.k(&[
        "patch",
        "configmap",
        "flags",
        "--type=merge",
        "-p",
        r#"{"data":{"mode":"go"}}"#,
    ]);
    ns.wait_job("watcher", "complete", 60);
    assert_eq!(ns.k(&["logs", "job/watcher"]), "wait\nsaw go\n");
}
