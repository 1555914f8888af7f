//! Storage the way a Job uses it, with genuine kubectl: a volume made by hand bound to a
//! claim by the PersistentVolume controller, and a generic ephemeral volume whose claim is made
//! for its pod, provisioned by local-path and deleted with the pod.

use crate::harness::{Server, wait_until};
use std::time::Duration;

const STATIC_VOLUME: &str = r#"{"apiVersion": "v1", "kind": "PersistentVolume",
  "metadata": {"name": "by-hand"},
  "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
    "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "",
    "hostPath": {"path": "HOST_DIR", "type": "DirectoryOrCreate"}}}"#;

const CLAIM: &str = r#"{"apiVersion": "v1", "kind": "PersistentVolumeClaim",
  "metadata": {"name": "data"},
  "spec": {"storageClassName": "", "accessModes": ["ReadWriteOnce"],
    "resources": {"requests": {"storage": "500Mi"}}}}"#;

const WRITER: &str = "apiVersion: batch/v1
kind: Job
metadata:
  name: writer
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: c
        image: busybox
        command: [\"sh\", \"-c\", \"echo kept > /runlet-it-static/file\"]
        volumeMounts:
        - {name: data, mountPath: /runlet-it-static}
      volumes:
      - name: data
        persistentVolumeClaim: {claimName: data}
";

const SCRATCH: &str = "apiVersion: batch/v1
kind: Job
metadata:
  name: scratch
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: c
        image: busybox
        command: [\"sh\", \"-c\", \"echo tmp > /runlet-it-scratch/f && cat /runlet-it-scratch/f\"]
        volumeMounts:
        - {name: work, mountPath: /runlet-it-scratch}
      volumes:
      - name: work
        ephemeral:
          volumeClaimTemplate:
            metadata:
              labels: {purpose: scratch}
            spec:
              accessModes: [ReadWriteOnce]
              resources: {requests: {storage: 1Mi}}
";

fn get(s: &Server, what: &[&str], path: &str) -> String {
    let mut args = vec!["get"];
    args.extend_from_slice(what);
    let jsonpath = format!("jsonpath={path}");
    args.extend_from_slice(&["-o", &jsonpath]);
    s.kubectl_ok(&args)
}

#[test]
fn a_volume_made_by_hand_and_an_ephemeral_volume_serve_jobs() {
    let s = Server::start();
    let host_dir = s.data_dir.join("by-hand");
    s.kubectl_stdin(
        &["create", "-f", "-"],
        &STATIC_VOLUME.replace("HOST_DIR", host_dir.to_str().unwrap()),
    );
    wait_until(Duration::from_secs(30), "the volume Available", || {
        get(&s, &["pv", "by-hand"], "{.status.phase}") == "Available"
    });
    s.kubectl_stdin(&["create", "-f", "-"], CLAIM);
    wait_until(Duration::from_secs(30), "the claim bound", || {
        get(&s, &["pvc", "data"], "{.status.phase}") == "Bound"
    });
    assert_eq!(get(&s, &["pvc", "data"], "{.spec.volumeName}"), "by-hand");
    assert_eq!(
        get(&s, &["pvc", "data"], "{.status.capacity.storage}"),
        "1Gi"
    );
    s.kubectl_stdin(&["apply", "-f", "-"], WRITER);
    s.kubectl_ok(&[
        "wait",
        "--for=condition=complete",
        "job/writer",
        "--timeout=60s",
    ]);
    assert_eq!(
        std::fs::read_to_string(host_dir.join("file")).unwrap(),
        "kept\n"
    );

    // The ephemeral volume's claim is the pod's, provisioned on its node.
    s.kubectl_stdin(&["apply", "-f", "-"], SCRATCH);
    s.kubectl_ok(&[
        "wait",
        "--for=condition=complete",
        "job/scratch",
        "--timeout=60s",
    ]);
    assert_eq!(s.kubectl_ok(&["logs", "job/scratch"]), "tmp\n");
    let pod = get(
        &s,
        &["pods", "-l", "job-name=scratch"],
        "{.items[0].metadata.name}",
    );
    let claim = format!("{pod}-work");
    assert_eq!(
        get(
            &s,
            &["pvc", &claim],
            "{.metadata.ownerReferences[0].name} {.metadata.labels.purpose} {.status.phase}"
        ),
        format!("{pod} scratch Bound")
    );
    let volume = get(&s, &["pvc", &claim], "{.spec.volumeName}");
    // Deleting the Job deletes its pod, the pod's claim, and the claim's volume.
    s.kubectl_ok(&["delete", "job", "scratch", "--timeout=60s"]);
    wait_until(Duration::from_secs(60), "the claim and volume gone", || {
        let (claim_ref, volume_ref) = (format!("pvc/{claim}"), format!("pv/{volume}"));
        let out = s.kubectl(&[
            "get",
            &claim_ref,
            &volume_ref,
            "-o",
            "name",
            "--ignore-not-found",
        ]);
        out.status.success() && out.stdout.is_empty()
    });

    // The claim made by hand goes: its Retain volume is Released, its data kept.
    s.kubectl_ok(&["delete", "job", "writer", "--timeout=60s"]);
    s.kubectl_ok(&["delete", "pvc", "data", "--timeout=60s"]);
    wait_until(Duration::from_secs(30), "the volume Released", || {
        get(&s, &["pv", "by-hand"], "{.status.phase}") == "Released"
    });
    assert!(host_dir.join("file").is_file());
}

/// Mount points inside other mounts, as containerd and runc make them: a volume inside a
/// volume, a termination-message path and a working directory inside one. Nothing is made on
/// the host for them.
#[test]
fn mounts_inside_mounts_are_made_inside_their_volumes() {
    let s = Server::start();
    let base = format!("/runlet-nested-{}", std::process::id());
    let pod = format!(
        "apiVersion: v1
kind: Pod
metadata:
  name: nested
spec:
  restartPolicy: Never
  volumes:
  - {{name: outer, emptyDir: {{}}}}
  - {{name: inner, emptyDir: {{}}}}
  containers:
  - name: c
    image: busybox
    workingDir: {base}/work/here
    terminationMessagePath: {base}/msg
    volumeMounts:
    - {{name: inner, mountPath: {base}/sub}}
    - {{name: outer, mountPath: {base}}}
    command: [sh, -c, \"pwd; echo in-sub > {base}/sub/f; printf done > {base}/msg; exit 2\"]
"
    );
    s.kubectl_stdin(&["apply", "-f", "-"], &pod);
    s.kubectl_ok(&[
        "wait",
        "--for=jsonpath={.status.phase}=Failed",
        "pod/nested",
        "--timeout=60s",
    ]);
    let terminated = get(
        &s,
        &["pod", "nested"],
        "{.status.containerStatuses[0].state.terminated.exitCode}/{.status.containerStatuses[0].state.terminated.message}",
    );
    assert_eq!(terminated, "2/done");
    assert_eq!(
        s.kubectl_ok(&["logs", "nested"]),
        format!("{base}/work/here\n")
    );
    s.kubectl_ok(&["delete", "pod", "nested", "--timeout=60s"]);
    assert!(
        !std::path::Path::new(&base).exists(),
        "nothing is left on the host"
    );
}
