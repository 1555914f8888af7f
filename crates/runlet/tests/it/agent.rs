//! The embedded node agent and scheduler with genuine kubectl, and a second agent joining with
//! the server's token.

use crate::harness::{AgentProcess, BIN, Server, run_bounded, wait_until};
use std::process::Command;
use std::time::Duration;

const POD: &str = "apiVersion: v1
kind: Pod
metadata:
  name: hello
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox
    command: [\"sh\", \"-c\", \"echo hello from $(POD_NAME)\"]
    env:
    - name: POD_NAME
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    resources: {requests: {cpu: 10m, memory: 1Mi}}
";

const CRASHER: &str = "apiVersion: v1
kind: Pod
metadata:
  name: crasher
spec:
  restartPolicy: OnFailure
  containers:
  - name: c
    image: busybox
    command: [\"sh\", \"-c\", \"echo attempt; exit 1\"]
";

const INIT_FAILS: &str = "apiVersion: v1
kind: Pod
metadata:
  name: init-fails
spec:
  restartPolicy: Never
  initContainers:
  - name: i
    image: busybox
    command: [\"sh\", \"-c\", \"exit 7\"]
  containers:
  - name: c
    image: busybox
    command: [\"true\"]
";

#[test]
fn a_pod_is_scheduled_run_and_its_logs_served_to_kubectl() {
    let s = Server::start();
    s.kubectl_stdin(&["apply", "-f", "-"], POD);
    s.kubectl_ok(&[
        "wait",
        "--for=jsonpath={.status.phase}=Succeeded",
        "pod/hello",
        "--timeout=60s",
    ]);
    assert_eq!(s.kubectl_ok(&["logs", "hello"]), "hello from hello\n");
    let table = s.kubectl_ok(&["get", "pod", "hello"]);
    assert!(table.contains("Completed"), "{table}");
    // Events are written in the background by the scheduler and the agent: wait for both.
    wait_until(
        Duration::from_secs(30),
        "the Scheduled, Created and Started events",
        || {
            let describe = s.kubectl_ok(&["describe", "pod", "hello"]);
            describe.contains("Successfully assigned default/hello to")
                && describe.contains("Created container: c")
                && describe.contains("Started container c")
        },
    );
    // Event names carry the time they were made (client-go's `makeEvent`): within one second
    // kubectl keeps them in that order.
    let describe = s.kubectl_ok(&["describe", "pod", "hello"]);
    let at = |text: &str| describe.find(text).unwrap_or(usize::MAX);
    assert!(
        at("Successfully assigned") < at("Created container: c")
            && at("Created container: c") < at("Started container c"),
        "{describe}"
    );
    let nodes = s.kubectl_ok(&["get", "nodes"]);
    assert!(nodes.contains("Ready"), "{nodes}");

    s.kubectl_stdin(&["apply", "-f", "-"], CRASHER);
    wait_until(Duration::from_secs(60), "CrashLoopBackOff", || {
        s.kubectl_ok(&["get", "pod", "crasher"])
            .contains("CrashLoopBackOff")
    });
    assert_eq!(
        s.kubectl_ok(&["logs", "crasher", "--previous"]),
        "attempt\n"
    );
    // The restarted container's second `Started` is counted on the first event, as
    // upstream's event recorder does, and kubectl describe says so.
    wait_until(Duration::from_secs(30), "the counted Started event", || {
        s.kubectl_ok(&["describe", "pod", "crasher"])
            .lines()
            .any(|l| l.contains("Started") && l.contains(" (x") && l.contains(" over "))
    });
    s.kubectl_ok(&["delete", "pod", "crasher", "--timeout=60s"]);

    s.kubectl_stdin(&["apply", "-f", "-"], INIT_FAILS);
    s.kubectl_ok(&[
        "wait",
        "--for=jsonpath={.status.phase}=Failed",
        "pod/init-fails",
        "--timeout=60s",
    ]);
    let table = s.kubectl_ok(&["get", "pod", "init-fails"]);
    assert!(table.contains("Init:Error"), "{table}");
}

#[test]
fn disable_agent_leaves_pods_pending_and_a_joining_agent_runs_them() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Server::start_with(tmp.path(), &["--disable-agent"]);
    s.kubectl_stdin(&["apply", "-f", "-"], POD);
    wait_until(Duration::from_secs(30), "FailedScheduling", || {
        s.kubectl_ok(&[
            "get",
            "events",
            "--field-selector",
            "reason=FailedScheduling",
        ])
        .contains("no nodes available to schedule pods")
    });
    let mut agent = AgentProcess::start(&s, "joined", &tmp.path().join("joined"), &[]);
    wait_until(
        Duration::from_secs(60),
        "the pod succeeds on the joined node",
        || {
            s.kubectl_ok(&[
                "get",
                "pod",
                "hello",
                "-o",
                "jsonpath={.spec.nodeName}/{.status.phase}",
            ]) == "joined/Succeeded"
        },
    );
    // Its pods get their service account token too, and the address the agent joined (told
    // through the termination message: this agent serves no logs).
    s.kubectl_ok(&[
        "run",
        "caller",
        "--image=busybox",
        "--restart=Never",
        "--",
        "sh",
        "-c",
        "echo $(kubectl auth whoami -o jsonpath='{.status.userInfo.username}') $KUBERNETES_SERVICE_PORT > /dev/termination-log",
    ]);
    wait_until(Duration::from_secs(60), "the caller to finish", || {
        s.kubectl_ok(&["get", "pod", "caller", "-o", "jsonpath={.status.phase}"]) == "Succeeded"
    });
    let port = s.url.rsplit(':').next().unwrap();
    assert_eq!(
        s.kubectl_ok(&[
            "get",
            "pod",
            "caller",
            "-o",
            "jsonpath={.status.containerStatuses[0].state.terminated.message}"
        ]),
        format!("system:serviceaccount:default:default {port}\n")
    );
    // A bad token is refused.
    let mut bad = Command::new(BIN);
    bad.args([
        "agent",
        "--server",
        &s.url,
        "--token",
        "wrong",
        "--name",
        "x",
        "--data-dir",
    ])
    .arg(tmp.path().join("bad"));
    let out = run_bounded(bad, None, Duration::from_secs(30));
    assert!(!out.status.success(), "a wrong token is refused");
    // A second agent on the data directory the first one runs on is refused.
    let twin = AgentProcess::command(&s, "twin", &tmp.path().join("joined"));
    let out = run_bounded(twin, None, Duration::from_secs(30));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("is in use by another node agent"),
        "says why: {said}"
    );

    // Stopping the agent stops its pods as the kubelet's graceful node shutdown does: SIGTERM
    // (the trap runs), then the pod is Failed with upstream's reason and DisruptionTarget
    // condition, and the node is not ready.
    let marker = tmp.path().join("stopped-gracefully");
    let stopping = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: stopping\nspec:\n  restartPolicy: Never\n  terminationGracePeriodSeconds: 30\n  containers:\n  - name: c\n    image: busybox\n    command: [\"sh\", \"-c\", \"trap 'echo graceful > {}; exit 0' TERM; echo up; while true; do sleep 0.1; done\"]\n",
        marker.display()
    );
    s.kubectl_stdin(&["apply", "-f", "-"], &stopping);
    s.kubectl_ok(&[
        "wait",
        "--for=jsonpath={.status.phase}=Running",
        "pod/stopping",
        "--timeout=60s",
    ]);
    assert!(agent.stop(), "the agent stops cleanly");
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap_or_default(),
        "graceful\n",
        "the container got SIGTERM and ran its trap"
    );
    let status = s.kubectl_ok(&[
        "get",
        "pod",
        "stopping",
        "-o",
        "jsonpath={.status.phase}/{.status.reason}/{.status.message}/{.status.conditions[?(@.type==\"DisruptionTarget\")].reason}",
    ]);
    assert_eq!(
        status,
        "Failed/Terminated/Pod was terminated in response to imminent node shutdown./TerminationByKubelet"
    );
    let ready = s.kubectl_ok(&[
        "get",
        "node",
        "joined",
        "-o",
        "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}/{.status.conditions[?(@.type==\"Ready\")].message}",
    ]);
    assert_eq!(ready, "False/node is shutting down");
    assert!(s.terminate(), "the server stops cleanly");
}

const RECORDED_JOB: &str = "apiVersion: batch/v1
kind: Job
metadata:
  name: rec
spec:
  completions: 2
  parallelism: 2
  completionMode: Indexed
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: c
        image: busybox
        command: [\"sh\", \"-c\", \"[ $JOB_COMPLETION_INDEX = 0 ] && exit 0; sleep 2; exit 3\"]
";

/// Kubernetes forgets a Job's exit codes and nodes once its pods are deleted
/// (kubernetes/kubernetes#71364); runlet keeps a `runlet.dev/v1` PodRecord per pod until the
/// Job itself is deleted.
#[test]
fn pod_records_keep_exit_codes_after_pods_are_deleted_and_go_with_the_job() {
    let s = Server::start();
    s.kubectl_stdin(&["apply", "-f", "-"], RECORDED_JOB);
    s.kubectl_ok(&["wait", "--for=condition=failed", "job/rec", "--timeout=60s"]);
    let exit_codes = || {
        s.kubectl_ok(&[
            "get",
            "podrecords",
            "-l",
            "batch.kubernetes.io/job-name=rec",
            "-o",
            "jsonpath={range .items[*]}{.completionIndex}={.exitCode} {end}",
        ])
    };
    wait_until(Duration::from_secs(30), "two records", || {
        let c = exit_codes();
        c.contains("0=0") && c.contains("1=3")
    });
    let table = s.kubectl_ok(&["get", "prec"]);
    assert!(table.contains("EXIT CODE"), "{table}");
    assert!(table.contains("Failed"), "{table}");
    s.kubectl_ok(&[
        "delete",
        "pods",
        "-l",
        "batch.kubernetes.io/job-name=rec",
        "--timeout=60s",
    ]);
    let c = exit_codes();
    assert!(
        c.contains("0=0") && c.contains("1=3"),
        "records outlive pods: {c}"
    );
    s.kubectl_ok(&["delete", "job", "rec", "--timeout=60s"]);
    wait_until(
        Duration::from_secs(30),
        "records deleted with the job",
        || exit_codes().trim().is_empty(),
    );
}

const SLEEPERS: &str = "apiVersion: batch/v1
kind: Job
metadata:
  name: sleepers
spec:
  completions: 2
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers:
      - name: c
        image: busybox
        command: [\"sleep\", \"300\"]
";

/// `kubectl drain` evicts a node's pods through `pods/eviction` (its `CheckEvictionSupport`
/// looks for that entry in discovery), the node is cordoned with upstream's taint, the Job's
/// replacements wait unscheduled (their logs are empty, as upstream's), and `kubectl uncordon`
/// lets them run.
#[test]
fn kubectl_drain_evicts_the_pods_and_uncordon_lets_them_back() {
    let s = Server::start();
    let node = s.kubectl_ok(&["get", "nodes", "-o", "jsonpath={.items[0].metadata.name}"]);
    s.kubectl_stdin(&["apply", "-f", "-"], SLEEPERS);
    let running = || {
        s.kubectl_ok(&[
            "get",
            "pods",
            "-l",
            "job-name=sleepers",
            "--field-selector=status.phase=Running",
            "-o",
            "name",
        ])
    };
    wait_until(Duration::from_secs(60), "two running pods", || {
        running().lines().count() == 2
    });
    let before = running();
    // No attach to a container's own streams: kubectl says why instead of "could not find
    // the resource".
    let first = before.lines().next().unwrap_or_default().to_string();
    let attach = s.kubectl(&["attach", &first]);
    let said = String::from_utf8_lossy(&attach.stderr);
    assert!(!attach.status.success());
    assert!(
        said.contains("pods/attach is not supported by runlet"),
        "{said}"
    );
    let out = s.kubectl(&[
        "drain",
        &node,
        "--ignore-daemonsets",
        "--delete-emptydir-data",
        "--timeout=90s",
    ]);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        printed.contains("evicting pod default/sleepers-"),
        "{printed}"
    );
    assert!(
        printed.contains(&format!("node/{node} drained")),
        "{printed}"
    );
    wait_until(Duration::from_secs(30), "the unschedulable taint", || {
        s.kubectl_ok(&["get", "node", &node, "-o", "jsonpath={.spec.taints}"])
            .contains("node.kubernetes.io/unschedulable")
    });
    // The evicted pods are gone; the Job's replacements cannot be scheduled.
    for pod in before.lines() {
        let out = s.kubectl(&["get", pod]);
        assert!(!out.status.success(), "{pod} was evicted");
    }
    wait_until(Duration::from_secs(60), "pending replacements", || {
        s.kubectl_ok(&[
            "get",
            "pods",
            "-l",
            "job-name=sleepers",
            "--field-selector=status.phase=Pending",
            "-o",
            "name",
        ])
        .lines()
        .count()
            == 2
    });
    let pending = s.kubectl_ok(&[
        "get",
        "pods",
        "-l",
        "job-name=sleepers",
        "-o",
        "jsonpath={.items[0].metadata.name}",
    ]);
    assert_eq!(s.kubectl_ok(&["logs", &pending]), "", "no node yet: no log");
    // Upstream's `StreamObject` answers a log with no stream (no node) 204 No Content.
    let raw = format!("/api/v1/namespaces/default/pods/{pending}/log");
    let out = s.kubectl(&["get", "--raw", &raw, "-v=6"]);
    let trace = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && trace.contains("204 No Content"),
        "{trace}"
    );
    // The agent's node events, as the kubelet's (its status is written every 10 s).
    wait_until(Duration::from_secs(30), "the node's events", || {
        let events = s.kubectl_ok(&[
            "get",
            "events",
            "--field-selector=involvedObject.kind=Node",
            "-o",
            "jsonpath={.items[*].reason}",
        ]);
        ["Starting", "NodeReady", "NodeNotSchedulable"]
            .iter()
            .all(|r| events.contains(r))
    });
    s.kubectl_ok(&["uncordon", &node]);
    wait_until(Duration::from_secs(60), "the replacements run", || {
        running().lines().count() == 2
    });
    s.kubectl_ok(&[
        "delete",
        "job",
        "sleepers",
        "--cascade=foreground",
        "--timeout=60s",
    ]);
}

/// A pod forced out of the API (`--grace-period=0 --force`) is still stopped as the kubelet
/// stops it: its deletion's grace period of 0 falls back to the pod's own
/// (`calculateEffectiveGracePeriod`), so the container gets SIGTERM and runs its trap.
#[test]
fn a_forced_deletion_still_stops_the_container_with_sigterm() {
    let mut s = Server::start();
    let tmp = tempfile::tempdir().unwrap();
    let marker = tmp.path().join("stopped");
    let pod = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: forced\nspec:\n  restartPolicy: Never\n  terminationGracePeriodSeconds: 20\n  containers:\n  - name: c\n    image: busybox\n    command: [\"sh\", \"-c\", \"trap 'sleep 1; echo graceful > {}; exit 0' TERM; echo up; while true; do sleep 0.1; done\"]\n",
        marker.display()
    );
    s.kubectl_stdin(&["apply", "-f", "-"], &pod);
    s.kubectl_ok(&[
        "wait",
        "--for=jsonpath={.status.phase}=Running",
        "pod/forced",
        "--timeout=60s",
    ]);
    wait_until(
        Duration::from_secs(30),
        "the container to set its trap",
        || s.kubectl_ok(&["logs", "forced"]).contains("up"),
    );
    s.kubectl_ok(&["delete", "pod", "forced", "--grace-period=0", "--force"]);
    // The trap takes a second, more than an immediate SIGKILL would have let it have.
    wait_until(Duration::from_secs(30), "the trap to run", || {
        std::fs::read_to_string(&marker).unwrap_or_default() == "graceful\n"
    });
    assert!(s.terminate(), "the server stops cleanly");
}

/// Each container's `oom_score_adj` is the kubelet's for its pod's QoS class: the kernel kills
/// BestEffort containers first and Guaranteed ones last when memory runs out.
#[test]
fn containers_get_the_kubelet_s_oom_score_adj_for_their_qos_class() {
    let mut s = Server::start();
    let pod = |name: &str, resources: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  restartPolicy: Never\n  containers:\n  - name: c\n    image: busybox\n    command: [cat, /proc/self/oom_score_adj]\n    resources: {resources}\n"
        )
    };
    s.kubectl_stdin(&["apply", "-f", "-"], &pod("besteffort", "{}"));
    s.kubectl_stdin(
        &["apply", "-f", "-"],
        &pod("burstable", "{requests: {cpu: 10m}}"),
    );
    s.kubectl_stdin(
        &["apply", "-f", "-"],
        &pod(
            "guaranteed",
            "{limits: {cpu: 100m, memory: 64Mi}, requests: {cpu: 100m, memory: 64Mi}}",
        ),
    );
    for name in ["besteffort", "burstable", "guaranteed"] {
        s.kubectl_ok(&[
            "wait",
            "--for=jsonpath={.status.phase}=Succeeded",
            &format!("pod/{name}"),
            "--timeout=60s",
        ]);
    }
    assert_eq!(s.kubectl_ok(&["logs", "besteffort"]), "1000\n");
    assert_eq!(
        s.kubectl_ok(&["logs", "burstable"]),
        "999\n",
        "no memory request: just below BestEffort"
    );
    // A score below the parent's needs CAP_SYS_RESOURCE, which some machines withhold even
    // from root.
    let may_lower = std::process::Command::new("sh")
        .args(["-c", "echo -997 > /proc/self/oom_score_adj"])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|st| st.success());
    if may_lower {
        assert_eq!(s.kubectl_ok(&["logs", "guaranteed"]), "-997\n");
    } else {
        eprintln!("skipped the Guaranteed score: this machine withholds CAP_SYS_RESOURCE");
    }
    assert!(s.terminate(), "the server stops cleanly");
}

/// An agent that stops marks its node not ready even with no pods, so nothing new is bound to
/// it while its Lease runs out.
#[test]
fn a_stopping_agent_without_pods_marks_its_node_not_ready() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Server::start_with(tmp.path(), &["--disable-agent"]);
    let mut agent = AgentProcess::start(&s, "idle", &tmp.path().join("idle"), &[]);
    // The node's Ready condition as `status/message`; `None` until the agent registered it.
    let ready = |s: &Server| {
        let out = s.kubectl(&[
            "get",
            "node",
            "idle",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}/{.status.conditions[?(@.type==\"Ready\")].message}",
        ]);
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    };
    wait_until(Duration::from_secs(60), "the node Ready", || {
        ready(&s).is_some_and(|r| r.starts_with("True/"))
    });
    assert!(agent.stop(), "the agent stops cleanly");
    assert_eq!(ready(&s).as_deref(), Some("False/node is shutting down"));
    assert!(s.terminate(), "the server stops cleanly");
}
