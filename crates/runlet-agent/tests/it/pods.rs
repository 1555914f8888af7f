//! Pods running to completion: phases, exit codes, logs, env, init containers and volumes.

use crate::harness::{Env, cstatus, phase_of, process_with, wait_until};
use k8s_openapi::api::core::v1::{ConfigMap, Event, Secret};
use kube::api::{Api, LogParams, PostParams};
use serde_json::json;

fn sh(script: &str) -> serde_json::Value {
    json!(["sh", "-c", script])
}

#[tokio::test]
async fn pod_runs_to_succeeded_with_cri_logs_and_exit_code_zero() {
    let env = Env::start().await;
    let pod = env
        .create(
            "hello",
            json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox", "command": sh("echo hello; echo oops >&2")}]}),
        )
        .await;
    let done = env.wait_phase("hello", "Succeeded").await;
    let cs = cstatus(&done, false);
    assert_eq!(cs[0]["state"]["terminated"]["exitCode"], 0);
    assert_eq!(cs[0]["state"]["terminated"]["reason"], "Completed");
    assert_eq!(cs[0]["image"], "busybox");
    let status = serde_json::to_value(done.status.as_ref().unwrap()).unwrap();
    assert!(status["startTime"].is_string());
    assert!(status["hostIP"].is_string());
    let ready = status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap()
        .clone();
    assert_eq!(
        (ready["status"].as_str(), ready["reason"].as_str()),
        (Some("False"), Some("PodCompleted"))
    );

    // The file is in the CRI format: timestamp, stream, tag, content.
    let uid = pod.metadata.uid.unwrap();
    let file = env
        .dir
        .path()
        .join(format!("agent/logs/default_hello_{uid}_c.0.log"));
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines.contains(&"2026-01-01T00:00:00.000000000Z stdout F hello"),
        "{text}"
    );
    assert!(
        lines.contains(&"2026-01-01T00:00:00.000000000Z stderr F oops"),
        "{text}"
    );

    let logs = env.logs("hello", &LogParams::default()).await;
    assert!(
        logs == "hello\noops\n" || logs == "oops\nhello\n",
        "{logs:?}"
    );
    let ts = env
        .logs(
            "hello",
            &LogParams {
                timestamps: true,
                tail_lines: Some(1),
                ..Default::default()
            },
        )
        .await;
    assert!(ts.starts_with("2026-01-01T00:00:00.000000000Z "), "{ts:?}");
    env.stop().await;
}

#[tokio::test]
async fn exit_one_fails_the_pod_with_reason_error() {
    let env = Env::start().await;
    env.create(
        "fail",
        json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox",
            "command": sh("echo bad news; exit 1"), "terminationMessagePolicy": "FallbackToLogsOnError"}]}),
    )
    .await;
    let done = env.wait_phase("fail", "Failed").await;
    let t = cstatus(&done, false)[0]["state"]["terminated"].clone();
    assert_eq!(t["exitCode"], 1);
    assert_eq!(t["reason"], "Error");
    assert_eq!(
        t["message"], "bad news\n",
        "FallbackToLogsOnError uses the log tail"
    );
    assert_eq!(
        cstatus(&done, false)[0]["restartCount"],
        0,
        "Never does not restart"
    );
    env.stop().await;
}

#[tokio::test]
async fn the_termination_message_is_read_from_the_default_path_of_a_pod_without_volumes() {
    let env = Env::start().await;
    let marker = format!("runlet-message-{}", std::process::id());
    env.create(
        "says",
        json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox",
            "command": sh(&format!("printf {marker} > /dev/termination-log"))}]}),
    )
    .await;
    let done = env.wait_phase("says", "Succeeded").await;
    let t = cstatus(&done, false)[0]["state"]["terminated"].clone();
    let files = env.dir.path().join("agent/termination-log");
    if !crate::harness::is_root() {
        eprintln!("skipped: the default path needs a mount namespace, which needs root");
        env.stop().await;
        return;
    }
    assert_eq!(t["message"], marker.as_str(), "{t}");
    assert!(
        !std::fs::read_to_string("/dev/termination-log")
            .unwrap_or_default()
            .contains(&marker),
        "the container wrote its own file, not the host's"
    );
    assert_eq!(
        std::fs::read_dir(&files).unwrap().count(),
        0,
        "the file is unlinked once bound into the container"
    );
    env.stop().await;
}

#[tokio::test]
async fn run_as_user_and_run_as_non_root_as_the_kubelet_checks_them() {
    if !crate::harness::is_root() {
        eprintln!("skipped: runAsUser needs an agent running as root");
        return;
    }
    let env = Env::start().await;
    for (name, sc) in [
        (
            "as-nobody",
            json!({"runAsUser": 65534, "runAsGroup": 65534, "runAsNonRoot": true}),
        ),
        ("as-root", json!({"runAsNonRoot": true})),
        ("zero", json!({"runAsUser": 0, "runAsNonRoot": true})),
    ] {
        let spec = json!({"restartPolicy": "Never", "securityContext": sc,
            "containers": [{"name": "c", "image": "busybox", "command": sh("id -u; id -g")}]});
        env.create(name, spec).await;
    }
    env.wait_phase("as-nobody", "Succeeded").await;
    assert_eq!(
        env.logs("as-nobody", &LogParams::default()).await,
        "65534\n65534\n"
    );
    // Upstream's verifyRunAsNonRoot: the process runtime's "image user" is the agent's, root.
    for (name, message) in [
        (
            "as-root",
            "container has runAsNonRoot and image will run as root (pod: \"as-root_default(",
        ),
        (
            "zero",
            "container's runAsUser breaks non-root policy (pod: \"zero_default(",
        ),
    ] {
        let p = env
            .wait_pod(name, "CreateContainerConfigError", |p| {
                cstatus(p, false)[0]["state"]["waiting"]["reason"] == "CreateContainerConfigError"
            })
            .await;
        let waiting = cstatus(&p, false)[0]["state"]["waiting"].clone();
        assert!(
            waiting["message"].as_str().unwrap().starts_with(message),
            "{waiting}"
        );
        assert_eq!(phase_of(&p), "Pending");
    }
    env.stop().await;
}

#[tokio::test]
async fn a_cpu_request_is_the_container_s_cgroup_weight() {
    let v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let v1 = std::path::Path::new("/sys/fs/cgroup/cpu/cpu.shares").exists();
    if !(crate::harness::is_root() && (v1 || v2)) {
        eprintln!(
            "skipped: no usable cpu cgroup here (root: {}, v1: {v1}, v2: {v2})",
            crate::harness::is_root()
        );
        return;
    }
    let env = Env::start().await;
    // The container prints its cpu cgroup and that cgroup's weight.
    let read_weight = "if [ -f /sys/fs/cgroup/cgroup.controllers ]; then g=$(cut -d: -f3 /proc/self/cgroup); echo \"$g $(cat /sys/fs/cgroup$g/cpu.weight 2>/dev/null)\"; else g=$(grep -E ':cpu[,:]' /proc/self/cgroup | head -1 | cut -d: -f3); echo \"$g $(cat /sys/fs/cgroup/cpu$g/cpu.shares)\"; fi";
    env.create(
        "weighed",
        json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox",
            "command": sh(read_weight), "resources": {"requests": {"cpu": "200m"}}}]}),
    )
    .await;
    env.wait_phase("weighed", "Succeeded").await;
    let out = env.logs("weighed", &LogParams::default()).await;
    let (group, weight) = out
        .trim_end()
        .split_once(' ')
        .unwrap_or((out.trim_end(), ""));
    if !group.contains("/runlet/") || weight.is_empty() {
        eprintln!("skipped: the cpu controller is not available to the agent here ({out:?})");
        env.stop().await;
        return;
    }
    // The kubelet's MilliCPUToShares (200m: 204 shares), or its cpu.weight on v2 (8).
    assert_eq!(weight, if v2 { "8" } else { "204" }, "{out}");
    env.stop().await;
}

#[tokio::test]
async fn a_missing_command_is_a_start_error() {
    let env = Env::start().await;
    env.create(
        "nocmd",
        json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox", "command": ["/nonexistent/runlet-test-binary"]}]}),
    )
    .await;
    let done = env.wait_phase("nocmd", "Failed").await;
    let t = cstatus(&done, false)[0]["state"]["terminated"].clone();
    assert_eq!(
        (t["exitCode"].as_i64(), t["reason"].as_str()),
        (Some(128), Some("StartError"))
    );
    // runc's words, which `kubectl describe` shows.
    assert_eq!(
        t["message"],
        "exec: \"/nonexistent/runlet-test-binary\": stat /nonexistent/runlet-test-binary: no such file or directory"
    );
    assert_eq!(
        env.logs("nocmd", &LogParams::default()).await,
        "",
        "a container that could not start has an empty log"
    );
    env.stop().await;
}

#[tokio::test]
async fn secret_and_config_map_key_refs_become_env() {
    let env = Env::start().await;
    let secrets: Api<Secret> = Api::default_namespaced(env.api.client.clone());
    let cms: Api<ConfigMap> = Api::default_namespaced(env.api.client.clone());
    secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(
                json!({"metadata": {"name": "db"}, "stringData": {"password": "hunter2"}}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    cms.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "cfg"}, "data": {"mode": "fast"}}))
            .unwrap(),
    )
    .await
    .unwrap();
    env.create(
        "envs",
        json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox",
        "command": ["sh", "-c", "echo $PASSWORD $MODE $POD_NAME $(GREETING) \"$0\"", "$(HOSTNAME)"],
        "env": [
            {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
            {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "mode"}}},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "GREETING", "value": "hi-$(MODE)"},
        ]}]}),
    )
    .await;
    env.wait_phase("envs", "Succeeded").await;
    assert_eq!(
        env.logs("envs", &LogParams::default()).await,
        "hunter2 fast envs hi-fast $(HOSTNAME)\n",
        "only the pod's own variables expand in arguments (upstream's ExpandContainerCommandAndArgs)"
    );
    env.stop().await;
}

#[tokio::test]
async fn a_missing_secret_waits_with_create_container_config_error() {
    let env = Env::start().await;
    env.create(
        "nosecret",
        json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox", "command": sh("true"),
            "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "k"}}}]}]}),
    )
    .await;
    let p = env
        .wait_pod("nosecret", "CreateContainerConfigError", |p| {
            p.status.as_ref().is_some_and(|_| {
                cstatus(p, false)[0]["state"]["waiting"]["reason"] == "CreateContainerConfigError"
            })
        })
        .await;
    assert_eq!(phase_of(&p), "Pending");
    assert_eq!(
        cstatus(&p, false)[0]["state"]["waiting"]["message"],
        "secret \"absent\" not found"
    );
    let err = env
        .pods
        .logs("nosecret", &LogParams::default())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains(
            "container \"c\" in pod \"nosecret\" is waiting to start: CreateContainerConfigError"
        ),
        "the kubelet's words: {err}"
    );
    // Upstream's pod worker retries a failed sync after 10 s, reading the Secret again, and
    // its event recorder counts the repeated `Failed` event instead of writing another.
    let events: Api<Event> = Api::default_namespaced(env.api.client.clone());
    let failed = || async {
        let list = events.list(&Default::default()).await.unwrap();
        list.items
            .into_iter()
            .filter(|e| e.reason.as_deref() == Some("Failed"))
            .collect::<Vec<_>>()
    };
    wait_until("the Failed event", || async { !failed().await.is_empty() }).await;
    env.api.clock.advance_millis(10_001);
    wait_until("the retry counted on the first Failed event", || async {
        failed().await.first().and_then(|e| e.count) == Some(2)
    })
    .await;
    assert_eq!(failed().await.len(), 1, "one Failed event, counted twice");
    let secrets: Api<Secret> = Api::default_namespaced(env.api.client.clone());
    secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(
                json!({"metadata": {"name": "absent"}, "stringData": {"k": "v"}}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    env.advance_until(
        10_001,
        "the retry reads the Secret and the pod succeeds",
        || async {
            let p = env.pods.get("nosecret").await.unwrap();
            phase_of(&p) == "Succeeded"
        },
    )
    .await;
    env.stop().await;
}

/// A mount the kubelet's `makeMounts` cannot make (a `subPathExpr` naming a variable with no
/// value: the runtime's `HOSTNAME` is not one the kubelet knows, or one that leads out of its
/// volume) leaves the container waiting in `CreateContainerConfigError`, as upstream; nothing
/// runs and nothing fails.
#[tokio::test]
async fn a_sub_path_expression_that_cannot_be_made_waits_as_a_config_error() {
    if !crate::harness::root_or_skip("a_sub_path_expression_that_cannot_be_made_waits") {
        return;
    }
    let env = Env::start().await;
    let mnt = env.dir.path().join("mnt");
    let waiting = |expr: &str| {
        json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox",
            "command": sh("true"), "env": [{"name": "UP", "value": ".."}],
            "volumeMounts": [{"name": "v", "mountPath": mnt.display().to_string(), "subPathExpr": expr}]}],
            "volumes": [{"name": "v", "emptyDir": {}}]})
    };
    for (name, expr, message) in [
        (
            "unset",
            "$(NOT_SET)/$(HOSTNAME)",
            "missing value for HOSTNAME, NOT_SET",
        ),
        (
            "upward",
            "$(UP)/x",
            "unable to provision SubPath `../x`: must not contain '..'",
        ),
    ] {
        env.create(name, waiting(expr)).await;
        let p = env
            .wait_pod(name, "CreateContainerConfigError", |p| {
                p.status.as_ref().is_some_and(|_| {
                    cstatus(p, false)[0]["state"]["waiting"]["reason"]
                        == "CreateContainerConfigError"
                })
            })
            .await;
        assert_eq!(phase_of(&p), "Pending");
        assert_eq!(
            cstatus(&p, false)[0]["state"]["waiting"]["message"],
            message
        );
    }
    env.stop().await;
}

#[tokio::test]
async fn init_containers_run_in_order_and_share_an_empty_dir() {
    let env = Env::start().await;
    let mnt = env.dir.path().join("mnt/data");
    let mnt = mnt.to_str().unwrap();
    env.create(
        "init",
        json!({"restartPolicy": "Never",
            "initContainers": [
                {"name": "first", "image": "busybox", "command": sh("echo one > \"$DIR/order\""), "env": [{"name": "DIR", "value": mnt}], "volumeMounts": [{"name": "shared", "mountPath": mnt}]},
                {"name": "second", "image": "busybox", "command": sh("echo two >> \"$DIR/order\""), "env": [{"name": "DIR", "value": mnt}], "volumeMounts": [{"name": "shared", "mountPath": mnt}]},
            ],
            "containers": [{"name": "main", "image": "busybox", "command": sh("cat \"$DIR/order\""), "env": [{"name": "DIR", "value": mnt}], "volumeMounts": [{"name": "shared", "mountPath": mnt}]}],
            "volumes": [{"name": "shared", "emptyDir": {}}]}),
    )
    .await;
    let done = env.wait_phase("init", "Succeeded").await;
    assert_eq!(env.logs("init", &LogParams::default()).await, "one\ntwo\n");
    let inits = cstatus(&done, true);
    assert_eq!(inits[0]["state"]["terminated"]["reason"], "Completed");
    assert_eq!(inits[1]["state"]["terminated"]["reason"], "Completed");
    assert!(
        std::fs::read_dir(mnt).map_or(true, |mut d| d.next().is_none()),
        "the volume was mounted in the pod's namespace only; the host mount point stays empty"
    );
    // As the kubelet: the volumes of a terminated pod are torn down, its directory (here the
    // containers' working directory) stays until the pod is deleted.
    let uid = done.metadata.uid.clone().unwrap();
    let sandbox = env.dir.path().join("agent/pods").join(&uid);
    let volumes = env.dir.path().join("agent/pod-volumes").join(&uid);
    wait_until("the volumes are torn down", || async { !volumes.exists() }).await;
    assert!(
        !env.dir.path().join("mnt").exists(),
        "the mount point the agent made on the host is taken away with them"
    );
    assert!(sandbox.is_dir(), "the sandbox stays with the pod");
    env.pods
        .delete("init", &kube::api::DeleteParams::default())
        .await
        .unwrap();
    wait_until("the sandbox goes with the pod", || async {
        !sandbox.exists()
    })
    .await;
    env.stop().await;
}

#[tokio::test]
async fn sidecar_is_stopped_after_the_main_container() {
    let env = Env::start().await;
    env.create(
        "sidecar",
        json!({"restartPolicy": "Never", "terminationGracePeriodSeconds": 5,
            "initContainers": [{"name": "helper", "image": "busybox", "restartPolicy": "Always",
                "command": sh("trap 'echo helper-stopping; exit 0' TERM; echo helper-up; while true; do sleep 0.05; done")}],
            "containers": [{"name": "main", "image": "busybox", "command": sh("sleep 0.2; echo main-done")}]}),
    )
    .await;
    let done = env.wait_phase("sidecar", "Succeeded").await;
    let helper = cstatus(&done, true)[0].clone();
    assert!(helper["state"]["terminated"].is_object(), "{helper}");
    let helper_log = env
        .logs(
            "sidecar",
            &LogParams {
                container: Some("helper".into()),
                ..Default::default()
            },
        )
        .await;
    // (sh may also report its `sleep` child as "Terminated".)
    assert!(
        helper_log.starts_with("helper-up\n") && helper_log.contains("helper-stopping\n"),
        "{helper_log:?}"
    );
    let main_log = env
        .logs(
            "sidecar",
            &LogParams {
                container: Some("main".into()),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(main_log, "main-done\n");
    let events: Api<Event> = Api::default_namespaced(env.api.client.clone());
    wait_until("the sidecar's Killing event", || async {
        events
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .iter()
            .any(|e| {
                e.reason.as_deref() == Some("Killing")
                    && e.message.as_deref() == Some("Stopping container helper")
                    && e.involved_object.field_path.as_deref()
                        == Some("spec.initContainers{helper}")
            })
    })
    .await;
    env.stop().await;
}

#[tokio::test]
async fn memory_limit_kill_is_reported_as_oom_killed() {
    let v2 = std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers")
        .unwrap_or_default()
        .contains("memory");
    let v1 = std::path::Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists();
    let root = crate::harness::is_root();
    if !(root && (v1 || v2)) {
        eprintln!("skipped: no usable memory cgroup here (root: {root}, v1: {v1}, v2: {v2})");
        return;
    }
    let env = Env::start().await;
    env.create(
        "oom",
        json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox",
            "command": sh("x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived"),
            "resources": {"limits": {"memory": "32Mi"}}}]}),
    )
    .await;
    // A child process the kernel kills: on cgroup v2 the whole container goes with it (the
    // kubelet's `memory.oom.group`); either way the container was OOM-killed.
    env.create(
        "oom-child",
        json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox",
            "command": sh("sh -c 'x=$(head -c 200000000 /dev/zero | tr \"\\0\" a)'; exit 1"),
            "resources": {"limits": {"memory": "32Mi"}}}]}),
    )
    .await;
    let done = env.wait_phase("oom", "Failed").await;
    let t = cstatus(&done, false)[0]["state"]["terminated"].clone();
    assert_eq!(
        (t["exitCode"].as_i64(), t["reason"].as_str()),
        (Some(137), Some("OOMKilled")),
        "{t}"
    );
    let done = env.wait_phase("oom-child", "Failed").await;
    let t = cstatus(&done, false)[0]["state"]["terminated"].clone();
    assert_eq!(t["reason"], "OOMKilled", "{t}");
    if v2 && std::path::Path::new("/sys/fs/cgroup/runlet/memory.oom.group").exists() {
        assert_eq!(t["exitCode"], 137, "{t}");
    }
    env.stop().await;
}

#[tokio::test]
async fn the_security_context_groups_privileges_and_read_only_volumes_as_upstream() {
    if !crate::harness::is_root() {
        eprintln!(
            "skipped: supplementary groups and volume ownership need an agent running as root"
        );
        return;
    }
    let env = Env::start().await;
    let secrets: Api<Secret> = Api::default_namespaced(env.api.client.clone());
    secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(
                json!({"metadata": {"name": "creds"}, "data": {"pw": "czNjcjN0"}}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    // Somewhere on the host's root file system, which the container sees read-only.
    let root = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let on_root_fs = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(root.path()).unwrap().dev() == std::fs::metadata("/").unwrap().dev()
    };
    let at = |p: &str| root.path().join(p).to_str().unwrap().to_string();
    // Each line says what the container could do; the test reads them back.
    let script = format!(
        "echo groups $(id -G); grep NoNewPrivs /proc/self/status; \
         cat {creds}/pw; echo; touch {creds}/new 2>/dev/null && echo secret writable; \
         touch {scratch}/mine && echo scratch writable; stat -c 'scratch %a %g' {scratch}; \
         touch {host} 2>/dev/null && echo root writable; \
         df {creds} | tail -1 | cut -d' ' -f1",
        creds = at("creds"),
        scratch = at("scratch"),
        host = at("outside"),
    );
    env.create(
        "confined",
        json!({"restartPolicy": "Never",
            "securityContext": {"runAsUser": 1000, "runAsGroup": 3000, "fsGroup": 2000,
                                "supplementalGroups": [4000]},
            "volumes": [{"name": "creds", "secret": {"secretName": "creds", "defaultMode": 0o400}},
                        {"name": "scratch", "emptyDir": {}}],
            "containers": [{"name": "c", "image": "busybox", "command": sh(&script),
                "securityContext": {"allowPrivilegeEscalation": false,
                                    "readOnlyRootFilesystem": true},
                "volumeMounts": [{"name": "creds", "mountPath": at("creds")},
                                 {"name": "scratch", "mountPath": at("scratch")}]}]}),
    )
    .await;
    env.wait_phase("confined", "Succeeded").await;
    let out = env.logs("confined", &LogParams::default()).await;
    let mut lines: Vec<&str> = out.lines().collect();
    if !on_root_fs {
        eprintln!("not checked: the test's directory is not on the root file system");
        lines.retain(|l| *l != "root writable");
    }
    assert_eq!(
        lines,
        [
            "groups 3000 2000 4000",
            "NoNewPrivs:\t1",
            "s3cr3t",
            "scratch writable",
            "scratch 2777 2000",
            "tmpfs",
        ],
        "the secret is read-only, group-readable through fsGroup and on tmpfs; the emptyDir \
         is everyone's; the host's root file system is read-only"
    );
    assert!(!root.path().join("outside").exists());
    env.stop().await;
}

#[tokio::test]
async fn a_pod_bound_without_the_scheduler_is_admitted_as_the_kubelet_admits_it() {
    let env = Env::start().await;
    env.create(
        "greedy",
        json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox",
            "command": sh("true"), "resources": {"requests": {"cpu": "100000"}}}]}),
    )
    .await;
    env.create(
        "elsewhere",
        json!({"restartPolicy": "Never", "nodeSelector": {"disk": "none-here"},
            "containers": [{"name": "c", "image": "busybox", "command": sh("true")}]}),
    )
    .await;
    env.create(
        "fits",
        json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox",
            "command": sh("true"), "resources": {"requests": {"cpu": "10m"}}}]}),
    )
    .await;
    for (name, reason, message) in [
        (
            "greedy",
            "OutOfcpu",
            "Pod was rejected: Node didn't have enough resource: cpu, requested: 100000000, used: 0, capacity: ",
        ),
        (
            "elsewhere",
            "NodeAffinity",
            "Pod was rejected: Predicate NodeAffinity failed: node(s) didn't match Pod's node affinity/selector",
        ),
    ] {
        let p = env.wait_phase(name, "Failed").await;
        let ran = cstatus(&p, false);
        let status = p.status.unwrap();
        assert_eq!(status.reason.as_deref(), Some(reason));
        let text = status.message.unwrap_or_default();
        assert!(text.starts_with(message), "{text}");
        assert!(
            ran.as_array().is_none_or(|c| c.is_empty()),
            "no container ran: {ran}"
        );
    }
    env.wait_phase("fits", "Succeeded").await;
    env.stop().await;
}

#[tokio::test]
async fn a_working_directory_the_agent_made_goes_with_the_pod() {
    let env = Env::start().await;
    let dir = env.dir.path().join("made/for/work");
    env.create(
        "worker",
        json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox",
            "workingDir": dir.to_str().unwrap(), "command": sh("pwd")}]}),
    )
    .await;
    env.wait_phase("worker", "Succeeded").await;
    assert_eq!(
        env.logs("worker", &LogParams::default()).await,
        format!("{}\n", dir.display())
    );
    wait_until("the directory is taken away", || async {
        !env.dir.path().join("made").exists()
    })
    .await;
    env.stop().await;
}

#[tokio::test]
async fn config_map_and_label_changes_reach_a_running_pod_s_volumes() {
    let env = Env::start().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(env.api.client.clone());
    let cm = |data: serde_json::Value| -> ConfigMap {
        serde_json::from_value(json!({"metadata": {"name": "live"}, "data": data})).unwrap()
    };
    cms.create(&PostParams::default(), &cm(json!({"a": "1", "b": "2"})))
        .await
        .unwrap();
    let mnt = env.dir.path().join("mnt");
    let dir = mnt.to_str().unwrap();
    let pod = env
        .create(
            "live",
            json!({"restartPolicy": "Never",
                "containers": [{"name": "c", "image": "busybox", "env": [{"name": "DIR", "value": dir}],
                    "command": sh("until [ \"$(cat $DIR/cfg/a)\" = 1b ] && [ ! -e $DIR/cfg/b ] && grep -q 'stage=\"two\"' $DIR/info/labels; do sleep 0.05; done; cat $DIR/cfg/c"),
                    "volumeMounts": [{"name": "cfg", "mountPath": format!("{dir}/cfg")},
                                     {"name": "info", "mountPath": format!("{dir}/info")}]}],
                "volumes": [{"name": "cfg", "configMap": {"name": "live"}},
                            {"name": "info", "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}}]}),
        )
        .await;
    env.wait_phase("live", "Running").await;
    let uid = pod.metadata.uid.clone().unwrap();
    let host = env
        .dir
        .path()
        .join("agent/pod-volumes")
        .join(&uid)
        .join("volumes");
    let read = |rel: &str| std::fs::read_to_string(host.join(rel)).unwrap_or_default();
    assert_eq!(read("cfg/a"), "1");

    // A ConfigMap change reaches the volume at the next sync of the pod, in one step.
    cms.replace(
        "live",
        &PostParams::default(),
        &cm(json!({"a": "1b", "c": "3"})),
    )
    .await
    .unwrap();
    env.advance_until(
        60_001,
        "the ConfigMap's new keys reach the volume",
        || async { read("cfg/a") == "1b" && read("cfg/c") == "3" && !host.join("cfg/b").exists() },
    )
    .await;
    let payloads: Vec<String> = std::fs::read_dir(host.join("cfg"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("..") && n != "..data")
        .collect();
    assert_eq!(payloads.len(), 1, "the old payload is gone: {payloads:?}");

    // A label change reaches the downward API files at once.
    env.pods
        .patch(
            "live",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"metadata": {"labels": {"stage": "two"}}})),
        )
        .await
        .unwrap();
    env.wait_phase("live", "Succeeded").await;
    // `cat` of a value without a newline: the log has none either, as containerd's.
    assert_eq!(env.logs("live", &LogParams::default()).await, "3");
    env.stop().await;
}

#[tokio::test]
async fn a_container_s_host_name_is_its_pod_s() {
    let env = Env::start().await;
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string();
    let root = crate::harness::is_root();
    let pods = [
        ("plain", json!({}), "plain"),
        ("named", json!({"hostname": "worker-7"}), "worker-7"),
        ("hostnet", json!({"hostNetwork": true}), host.as_str()),
    ];
    for (name, extra, _) in &pods {
        let mut spec = json!({"restartPolicy": "Never", "containers": [{"name": "c",
            "image": "busybox", "command": sh("uname -n; echo $HOSTNAME")}]});
        for (k, v) in extra.as_object().unwrap() {
            spec[k] = v.clone();
        }
        env.create(name, spec).await;
    }
    for (name, _, want) in &pods {
        env.wait_phase(name, "Succeeded").await;
        // An agent that may not make namespaces leaves every container the host's name.
        let uname = if root { *want } else { host.as_str() };
        assert_eq!(
            env.logs(name, &LogParams::default()).await,
            format!("{uname}\n{want}\n"),
            "pod {name}"
        );
    }
    env.stop().await;
}

#[tokio::test]
async fn what_a_container_started_dies_with_it_even_outside_its_process_group() {
    if !crate::harness::root_or_skip("what_a_container_started_dies_with_it") {
        return;
    }
    let env = Env::start().await;
    let marker = format!("escaped-{}", std::process::id());
    // The escaped shell keeps the container's stdout open: before, the pod ran until it ended.
    env.create(
        "escape",
        json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox",
            "command": sh(&format!("setsid sh -c 'sleep 300; : {marker}' & sleep 0.2; echo main-exits")),
            "resources": {"limits": {"memory": "64Mi"}}}]}),
    )
    .await;
    let done = env.wait_phase("escape", "Succeeded").await;
    assert!(
        !process_with(&marker),
        "the process that left the process group died with the container's main process"
    );
    assert_eq!(
        env.logs("escape", &LogParams::default()).await,
        "main-exits\n"
    );
    // Nothing is left in the container's cgroup, so it is removed with the container.
    let uid = done.metadata.uid.clone().unwrap();
    let leftover: Vec<std::path::PathBuf> =
        ["/sys/fs/cgroup/memory/runlet", "/sys/fs/cgroup/runlet"]
            .iter()
            .flat_map(|root| std::fs::read_dir(root).into_iter().flatten().flatten())
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().contains(&uid))
            .collect();
    assert!(leftover.is_empty(), "cgroups left behind: {leftover:?}");
    env.stop().await;
}

#[tokio::test]
async fn a_container_sees_its_own_processes_in_proc() {
    if !crate::harness::root_or_skip("a_container_sees_its_own_processes_in_proc") {
        return;
    }
    let env = Env::start().await;
    env.create(
        "procs",
        json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox",
            // `$$` is Kubernetes' escape of `$`: the shell sees `$$`.
            "command": sh("echo $$$$; cat /proc/$$$$/comm; ls /proc | grep -c '^[0-9]'")}]}),
    )
    .await;
    env.wait_phase("procs", "Succeeded").await;
    let out = env.logs("procs", &LogParams::default()).await;
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("1"), "{out}");
    assert_eq!(lines.next(), Some("sh"), "{out}");
    let processes: u32 = lines.next().unwrap().parse().unwrap();
    assert!(
        processes <= 4,
        "the container's /proc lists its own processes only: {out}"
    );
    env.stop().await;
}

#[tokio::test]
async fn a_pod_s_etc_hosts_resolves_its_host_name_and_aliases() {
    if !crate::harness::root_or_skip("a_pod_s_etc_hosts_resolves_its_host_name_and_aliases") {
        return;
    }
    let env = Env::start().await;
    env.create(
        "w-0",
        json!({"restartPolicy": "Never", "hostname": "w-0", "subdomain": "workers",
            "hostAliases": [{"ip": "10.0.0.9", "hostnames": ["db"]}],
            "containers": [{"name": "c", "image": "busybox",
                "command": sh("hostname -f; getent hosts db | awk '{print $1}'; head -1 /etc/hosts")}]}),
    )
    .await;
    env.wait_phase("w-0", "Succeeded").await;
    assert_eq!(
        env.logs("w-0", &LogParams::default()).await,
        "w-0.workers.default.svc.cluster.local\n10.0.0.9\n# Kubernetes-managed hosts file.\n"
    );
    env.stop().await;
}

/// `setHostnameAsFQDN` gives the kernel (and `HOSTNAME`) the fully qualified name, and a pod's
/// DNS settings give it a `/etc/resolv.conf` of its own, as the kubelet's `GetPodDNS` makes it.
#[tokio::test]
async fn a_pod_s_dns_settings_and_fqdn_host_name_reach_its_containers() {
    if !crate::harness::root_or_skip("a_pod_s_dns_settings_and_fqdn_host_name_reach_its_containers")
    {
        return;
    }
    let env = Env::start().await;
    env.create(
        "h1",
        json!({"restartPolicy": "Never", "hostname": "h1", "subdomain": "sd",
            "setHostnameAsFQDN": true, "dnsPolicy": "None",
            "dnsConfig": {"nameservers": ["192.0.2.53"], "searches": ["my.search"],
                "options": [{"name": "ndots", "value": "2"}]},
            "containers": [{"name": "c", "image": "busybox",
                "command": sh("hostname; echo $HOSTNAME; cat /etc/resolv.conf")}]}),
    )
    .await;
    env.wait_phase("h1", "Succeeded").await;
    assert_eq!(
        env.logs("h1", &LogParams::default()).await,
        "h1.sd.default.svc.cluster.local\nh1.sd.default.svc.cluster.local\n\
         search my.search\nnameserver 192.0.2.53\noptions ndots:2\n"
    );
    env.stop().await;
}

#[tokio::test]
async fn what_a_host_pid_container_started_dies_with_it_too() {
    if !crate::harness::root_or_skip("what_a_host_pid_container_started_dies_with_it_too") {
        return;
    }
    let env = Env::start().await;
    let marker = format!("escaped-hostpid-{}", std::process::id());
    // No PID namespace of its own: the escaped shell is found by the container's mount
    // namespace. It keeps the container's stdout open: before, the pod ran until it ended.
    env.create(
        "hostpid",
        json!({"restartPolicy": "Never", "hostPID": true, "containers": [{"name": "c",
            "image": "busybox",
            "command": sh(&format!("setsid sh -c 'sleep 300; : {marker}' & sleep 0.2; echo main-exits"))}]}),
    )
    .await;
    env.wait_phase("hostpid", "Succeeded").await;
    assert!(!process_with(&marker), "the escaped process was killed");
    assert_eq!(
        env.logs("hostpid", &LogParams::default()).await,
        "main-exits\n"
    );
    env.stop().await;
}

#[tokio::test]
async fn containers_keep_the_runtime_s_default_capabilities_changed_as_asked() {
    if !crate::harness::is_root() {
        eprintln!("skipped: an agent that is not root has no capabilities to give or take");
        return;
    }
    let env = Env::start().await;
    let cap = |name: &str, sc: serde_json::Value| {
        json!({"name": name, "image": "busybox", "securityContext": sc,
            "command": sh("grep CapEff /proc/self/status | cut -f2")})
    };
    env.create(
        "caps",
        json!({"restartPolicy": "Never", "containers": [
            cap("plain", json!({})),
            cap("none", json!({"capabilities": {"drop": ["ALL"]}})),
            cap("admin", json!({"capabilities": {"add": ["NET_ADMIN"], "drop": ["CHOWN"]}})),
            cap("privileged", json!({"privileged": true})),
        ]}),
    )
    .await;
    env.wait_phase("caps", "Succeeded").await;
    let of = async |container: &str| {
        let params = LogParams {
            container: Some(container.into()),
            ..Default::default()
        };
        env.logs("caps", &params).await
    };
    // containerd's default set; a dropped ALL; NET_ADMIN (bit 12) added and CHOWN (bit 0) gone.
    assert_eq!(of("plain").await, "00000000a80425fb\n");
    assert_eq!(of("none").await, "0000000000000000\n");
    assert_eq!(of("admin").await, "00000000a80435fa\n");
    let all = of("privileged").await;
    assert!(
        u64::from_str_radix(all.trim(), 16).unwrap() > 0xa80425fb,
        "a privileged container keeps everything: {all}"
    );
    env.stop().await;
}

#[tokio::test]
async fn a_pod_s_service_account_token_is_requested_bound_to_it_and_refreshed() {
    use base64::Engine;
    let env = Env::start().await;
    // What `runlet server` has and this in-process server lacks: a signing key, the default
    // account and the published CA.
    let key = rcgen::KeyPair::generate().unwrap();
    env.api.state.set_token_signer(
        runlet_apiserver::serviceaccount::TokenSigner::from_pem(&key.serialize_pem()).unwrap(),
    );
    let accounts: Api<k8s_openapi::api::core::v1::ServiceAccount> =
        Api::default_namespaced(env.api.client.clone());
    accounts
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "default"}})).unwrap(),
        )
        .await
        .unwrap();
    let cms: Api<ConfigMap> = Api::default_namespaced(env.api.client.clone());
    cms.create(
        &PostParams::default(),
        &serde_json::from_value(
            json!({"metadata": {"name": "kube-root-ca.crt"}, "data": {"ca.crt": "PEM"}}),
        )
        .unwrap(),
    )
    .await
    .unwrap();
    let pod = env
        .create(
            "caller",
            json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox",
                "command": ["sleep", "30"]}]}),
        )
        .await;
    let volume = pod.spec.as_ref().unwrap().volumes.as_ref().unwrap()[0]
        .name
        .clone();
    env.wait_phase("caller", "Running").await;
    let dir = env
        .dir
        .path()
        .join("agent/pod-memory")
        .join(pod.metadata.uid.as_deref().unwrap())
        .join(&volume);
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    assert_eq!(read("ca.crt"), "PEM");
    assert_eq!(read("namespace"), "default");
    let claims = |token: &str| -> serde_json::Value {
        let payload = token.split('.').nth(1).unwrap_or_default();
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap_or_default();
        serde_json::from_slice(&bytes).unwrap_or_default()
    };
    let first = claims(&read("token"));
    assert_eq!(first["sub"], "system:serviceaccount:default:default");
    assert_eq!(first["kubernetes.io"]["pod"]["name"], "caller");
    // The kubelet's 3607 s, which the API server extends to a year and marks to be replaced
    // after the 3607 s (`warnafter`).
    let iat = first["iat"].as_i64().unwrap();
    assert_eq!(
        first["kubernetes.io"]["warnafter"].as_i64(),
        Some(iat + 3607)
    );
    assert_eq!(first["exp"].as_i64().unwrap() - iat, 365 * 24 * 3600);

    // Four fifths of its lifetime on, the next volume sync writes a new one.
    env.api.clock.advance_millis(2_900_000);
    wait_until("a new token in the volume", || async {
        claims(&read("token"))["iat"].as_i64() > first["iat"].as_i64()
    })
    .await;

    // A pod that names its user and fsGroup gets its token readable by that user and group
    // only, as upstream's projected volume writes it; any other, the volume's mode.
    use std::os::unix::fs::MetadataExt;
    let token_of = |pod: &k8s_openapi::api::core::v1::Pod| {
        let volume = &pod.spec.as_ref().unwrap().volumes.as_ref().unwrap()[0].name;
        let path = env
            .dir
            .path()
            .join("agent/pod-memory")
            .join(pod.metadata.uid.as_deref().unwrap())
            .join(volume)
            .join("token");
        let meta = std::fs::metadata(path).unwrap();
        (meta.mode() & 0o777, meta.uid(), meta.gid())
    };
    assert_eq!(token_of(&pod).0, 0o644);
    if crate::harness::is_root() {
        let owned = env
            .create(
                "owned",
                json!({"restartPolicy": "Never",
                    "securityContext": {"runAsUser": 1000, "runAsGroup": 3000, "fsGroup": 2000},
                    "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "30"]}]}),
            )
            .await;
        env.wait_phase("owned", "Running").await;
        assert_eq!(token_of(&owned), (0o640, 1000, 2000));
    }
    env.stop().await;
}

/// A readiness gate holds the pod's Ready condition, in upstream's words, until someone else
/// sets its condition True; ContainersReady follows the containers alone.
#[tokio::test]
async fn a_readiness_gate_holds_ready_until_its_condition_is_true() {
    let env = Env::start().await;
    env.create(
        "gated",
        json!({"restartPolicy": "Never", "readinessGates": [{"conditionType": "example.com/ready"}],
            "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "30"]}]}),
    )
    .await;
    let condition = |p: &k8s_openapi::api::core::v1::Pod, kind: &str| {
        p.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == kind))
            .cloned()
    };
    let pod = env
        .wait_pod("gated", "its containers ready", |p| {
            condition(p, "ContainersReady").is_some_and(|c| c.status == "True")
        })
        .await;
    let ready = condition(&pod, "Ready").unwrap();
    assert_eq!(ready.status, "False");
    assert_eq!(ready.reason.as_deref(), Some("ReadinessGatesNotReady"));
    assert_eq!(
        ready.message.as_deref(),
        Some("corresponding condition of pod readiness gate \"example.com/ready\" does not exist.")
    );
    env.pods
        .patch_status(
            "gated",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Strategic(json!({"status": {"conditions": [
                {"type": "example.com/ready", "status": "True"}]}})),
        )
        .await
        .unwrap();
    env.wait_pod("gated", "Ready once its gate is open", |p| {
        condition(p, "Ready").is_some_and(|c| c.status == "True")
    })
    .await;
    env.stop().await;
}
