//! Container probes and lifecycle hooks on the embedded agent, as the kubelet runs them,
//! observed with genuine kubectl: a readiness probe decides the pod's `Ready` condition and the
//! Job's `ready` count, a failing liveness probe has the container killed and restarted,
//! `httpGet` and `tcpSocket` probes reach a server the container runs, and `postStart` and
//! `preStop` hooks run around the container's start and stop.

use crate::harness::Server;
use crate::scenarios::{Ns, Scenario, job, run_all};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

const T: Duration = Duration::from_secs(60);

fn first_pod(ns: &Ns<'_>, selector: &str) -> Option<Value> {
    ns.items("pods", selector).into_iter().next()
}

fn ready_condition(pod: &Value) -> Option<String> {
    pod["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")
        .and_then(|c| c["status"].as_str())
        .map(str::to_string)
}

/// The messages of the namespace's `Unhealthy` events, as they are (a probe's output may end
/// with a newline, or be empty).
fn unhealthy_messages(ns: &Ns<'_>) -> Vec<String> {
    let list: Value = serde_json::from_str(&ns.k(&["get", "events", "-o", "json"])).unwrap();
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["reason"] == "Unhealthy")
        .filter_map(|e| e["message"].as_str().map(str::to_string))
        .collect()
}

fn events(ns: &Ns<'_>) -> String {
    ns.k(&[
        "get",
        "events",
        "-o",
        "custom-columns=REASON:.reason,MESSAGE:.message",
    ])
}

/// An exec readiness probe keeps a running pod unready (with `Unhealthy` events) until its
/// command succeeds; then the pod is Ready and the Job counts it in `status.ready`.
fn readiness(s: &Server, dir: &Path) {
    let ns = Ns::new(s, "readiness");
    let (ready, done) = (dir.join("ready"), dir.join("done"));
    ns.create(&job(
        "waits",
        &format!("until [ -e {} ]; do sleep 0.1; done", done.display()),
        json!({}),
        json!({"containers": [{"name": "main", "image": "busybox",
            "command": ["sh", "-c", format!("until [ -e {} ]; do sleep 0.1; done", done.display())],
            "readinessProbe": {"exec": {"command": ["test", "-e", ready.display().to_string()]},
                "periodSeconds": 1}}]}),
    ));
    // The event carries the command's output as it is: none here.
    ns.wait_for(T, "a failed readiness probe", || {
        unhealthy_messages(&ns)
            .iter()
            .any(|m| m == "Readiness probe failed: ")
    });
    let pod = first_pod(&ns, "job-name=waits").unwrap();
    assert_eq!(pod["status"]["phase"], "Running");
    assert_eq!(ready_condition(&pod).as_deref(), Some("False"), "{pod}");
    assert_eq!(pod["status"]["containerStatuses"][0]["ready"], false);
    assert_eq!(pod["status"]["containerStatuses"][0]["started"], true);
    std::fs::write(&ready, "").unwrap();
    ns.wait_for(T, "the pod to be ready", || {
        first_pod(&ns, "job-name=waits")
            .and_then(|p| ready_condition(&p))
            .as_deref()
            == Some("True")
    });
    ns.wait_for(T, "the Job to count a ready pod", || {
        ns.json("job", "waits")["status"]["ready"] == 1
    });
    std::fs::write(&done, "").unwrap();
    ns.wait_job("waits", "complete", 60);
}

/// A liveness probe that fails `failureThreshold` times in a row has the container killed
/// (SIGKILL after the probe's grace period, since `sleep` ignores SIGTERM as a PID namespace's
/// first process) and restarted by the pod's restart policy.
fn liveness(s: &Server, dir: &Path) {
    let ns = Ns::new(s, "liveness");
    let alive = dir.join("alive");
    std::fs::write(&alive, "").unwrap();
    ns.create(
        &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "lively"},
            "spec": {"restartPolicy": "Always", "containers": [{"name": "c", "image": "busybox",
                "command": ["sleep", "600"],
                "livenessProbe": {"exec": {"command": ["sh", "-c",
                        format!("test -e {0} || {{ echo no {0}; exit 1; }}", alive.display())]},
                    "periodSeconds": 1, "failureThreshold": 2,
                    "terminationGracePeriodSeconds": 1}}]}})
        .to_string(),
    );
    ns.wait_for(T, "the pod to run", || {
        ns.json("pod", "lively")["status"]["phase"] == "Running"
    });
    // Healthy for a few periods: no restart.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        ns.json("pod", "lively")["status"]["containerStatuses"][0]["restartCount"],
        0
    );
    std::fs::remove_file(&alive).unwrap();
    ns.wait_for(T, "a restart after the failed liveness probe", || {
        ns.json("pod", "lively")["status"]["containerStatuses"][0]["restartCount"]
            .as_i64()
            .is_some_and(|n| n >= 1)
    });
    let pod = ns.json("pod", "lively");
    let last = &pod["status"]["containerStatuses"][0]["lastState"]["terminated"];
    assert_eq!(last["exitCode"], 137, "{pod}");
    assert_eq!(last["reason"], "Error", "{pod}");
    let failed = format!("Liveness probe failed: no {}\n", alive.display());
    let messages = unhealthy_messages(&ns);
    assert!(messages.contains(&failed), "{messages:?}");
    let ev = events(&ns);
    assert!(
        ev.contains("Container c failed liveness probe, will be restarted"),
        "{ev}"
    );
    ns.k(&["delete", "pod", "lively", "--grace-period=0", "--force"]);
}

/// `httpGet` readiness and `tcpSocket` liveness probes against an HTTP server the container
/// runs on a named port; a probe of a path the server does not have says its status code.
fn network(s: &Server) {
    let ns = Ns::new(s, "network");
    let free_port = || {
        std::net::TcpListener::bind("0.0.0.0:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let server = |name: &str, path: &str, port: u16| {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "web", "image": "python",
                "command": ["python3", "-m", "http.server", port.to_string()],
                "ports": [{"name": "http", "containerPort": port}],
                "readinessProbe": {"httpGet": {"path": path, "port": "http"}, "periodSeconds": 1},
                "livenessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 1}}]}})
        .to_string()
    };
    ns.create(&server("web", "/", free_port()));
    ns.wait_for(T, "the server pod to be ready", || {
        ready_condition(&ns.json("pod", "web")).as_deref() == Some("True")
    });
    // Forced out of the API, the first server still has its grace period on the node (it
    // ignores SIGTERM as the first process of its PID namespace), as with the kubelet: the
    // second listens elsewhere.
    ns.k(&["delete", "pod", "web", "--grace-period=0", "--force"]);
    ns.wait_for(T, "the first server to go", || {
        !ns.k(&["get", "pods", "-o", "name"]).contains("pod/web\n")
    });
    ns.create(&server("lost", "/nowhere", free_port()));
    ns.wait_for(T, "a failed HTTP probe", || {
        events(&ns).contains("Readiness probe failed: HTTP probe failed with statuscode: 404")
    });
    let pod = ns.json("pod", "lost");
    assert_eq!(ready_condition(&pod).as_deref(), Some("False"), "{pod}");
    assert_eq!(
        pod["status"]["containerStatuses"][0]["restartCount"], 0,
        "the tcpSocket liveness probe passes"
    );
    ns.k(&["delete", "pod", "lost", "--grace-period=0", "--force"]);
}

/// A sidecar with a startup probe holds back the containers after it until the probe passes,
/// as upstream starts the next container once a restartable init container has started.
fn startup(s: &Server, dir: &Path) {
    let ns = Ns::new(s, "startup");
    let started = dir.join("started");
    ns.create(&job(
        "gated",
        &format!(
            "test -e {} && echo the sidecar had started",
            started.display()
        ),
        json!({}),
        json!({"initContainers": [{"name": "side", "image": "busybox", "restartPolicy": "Always",
            "command": ["sh", "-c", format!("sleep 1; touch {}; sleep 600", started.display())],
            "startupProbe": {"exec": {"command": ["test", "-e", started.display().to_string()]},
                "periodSeconds": 1, "failureThreshold": 30}}]}),
    ));
    ns.wait_job("gated", "complete", 60);
    assert_eq!(
        ns.k(&["logs", "job/gated", "-c", "main"]),
        "the sidecar had started\n"
    );

    // Once passed, a startup probe is not run again.
    let runs = dir.join("runs");
    ns.create(
        &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "once"},
            "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "600"],
                "startupProbe": {"exec": {"command": ["sh", "-c", format!("echo run >> {}", runs.display())]},
                    "periodSeconds": 1}}]}})
        .to_string(),
    );
    ns.wait_for(T, "the container to have started", || {
        ns.json("pod", "once")["status"]["containerStatuses"][0]["started"] == true
    });
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(std::fs::read_to_string(&runs).unwrap(), "run\n");
    ns.k(&["delete", "pod", "once", "--grace-period=0", "--force"]);
}

/// Lifecycle hooks: `postStart` runs right after the start (the container waits for what it
/// makes) and holds the next container back, `preStop` before the SIGTERM of a deletion (the
/// container's TERM trap finds what it wrote), and a failing `postStart` gets the container
/// killed with a `FailedPostStartHook` event in upstream's words.
fn hooks(s: &Server, dir: &Path) {
    let ns = Ns::new(s, "hooks");
    let (made, stopping, saw) = (dir.join("made"), dir.join("stopping"), dir.join("saw"));
    ns.create(&job(
        "poststart",
        &format!(
            "until [ -e {m} ]; do sleep 0.1; done; echo the hook ran",
            m = made.display()
        ),
        json!({}),
        json!({"containers": [{"name": "main", "image": "busybox",
            "command": ["sh", "-c", format!("until [ -e {} ]; do sleep 0.1; done; echo the hook ran", made.display())],
            "lifecycle": {"postStart": {"exec": {"command": ["touch", made.display().to_string()]}}}}]}),
    ));
    ns.wait_job("poststart", "complete", 60);
    assert_eq!(ns.k(&["logs", "job/poststart"]), "the hook ran\n");

    let trap = format!(
        "trap 'test -e {stopping} && echo yes > {saw}; exit 0' TERM; while true; do sleep 0.1; done",
        stopping = stopping.display(),
        saw = saw.display()
    );
    ns.create(
        &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "stopper"},
            "spec": {"terminationGracePeriodSeconds": 20, "containers": [{"name": "c",
                "image": "busybox", "command": ["sh", "-c", trap],
                "lifecycle": {"preStop": {"exec": {"command":
                    ["sh", "-c", format!("echo bye > {}", stopping.display())]}}}}]}})
        .to_string(),
    );
    ns.wait_for(T, "the pod to run", || {
        ns.json("pod", "stopper")["status"]["phase"] == "Running"
    });
    ns.k(&["delete", "pod", "stopper", "--timeout=60s"]);
    assert_eq!(std::fs::read_to_string(&stopping).unwrap(), "bye\n");
    assert_eq!(
        std::fs::read_to_string(&saw).unwrap(),
        "yes\n",
        "the SIGTERM came after the preStop hook"
    );

    ns.create(&job(
        "badhook",
        "sleep 600",
        json!({"backoffLimit": 0}),
        json!({"terminationGracePeriodSeconds": 1, "containers": [{"name": "main", "image": "busybox",
            "command": ["sleep", "600"],
            "lifecycle": {"postStart": {"exec": {"command": ["sh", "-c", "echo no; exit 3"]}}}}]}),
    ));
    ns.wait_job("badhook", "failed", 60);
    // Upstream's events leave the hook's output out (it may hold secrets); its log has it.
    let ev = events(&ns);
    assert!(
        ev.contains("FailedPostStartHook    PostStartHook failed"),
        "{ev}"
    );
    assert!(
        ev.contains("Killing                FailedPostStartHook"),
        "{ev}"
    );
    let log = s.log();
    assert!(
        log.contains("Exec lifecycle hook ([sh -c echo no; exit 3]) for Container \"main\" in Pod")
            && log.contains("failed - error: command 'sh -c echo no; exit 3' exited with 3: no"),
        "{log}"
    );

    // A container to be restarted after its postStart hook failed shows the hook's error
    // until its back-off does, as the kubelet's reason cache has it.
    ns.create(
        &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "hookerror"},
            "spec": {"restartPolicy": "OnFailure", "terminationGracePeriodSeconds": 1,
                "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "600"],
                    "lifecycle": {"postStart": {"exec": {"command": ["sh", "-c", "echo no; exit 3"]}}}}]}})
        .to_string(),
    );
    ns.wait_for(T, "the hook's error", || {
        ns.json("pod", "hookerror")["status"]["containerStatuses"][0]["state"]["waiting"]["reason"]
            == "PostStartHookError"
    });
    let status = &ns.json("pod", "hookerror")["status"]["containerStatuses"][0];
    let message = status["state"]["waiting"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.starts_with("Exec lifecycle hook ([sh -c echo no; exit 3]) for Container \"c\" in Pod \"hookerror_hooks("),
        "{status}"
    );
    assert_eq!(
        status["lastState"]["terminated"]["exitCode"], 137,
        "{status}"
    );
    ns.k(&["delete", "pod", "hookerror", "--grace-period=1"]);

    // A postStart hook holds the pod's next container back, and its own container shows as
    // being created (the pod Pending), until the hook is done, as the kubelet's start of
    // one container after another.
    let (hooking, gate, second) = (dir.join("hooking"), dir.join("gate"), dir.join("second"));
    ns.create(
        &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "inorder"},
            "spec": {"containers": [
                {"name": "first", "image": "busybox", "command": ["sleep", "600"],
                 "lifecycle": {"postStart": {"exec": {"command": ["sh", "-c", format!(
                     "touch {h}; until [ -e {g} ]; do sleep 0.1; done",
                     h = hooking.display(), g = gate.display())]}}}},
                {"name": "second", "image": "busybox", "command": ["sh", "-c",
                    format!("touch {}; sleep 600", second.display())]}]}})
        .to_string(),
    );
    ns.wait_for(T, "the postStart hook to run", || hooking.exists());
    std::thread::sleep(Duration::from_secs(1));
    assert!(!second.exists(), "the second container waits for the hook");
    let pod = ns.json("pod", "inorder");
    assert_eq!(pod["status"]["phase"], "Pending", "{pod}");
    assert_eq!(
        pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"], "ContainerCreating",
        "{pod}"
    );
    std::fs::write(&gate, "").unwrap();
    ns.wait_for(T, "the second container to start", || second.exists());
    ns.wait_for(T, "the pod to run", || {
        ns.json("pod", "inorder")["status"]["phase"] == "Running"
    });
    ns.k(&["delete", "pod", "inorder", "--grace-period=1"]);

    // A preStop hook that takes the whole grace period still leaves the container 2 s between
    // its SIGTERM and its SIGKILL, as the kubelet's minimum grace period does.
    let finished = dir.join("finished");
    let slow_exit = format!(
        "trap 'sleep 1; echo clean > {}; exit 0' TERM; while true; do sleep 0.1; done",
        finished.display()
    );
    ns.create(
        &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "lasthook"},
            "spec": {"terminationGracePeriodSeconds": 2, "containers": [{"name": "c",
                "image": "busybox", "command": ["sh", "-c", slow_exit],
                "lifecycle": {"preStop": {"sleep": {"seconds": 2}}}}]}})
        .to_string(),
    );
    ns.wait_for(T, "the pod to run", || {
        ns.json("pod", "lasthook")["status"]["phase"] == "Running"
    });
    ns.k(&["delete", "pod", "lasthook", "--timeout=60s"]);
    assert_eq!(
        std::fs::read_to_string(&finished).unwrap(),
        "clean\n",
        "the container had time to handle its SIGTERM"
    );
}

/// Whether a process with exactly this command line runs on the host.
fn runs(cmdline: &str) -> bool {
    let wanted: Vec<u8> = cmdline
        .split(' ')
        .flat_map(|a| [a.as_bytes(), b"\0"].concat())
        .collect();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .any(|e| std::fs::read(e.path().join("cmdline")).is_ok_and(|c| c == wanted))
}

/// An exec probe runs inside the container's namespaces, as `kubectl exec` would: its PID 1
/// is the container's main process. A probe still running when its pod goes is killed with it.
fn inside(s: &Server) {
    let ns = Ns::new(s, "inside");
    ns.create(
        &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "seen"},
            "spec": {"containers": [{"name": "c", "image": "busybox",
                "command": ["sleep", "3603"],
                "readinessProbe": {"exec": {"command": ["sh", "-c", "test `cat /proc/1/comm` = sleep"]},
                    "periodSeconds": 1}}]}})
        .to_string(),
    );
    ns.wait_for(T, "the probe to see the container's first process", || {
        ready_condition(&ns.json("pod", "seen")).as_deref() == Some("True")
    });
    ns.k(&["delete", "pod", "seen", "--grace-period=0", "--force"]);

    // A probe that runs far longer than anything else here, by a command line of its own.
    let marker = "sleep 107.25";
    ns.create(
        &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "slowprobe"},
            "spec": {"terminationGracePeriodSeconds": 1, "containers": [{"name": "c",
                "image": "busybox", "command": ["sleep", "600"],
                "readinessProbe": {"exec": {"command": marker.split(' ').collect::<Vec<_>>()},
                    "timeoutSeconds": 60, "periodSeconds": 1}}]}})
        .to_string(),
    );
    ns.wait_for(T, "the slow probe to run", || runs(marker));
    ns.k(&["delete", "pod", "slowprobe", "--timeout=60s"]);
    ns.wait_for(
        Duration::from_secs(20),
        "the slow probe to be gone with its pod",
        || !runs(marker),
    );
}

/// An exec probe of a container with limits runs in the container's cgroup, as runc's exec
/// joins it.
fn cgroup(s: &Server) {
    if let Err(why) = crate::harness::memory_cgroups() {
        eprintln!("probes in the container's cgroup skipped: {why}");
        return;
    }
    let ns = Ns::new(s, "cgroup");
    ns.create(
        &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "limited"},
            "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "600"],
                "resources": {"limits": {"memory": "64Mi"}},
                "env": [{"name": "POD_UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}}],
                "readinessProbe": {"exec": {"command":
                    ["sh", "-c", "grep -q \"$$POD_UID-c-0\" /proc/self/cgroup"]},
                    "periodSeconds": 1}}]}})
        .to_string(),
    );
    ns.wait_for(
        T,
        "the probe to find itself in the container's cgroup",
        || ready_condition(&ns.json("pod", "limited")).as_deref() == Some("True"),
    );
    ns.k(&["delete", "pod", "limited", "--grace-period=0", "--force"]);
}

/// How a deleted pod stops: sidecars after the containers they serve, in reverse order, each
/// once the one after it ended; a second delete with a shorter grace period brings the end
/// forward; what an exec probe of a `hostPID` pod left running (outside its process group)
/// goes with the pod.
fn stopping(s: &Server, dir: &Path) {
    let ns = Ns::new(s, "stopping");
    let order = dir.join("order");
    let on_term = |name: &str, pause: &str| {
        format!(
            "trap 'echo {name} >> {}; {pause} exit 0' TERM; while true; do sleep 0.1; done",
            order.display()
        )
    };
    let sidecar = |name: &str| {
        json!({"name": name, "image": "busybox", "restartPolicy": "Always",
            "command": ["sh", "-c", on_term(name, "")]})
    };
    ns.create(
        &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ordered"},
            "spec": {"terminationGracePeriodSeconds": 20,
                "initContainers": [sidecar("first"), sidecar("second")],
                "containers": [{"name": "main", "image": "busybox",
                    "command": ["sh", "-c", on_term("main", "sleep 1;")]}]}})
        .to_string(),
    );
    ns.wait_for(T, "the pod to run", || {
        ns.json("pod", "ordered")["status"]["phase"] == "Running"
    });
    ns.k(&["delete", "pod", "ordered", "--timeout=60s"]);
    assert_eq!(
        std::fs::read_to_string(&order).unwrap(),
        "main\nsecond\nfirst\n"
    );

    ns.create(
        &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "stubborn"},
            "spec": {"terminationGracePeriodSeconds": 60, "containers": [{"name": "c",
                "image": "busybox", "command": ["sleep", "600"]}]}})
        .to_string(),
    );
    ns.wait_for(T, "the pod to run", || {
        ns.json("pod", "stubborn")["status"]["phase"] == "Running"
    });
    ns.k(&["delete", "pod", "stubborn", "--wait=false"]);
    let shortened = std::time::Instant::now();
    ns.k(&[
        "delete",
        "pod",
        "stubborn",
        "--grace-period=2",
        "--wait=false",
    ]);
    ns.wait_for(T, "the pod to go at its shortened grace period", || {
        !ns.k(&["get", "pods", "-o", "name"])
            .contains("pod/stubborn")
    });
    assert!(
        shortened.elapsed() < Duration::from_secs(20),
        "{:?}",
        shortened.elapsed()
    );

    let marker = "sleep 107.75";
    ns.create(
        &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "hostpid"},
            "spec": {"hostPID": true, "terminationGracePeriodSeconds": 1, "containers": [{
                "name": "c", "image": "busybox", "command": ["sleep", "600"],
                "readinessProbe": {"exec": {"command": ["sh", "-c",
                    format!("setsid {marker} > /dev/null 2>&1 < /dev/null &")]},
                    "periodSeconds": 1}}]}})
        .to_string(),
    );
    ns.wait_for(T, "the probe's leftover to run", || runs(marker));
    ns.k(&["delete", "pod", "hostpid", "--timeout=60s"]);
    ns.wait_for(
        Duration::from_secs(20),
        "the leftover to go with the pod",
        || !runs(marker),
    );
}

#[test]
fn probes_and_lifecycle_hooks_run_as_the_kubelet_runs_them() {
    let s = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let [a, b, c, d, e] = ["a", "b", "c", "d", "e"].map(|d| dir.path().join(d));
    for d in [&a, &b, &c, &d, &e] {
        std::fs::create_dir_all(d).unwrap();
    }
    let scenarios: Vec<Scenario<'_>> = vec![
        ("readiness", Box::new(|| readiness(&s, &a))),
        ("liveness", Box::new(|| liveness(&s, &b))),
        ("network", Box::new(|| network(&s))),
        ("startup", Box::new(|| startup(&s, &c))),
        ("hooks", Box::new(|| hooks(&s, &d))),
        ("inside", Box::new(|| inside(&s))),
        ("cgroup", Box::new(|| cgroup(&s))),
        ("stopping", Box::new(|| stopping(&s, &e))),
    ];
    run_all(&s, scenarios);
}
