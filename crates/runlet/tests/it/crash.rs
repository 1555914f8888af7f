//! Durability: `kill -9` the server while many clients write, restart it, and check that
//! every acknowledged write survived and that revisions continue above the old ones.

use crate::harness::Server;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams};
use rand::Rng;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const WRITERS: usize = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_acknowledged_write_is_lost_on_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_in(dir.path());
    let client = server.client().await;
    let acked: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    let target = 1000 + rand::rng().random_range(0..600);

    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
        let acked = acked.clone();
        writers.push(tokio::spawn(async move {
            for i in 0.. {
                let name = format!("cm-{w}-{i}");
                let mut cm = ConfigMap::default();
                cm.metadata.name = Some(name.clone());
                cm.data = Some([("i".to_string(), i.to_string())].into());
                match api.create(&PostParams::default(), &cm).await {
                    Ok(created) => {
                        let rv = created.metadata.resource_version.unwrap().parse().unwrap();
                        acked.lock().unwrap().insert(name, rv);
                    }
                    Err(_) => return,
                }
            }
        }));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while acked.lock().unwrap().len() < target {
        assert!(
            tokio::time::Instant::now() < deadline,
            "writers too slow: {}",
            acked.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill9();
    for w in writers {
        tokio::time::timeout(Duration::from_secs(60), w)
            .await
            .expect("writers stop once the server is gone")
            .unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 1000);

    let server = Server::start_in(dir.path());
    let client = server.client().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let present: BTreeMap<String, u64> = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|cm| {
            (
                cm.metadata.name.unwrap(),
                cm.metadata.resource_version.unwrap().parse().unwrap(),
            )
        })
        .collect();
    for (name, rv) in &acked {
        assert_eq!(
            present.get(name),
            Some(rv),
            "acknowledged {name} at revision {rv} survived the crash"
        );
    }
    let max_acked = acked.values().max().copied().unwrap();
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("after-restart".into());
    let created = api.create(&PostParams::default(), &cm).await.unwrap();
    let rv: u64 = created.metadata.resource_version.unwrap().parse().unwrap();
    assert!(
        rv > max_acked,
        "new revision {rv} continues above {max_acked}"
    );
}

/// As etcd locks its data: a second server on a data directory in use is refused before it
/// touches anything, and the first one goes on serving writes.
#[test]
fn a_second_server_on_a_data_directory_in_use_is_refused() {
    let first = Server::start();
    let kubeconfig = std::fs::read_to_string(first.kubeconfig()).unwrap();
    let mut second = std::process::Command::new(crate::harness::BIN);
    second
        .args(["server", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(&first.data_dir);
    let out = crate::harness::run_bounded(second, None, Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("is in use by another process"),
        "says why: {stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(first.kubeconfig()).unwrap(),
        kubeconfig,
        "the first server's kubeconfig is left alone"
    );
    first.kubectl_ok(&[
        "create",
        "configmap",
        "still-writable",
        "--from-literal=a=b",
    ]);
}

/// Whether any process has `marker` in its command line.
fn process_with(marker: &str) -> bool {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| {
            std::fs::read(e.path().join("cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(marker))
        })
}

/// A container's main process dies with a `kill -9`ed server (its parent-death signal), and
/// with it everything it started, even a process that left its process group: the main
/// process is the first of its PID namespace, whose end the kernel makes the end of all. The
/// server that comes back fails the pod (it must not run twice) and tears down the volumes the
/// crashed one mounted for it.
#[test]
fn what_containers_started_dies_with_a_crashed_server() {
    let root = std::fs::read_to_string("/proc/self/status")
        .is_ok_and(|s| s.lines().any(|l| l.starts_with("Uid:\t0\t")));
    if !root {
        eprintln!("skipped: an agent that is not root makes no PID namespaces");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_in(dir.path());
    let marker = format!("left-behind-{}", std::process::id());
    let pod = format!(
        "apiVersion: v1
kind: Pod
metadata:
  name: parent
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox
    command: [\"sh\", \"-c\", \"setsid sh -c 'sleep 300; : {marker}' & wait\"]
    volumeMounts:
    - name: info
      mountPath: /tmp/{marker}
  volumes:
  - name: info
    downwardAPI:
      items:
      - path: name
        fieldRef:
          fieldPath: metadata.name
"
    );
    server.kubectl_stdin(&["apply", "-f", "-"], &pod);
    crate::harness::wait_until(Duration::from_secs(60), "the child runs", || {
        process_with(&marker)
    });
    server.kill9();
    crate::harness::wait_until(
        Duration::from_secs(10),
        "the child dies with the server",
        || !process_with(&marker),
    );
    let server = Server::start_in(dir.path());
    let phase =
        |s: &Server| s.kubectl_ok(&["get", "pod", "parent", "-o", "jsonpath={.status.phase}"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while phase(&server) != "Failed" {
        assert!(
            std::time::Instant::now() < deadline,
            "the lost pod was not failed within 60 s:\n{}\nserver log:\n{}",
            server.kubectl_ok(&["get", "pod", "parent", "-o", "yaml"]),
            server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The lost pod's volumes are torn down, though no run of the agent remembers making
    // them, and nothing of the crashed run is still mounted: the agent mounts in a namespace
    // of its own, which went with it, and the new run has only its tmpfs for the pods' secrets
    // there.
    let data = dir.path().to_string_lossy().into_owned();
    let mounted = || {
        let table = format!("/proc/{}/mountinfo", server.pid().unwrap());
        std::fs::read_to_string(table)
            .unwrap()
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|point| point.starts_with(&data))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let memory = dir.path().join("agent/pod-memory");
    crate::harness::wait_until(
        Duration::from_secs(10),
        "the lost pod's volumes are gone",
        || {
            mounted() == vec![memory.to_string_lossy().into_owned()]
                && std::fs::read_dir(&memory).is_ok_and(|mut d| d.next().is_none())
        },
    );
    let host = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!host.contains(&data), "the host sees none of it: {host}");
}
