//! Genuine kubectl against the real server: discovery, explain, every verb, every output
//! format, patches of all three types, edit, cascading deletes, waits, watches, dry runs and
//! the protobuf-sending generators.

use crate::harness::{Server, WARNED_JOB, WARNED_JOB_WARNINGS, run_bounded, wait_until};
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

const PI_JOB: &str = "apiVersion: batch/v1
kind: Job
metadata:
  name: pi
spec:
  template:
    spec:
      containers:
      - name: pi
        image: perl:5.34.0
        command: [\"sh\", \"-c\", \"echo 3.14159\"]
      restartPolicy: Never
  backoffLimit: 4
";

fn json(s: &str) -> Value {
    serde_json::from_str(s).expect("kubectl printed JSON")
}

#[test]
fn kubectl_version_reports_no_skew_and_lists_resources() {
    let s = Server::start();
    let out = s.kubectl(&["version", "-o", "json"]);
    assert!(out.status.success());
    let v = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(v["serverVersion"]["minor"], "33");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("WARNING"),
        "no version skew warning"
    );

    let resources = s.kubectl_ok(&["api-resources", "--no-headers"]);
    for expected in [
        "jobs",
        "cronjobs",
        "pods",
        "namespaces",
        "events",
        "leases",
        "configmaps",
        "secrets",
        "nodes",
    ] {
        assert!(
            resources.lines().any(|l| l.starts_with(expected)),
            "{expected} missing from:\n{resources}"
        );
    }
    assert!(
        resources
            .lines()
            .any(|l| l.starts_with("cronjobs") && l.contains(" cj "))
    );
    // Each group version once (two reviews share `authorization.k8s.io/v1`).
    let versions = s.kubectl_ok(&["api-versions"]);
    let mut seen = std::collections::HashSet::new();
    assert!(versions.lines().all(|v| seen.insert(v)), "{versions}");
    assert!(seen.contains("authorization.k8s.io/v1"), "{versions}");
    let namespaces = s.kubectl_ok(&["get", "ns", "-o", "name"]);
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(
            namespaces.contains(&format!("namespace/{ns}")),
            "{ns} exists from the start"
        );
    }
}

#[test]
fn kubectl_explain_reads_openapi_v3() {
    let s = Server::start();
    let out = s.kubectl_ok(&["explain", "job.spec.backoffLimit"]);
    assert!(out.contains("FIELD: backoffLimit <integer>"), "{out}");
    assert!(out.contains("retries"), "the description is served: {out}");
}

#[test]
fn apply_then_get_in_every_output_format() {
    let s = Server::start();
    assert_eq!(
        s.kubectl_stdin(&["apply", "-f", "-"], PI_JOB).trim(),
        "job.batch/pi created"
    );
    assert_eq!(
        s.kubectl_stdin(&["apply", "-f", "-"], PI_JOB).trim(),
        "job.batch/pi unchanged"
    );

    let table = s.kubectl_ok(&["get", "jobs"]);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]);
    assert!(table.lines().nth(1).unwrap().starts_with("pi "));
    let wide = s.kubectl_ok(&["get", "jobs", "-o", "wide"]);
    assert!(
        wide.lines().next().unwrap().contains("CONTAINERS   IMAGES"),
        "{wide}"
    );
    assert!(wide.contains("perl:5.34.0"));

    let job = json(&s.kubectl_ok(&["get", "job", "pi", "-o", "json"]));
    // Defaulted exactly as Kubernetes does.
    assert_eq!(job["spec"]["backoffLimit"], 4);
    assert_eq!(job["spec"]["completions"], 1);
    assert_eq!(job["spec"]["parallelism"], 1);
    assert_eq!(job["spec"]["completionMode"], "NonIndexed");
    assert_eq!(job["spec"]["suspend"], false);
    let uid = job["metadata"]["uid"].as_str().unwrap();
    assert_eq!(
        job["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"],
        uid
    );
    assert_eq!(
        job["spec"]["template"]["metadata"]["labels"]["job-name"],
        "pi"
    );
    let c = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["terminationMessagePath"], "/dev/termination-log");
    assert_eq!(c["imagePullPolicy"], "IfNotPresent");
    assert_eq!(
        job["spec"]["template"]["spec"]["terminationGracePeriodSeconds"],
        30
    );

    let yaml = s.kubectl_ok(&["get", "job", "pi", "-o", "yaml"]);
    assert!(yaml.contains("kind: Job") && yaml.contains("backoffLimit: 4"));
    let jp = s.kubectl_ok(&[
        "get",
        "job",
        "pi",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    ]);
    assert_eq!(jp, "perl:5.34.0");
    assert_eq!(
        s.kubectl_ok(&["get", "jobs", "-o", "name"]).trim(),
        "job.batch/pi"
    );
    let all = s.kubectl_ok(&["get", "all"]);
    assert!(all.contains("job.batch/pi"), "get all includes jobs: {all}");

    let described = s.kubectl_ok(&["describe", "job", "pi"]);
    for field in [
        "Name:",
        "Namespace:",
        "Selector:",
        "Parallelism:",
        "Completions:",
        "Pod Template:",
    ] {
        assert!(
            described.contains(field),
            "describe shows {field}: {described}"
        );
    }
}

#[test]
fn patches_of_all_three_types_labels_and_annotations() {
    let s = Server::start();
    s.kubectl_stdin(&["apply", "-f", "-"], PI_JOB);
    let rv0 = s.kubectl_ok(&[
        "get",
        "job",
        "pi",
        "-o",
        "jsonpath={.metadata.resourceVersion}",
    ]);
    s.kubectl_ok(&["patch", "job", "pi", "-p", r#"{"spec":{"parallelism":3}}"#]);
    s.kubectl_ok(&[
        "patch",
        "job",
        "pi",
        "--type=merge",
        "-p",
        r#"{"metadata":{"labels":{"team":"data"}}}"#,
    ]);
    s.kubectl_ok(&[
        "patch",
        "job",
        "pi",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/backoffLimit","value":2}]"#,
    ]);
    s.kubectl_ok(&["label", "job", "pi", "tier=batch"]);
    s.kubectl_ok(&["annotate", "job", "pi", "note=hello"]);
    let job = json(&s.kubectl_ok(&["get", "job", "pi", "-o", "json"]));
    assert_eq!(job["spec"]["parallelism"], 3);
    assert_eq!(job["spec"]["backoffLimit"], 2);
    assert_eq!(job["metadata"]["labels"]["team"], "data");
    assert_eq!(job["metadata"]["labels"]["tier"], "batch");
    assert_eq!(job["metadata"]["annotations"]["note"], "hello");
    assert_eq!(
        job["metadata"]["generation"], 3,
        "two spec changes bumped the generation twice"
    );

    // A no-op patch does not bump resourceVersion.
    let rv1 = s.kubectl_ok(&[
        "get",
        "job",
        "pi",
        "-o",
        "jsonpath={.metadata.resourceVersion}",
    ]);
    s.kubectl_ok(&[
        "patch",
        "job",
        "pi",
        "--type=merge",
        "-p",
        r#"{"spec":{"parallelism":3}}"#,
    ]);
    let rv2 = s.kubectl_ok(&[
        "get",
        "job",
        "pi",
        "-o",
        "jsonpath={.metadata.resourceVersion}",
    ]);
    assert_ne!(rv0, rv1);
    assert_eq!(rv1, rv2);

    // Strategic merge on a list merges containers by name.
    s.kubectl_ok(&["create", "cm", "cfg", "--from-literal=a=1"]);
    s.kubectl_ok(&["patch", "cm", "cfg", "-p", r#"{"data":{"b":"2"}}"#]);
    let cm = json(&s.kubectl_ok(&["get", "cm", "cfg", "-o", "json"]));
    assert_eq!(cm["data"]["a"], "1");
    assert_eq!(cm["data"]["b"], "2");
}

#[test]
fn immutable_template_and_invalid_input_get_field_errors() {
    let s = Server::start();
    s.kubectl_stdin(&["apply", "-f", "-"], PI_JOB);
    let out = s.kubectl(&[
        "patch",
        "job",
        "pi",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"perl:5.36"}]"#,
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("spec.template") && err.contains("field is immutable"),
        "{err}"
    );

    let bad = PI_JOB
        .replace("      restartPolicy: Never\n", "")
        .replace("name: pi\nspec", "name: pi2\nspec");
    let out = s.kubectl_with(&["create", "-f", "-"], Some(&bad), &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(r#"spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never""#),
        "{err}"
    );
    // Defaulted to Always in the template, as upstream: the Job's check is the only error.
    assert_eq!(err.matches("restartPolicy").count(), 1, "{err}");
    let missing = s.kubectl(&["get", "job", "nope"]);
    assert_eq!(
        String::from_utf8_lossy(&missing.stderr).trim(),
        r#"Error from server (NotFound): jobs.batch "nope" not found"#
    );
    assert_eq!(
        s.kubectl(&["get", "jobs", "-o", "name"]).stdout,
        b"job.batch/pi\n",
        "nothing half-written"
    );
}

/// A Job is stored as upstream's Go types store it: quantities in canonical form, and the
/// `false`/`""` of `omitempty` fields left out, so that writing the manifest back as it was
/// written (`kubectl replace` here; a Go controller's read-modify-write the same) does not
/// change the immutable template. A node affinity runlet's scheduler could not read is
/// refused at once, as upstream's validation refuses it.
#[test]
fn jobs_are_stored_in_upstream_s_form_and_written_back_unchanged() {
    let s = Server::start();
    let manifest = "apiVersion: batch/v1
kind: Job
metadata:
  name: canonical
spec:
  suspend: true
  template:
    spec:
      restartPolicy: Never
      hostNetwork: false
      containers:
      - name: c
        image: busybox
        command: [\"true\"]
        stdin: false
        workingDir: \"\"
        resources:
          requests: {cpu: \"0.5\", memory: 1024Mi}
        volumeMounts: [{name: scratch, mountPath: /scratch, readOnly: false}]
      volumes: [{name: scratch, emptyDir: {}}]
";
    s.kubectl_stdin(&["create", "-f", "-"], manifest);
    let stored = json(&s.kubectl_ok(&["get", "job", "canonical", "-o", "json"]));
    let spec = &stored["spec"]["template"]["spec"];
    let c = &spec["containers"][0];
    assert_eq!(
        c["resources"]["requests"],
        serde_json::json!({"cpu": "500m", "memory": "1Gi"}),
        "{stored}"
    );
    for absent in [
        &c["stdin"],
        &c["workingDir"],
        &c["volumeMounts"][0]["readOnly"],
        &spec["hostNetwork"],
    ] {
        assert!(absent.is_null(), "{stored}");
    }
    assert_eq!(spec["volumes"][0]["emptyDir"], serde_json::json!({}));
    // Resumed by a client that writes the template back as the manifest wrote it: the same
    // template, as upstream compares it.
    let mut resumed = stored.clone();
    resumed["spec"]["suspend"] = serde_json::json!(false);
    let c = &mut resumed["spec"]["template"]["spec"]["containers"][0];
    c["stdin"] = serde_json::json!(false);
    c["resources"]["requests"]["cpu"] = serde_json::json!("0.5");
    c["volumeMounts"][0]["readOnly"] = serde_json::json!(false);
    s.kubectl_stdin(&["replace", "-f", "-"], &resumed.to_string());
    let after = json(&s.kubectl_ok(&["get", "job", "canonical", "-o", "json"]));
    assert_eq!(after["spec"]["suspend"], false);
    assert_eq!(after["spec"]["template"], stored["spec"]["template"]);
    let affinity = PI_JOB.replace("name: pi\n", "name: pinned\n").replace(
        "      restartPolicy: Never\n",
        "      restartPolicy: Never\n      affinity:\n        nodeAffinity:\n          requiredDuringSchedulingIgnoredDuringExecution:\n            nodeSelectorTerms:\n            - matchExpressions: [{key: kubernetes.io/hostname, operator: in, values: [node-a]}]\n",
    );
    let out = s.kubectl_with(&["create", "-f", "-"], Some(&affinity), &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator: Invalid value: \"in\": not a valid selector operator"),
        "{err}"
    );
}

/// An object exported with `kubectl get -o yaml`, applied, then changed and applied again:
/// kubectl's three-way patch sets `resourceVersion` (and `uid`) to null, which upstream takes
/// as an unconditional update of the object as it is.
#[test]
fn applying_an_exported_object_then_a_change_of_it() {
    let s = Server::start();
    s.kubectl_ok(&["create", "configmap", "exported", "--from-literal=a=1"]);
    let exported = s.kubectl_ok(&["get", "configmap", "exported", "-o", "yaml"]);
    s.kubectl_stdin(&["apply", "-f", "-"], &exported);
    let changed =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: exported\ndata:\n  a: \"2\"\n";
    s.kubectl_stdin(&["apply", "-f", "-"], changed);
    assert_eq!(
        s.kubectl_ok(&["get", "configmap", "exported", "-o", "jsonpath={.data.a}"]),
        "2"
    );
}

#[test]
fn kubectl_edit_through_an_editor_script() {
    let s = Server::start();
    s.kubectl_ok(&[
        "create",
        "configmap",
        "settings",
        "--from-literal=mode=slow",
    ]);
    let out = s.kubectl_with(
        &["edit", "configmap", "settings"],
        None,
        &[("KUBE_EDITOR", "sed -i s/slow/fast/")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        s.kubectl_ok(&["get", "cm", "settings", "-o", "jsonpath={.data.mode}"]),
        "fast"
    );
}

#[test]
fn generators_send_protobuf_and_it_is_understood() {
    let s = Server::start();
    assert_eq!(
        s.kubectl_ok(&["create", "namespace", "team-a"]).trim(),
        "namespace/team-a created"
    );
    s.kubectl_ok(&[
        "create",
        "configmap",
        "c1",
        "-n",
        "team-a",
        "--from-literal=k=v",
    ]);
    s.kubectl_ok(&[
        "create",
        "secret",
        "generic",
        "s1",
        "-n",
        "team-a",
        "--from-literal=password=hunter2",
    ]);
    s.kubectl_ok(&[
        "create",
        "job",
        "hello",
        "-n",
        "team-a",
        "--image=busybox",
        "--",
        "echo",
        "hi",
    ]);
    s.kubectl_ok(&[
        "create",
        "cronjob",
        "nightly",
        "-n",
        "team-a",
        "--image=busybox",
        "--schedule=0 3 * * *",
        "--",
        "date",
    ]);
    s.kubectl_ok(&[
        "create",
        "job",
        "manual",
        "-n",
        "team-a",
        "--from=cronjob/nightly",
    ]);
    let manual = json(&s.kubectl_ok(&["get", "job", "manual", "-n", "team-a", "-o", "json"]));
    assert_eq!(
        manual["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"],
        "manual"
    );
    assert_eq!(manual["metadata"]["ownerReferences"][0]["kind"], "CronJob");
    assert_eq!(
        s.kubectl_ok(&[
            "get",
            "secret",
            "s1",
            "-n",
            "team-a",
            "-o",
            "jsonpath={.data.password}"
        ]),
        "aHVudGVyMg=="
    );
    let hello = json(&s.kubectl_ok(&["get", "job", "hello", "-n", "team-a", "-o", "json"]));
    assert_eq!(
        hello["spec"]["template"]["spec"]["containers"][0]["command"][1],
        "hi"
    );
    let cj = s.kubectl_ok(&["get", "cj", "-n", "team-a"]);
    let header: Vec<&str> = cj.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE"
        ],
        "{cj}"
    );
}

#[test]
fn dry_run_server_persists_nothing() {
    let s = Server::start();
    let out = s.kubectl_with(
        &["create", "-f", "-", "--dry-run=server", "-o", "json"],
        Some(PI_JOB),
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let job = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(
        job["spec"]["backoffLimit"], 4,
        "the dry-run answer is defaulted"
    );
    assert!(
        s.kubectl_ok(&["get", "jobs", "-o", "name"])
            .trim()
            .is_empty()
    );
}

fn dependent_configmap(name: &str, owner: &Value) -> String {
    format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{name}","ownerReferences":[{{"apiVersion":"v1","kind":"ConfigMap","name":"{}","uid":"{}","blockOwnerDeletion":true}}]}},"data":{{"a":"1"}}}}"#,
        owner["metadata"]["name"].as_str().unwrap(),
        owner["metadata"]["uid"].as_str().unwrap()
    )
}

#[test]
fn delete_with_each_cascade_policy() {
    let s = Server::start();
    for policy in ["orphan", "background", "foreground"] {
        let owner = format!("owner-{policy}");
        s.kubectl_ok(&["create", "cm", &owner, "--from-literal=a=1"]);
        let owner_obj = json(&s.kubectl_ok(&["get", "cm", &owner, "-o", "json"]));
        let dependent = format!("{owner}-dependent");
        s.kubectl_stdin(
            &["create", "-f", "-"],
            &dependent_configmap(&dependent, &owner_obj),
        );
        let out = s.kubectl_ok(&["delete", "cm", &owner, &format!("--cascade={policy}")]);
        assert_eq!(out.trim(), format!("configmap \"{owner}\" deleted"));
        s.kubectl_ok(&[
            "wait",
            "--for=delete",
            &format!("cm/{owner}"),
            "--timeout=30s",
        ]);
        match policy {
            "orphan" => {
                let d = json(&s.kubectl_ok(&["get", "cm", &dependent, "-o", "json"]));
                assert!(
                    d["metadata"].get("ownerReferences").is_none(),
                    "orphaned dependent lost its owner: {d}"
                );
            }
            _ => wait_until(Duration::from_secs(30), "dependent deleted", || {
                !s.kubectl(&["get", "cm", &dependent]).status.success()
            }),
        }
    }
}

#[test]
fn get_watch_sees_changes_until_its_timeout() {
    let s = Server::start();
    s.kubectl_ok(&["create", "cm", "before", "--from-literal=a=1"]);
    let mut cmd = Command::new("timeout");
    cmd.args(["6", "kubectl", "get", "configmaps", "-w", "-o", "name"])
        .env("KUBECONFIG", s.kubeconfig());
    let watcher = std::thread::spawn(move || run_bounded(cmd, None, Duration::from_secs(30)));
    std::thread::sleep(Duration::from_secs(2));
    s.kubectl_ok(&["create", "cm", "during", "--from-literal=a=1"]);
    let out = watcher.join().unwrap();
    let seen = String::from_utf8_lossy(&out.stdout);
    assert!(
        seen.contains("configmap/before"),
        "initial state listed: {seen}"
    );
    assert!(
        seen.contains("configmap/during"),
        "the new object arrives through the watch: {seen}"
    );
}

#[test]
fn namespace_deletion_empties_then_removes_it() {
    let s = Server::start();
    s.kubectl_ok(&["create", "ns", "scratch"]);
    s.kubectl_ok(&["create", "cm", "c", "-n", "scratch", "--from-literal=a=1"]);
    s.kubectl_stdin(&["apply", "-n", "scratch", "-f", "-"], PI_JOB);
    s.kubectl_ok(&["delete", "ns", "scratch", "--wait=false"]);
    s.kubectl_ok(&["wait", "--for=delete", "ns/scratch", "--timeout=90s"]);
    assert!(
        s.kubectl_ok(&["get", "cm", "-n", "scratch", "-o", "name"])
            .trim()
            .is_empty()
    );
    let out = s.kubectl(&[
        "create",
        "cm",
        "late",
        "-n",
        "scratch",
        "--from-literal=a=1",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains(r#"namespaces "scratch" not found"#));
}

/// A namespace held up by a finalizer says so in its conditions, in the namespace deleter's
/// words, and goes once the finalizer is removed.
#[test]
fn a_terminating_namespace_says_what_holds_it() {
    let s = Server::start();
    s.kubectl_ok(&["create", "ns", "held"]);
    s.kubectl_stdin(
        &["apply", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kept\n  namespace: held\n  finalizers: [example.com/hold]\n",
    );
    s.kubectl_ok(&["delete", "ns", "held", "--wait=false"]);
    let condition = |type_: &str| {
        s.kubectl_ok(&[
            "get",
            "ns",
            "held",
            "-o",
            &format!("jsonpath={{.status.conditions[?(@.type==\"{type_}\")].message}}"),
        ])
    };
    wait_until(
        Duration::from_secs(30),
        "the namespace's conditions",
        || {
            condition("NamespaceFinalizersRemaining")
                == "Some finalizers are remaining: example.com/hold in 1 resource instances"
        },
    );
    assert_eq!(
        condition("NamespaceContentRemaining"),
        "Some resources are remaining: configmaps. has 1 resource instances"
    );
    assert_eq!(
        condition("NamespaceDeletionContentFailure"),
        "All content successfully deleted, may be waiting on finalization"
    );
    s.kubectl_ok(&[
        "patch",
        "cm",
        "kept",
        "-n",
        "held",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    s.kubectl_ok(&["wait", "--for=delete", "ns/held", "--timeout=60s"]);
}

#[test]
fn unauthenticated_requests_are_refused_but_health_is_public() {
    let s = Server::start();
    let ca = s.data_dir.join("tls/ca.crt");
    let curl = |path: &str, extra: &[&str]| {
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
            .arg(&ca)
            .args(extra)
            .arg(format!("{}{path}", s.url));
        String::from_utf8_lossy(&run_bounded(cmd, None, Duration::from_secs(30)).stdout)
            .into_owned()
    };
    assert_eq!(curl("/healthz", &[]), "200");
    assert_eq!(curl("/version", &[]), "200");
    assert_eq!(curl("/api/v1/namespaces", &[]), "401");
    std::fs::write(s.data_dir.join("tokens.csv"), "").unwrap();
    assert_eq!(
        curl("/api/v1/namespaces", &["-H", "Authorization: Bearer wrong"]),
        "401"
    );
}

#[test]
fn bearer_tokens_from_the_token_file_authenticate() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tokens.csv"),
        "s3cret,alice,1001,\"devs\"\n",
    )
    .unwrap();
    let s = Server::start_in(dir.path());
    let ca = s.data_dir.join("tls/ca.crt");
    let mut cmd = Command::new("kubectl");
    cmd.args([
        "get",
        "ns",
        "default",
        "-o",
        "name",
        "--server",
        &s.url,
        "--token",
        "s3cret",
        "--certificate-authority",
    ])
    .arg(&ca)
    .env("KUBECONFIG", "/dev/null");
    let out = run_bounded(cmd, None, Duration::from_secs(60));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "namespace/default",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn runlet_kubectl_uses_the_admin_kubeconfig() {
    let s = Server::start();
    let mut cmd = Command::new(crate::harness::BIN);
    cmd.args(["kubectl", "--data-dir"])
        .arg(&s.data_dir)
        .args(["get", "ns", "default", "-o", "name"]);
    let out = run_bounded(cmd, None, Duration::from_secs(60));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "namespace/default"
    );

    let empty = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(crate::harness::BIN);
    cmd.args(["kubectl", "--data-dir"])
        .arg(empty.path())
        .args(["get", "ns"]);
    let out = run_bounded(cmd, None, Duration::from_secs(60));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("start a server first"));
}

#[test]
fn server_stops_cleanly_on_sigterm() {
    let mut s = Server::start();
    assert!(
        s.terminate(),
        "exit status 0 after SIGTERM; log:\n{}",
        s.log()
    );
}

#[test]
fn status_subresource_and_main_resource_each_ignore_the_other_half() {
    let s = Server::start();
    s.kubectl_ok(&[
        "create",
        "cronjob",
        "quiet",
        "--image=busybox",
        "--schedule=0 0 1 1 *",
        "--",
        "true",
    ]);
    s.kubectl_ok(&[
        "patch",
        "cj",
        "quiet",
        "--type=merge",
        "-p",
        r#"{"spec":{"suspend":true}}"#,
    ]);
    s.kubectl_ok(&[
        "patch",
        "cj",
        "quiet",
        "--type=merge",
        "-p",
        r#"{"status":{"lastScheduleTime":"2026-01-01T00:00:00Z"}}"#,
    ]);
    let cj = json(&s.kubectl_ok(&["get", "cj", "quiet", "-o", "json"]));
    assert!(
        cj["status"].get("lastScheduleTime").is_none(),
        "the main resource ignores status: {}",
        cj["status"]
    );
    s.kubectl_ok(&[
        "patch",
        "cj",
        "quiet",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"lastScheduleTime":"2026-01-01T00:00:00Z"},"spec":{"schedule":"* * * * *"},"metadata":{"labels":{"via":"status"}}}"#,
    ]);
    let cj = json(&s.kubectl_ok(&["get", "cj", "quiet", "-o", "json"]));
    assert_eq!(cj["status"]["lastScheduleTime"], "2026-01-01T00:00:00Z");
    assert_eq!(
        cj["spec"]["schedule"], "0 0 1 1 *",
        "the status subresource ignores spec"
    );
    assert_eq!(
        cj["metadata"]["labels"]["via"], "status",
        "but not metadata, as upstream's status strategies"
    );
    assert_eq!(
        cj["metadata"]["generation"], 2,
        "only the suspend patch changed the spec"
    );
}

/// `kubectl auth can-i` (a SelfSubjectAccessReview, sent as protobuf) and `kubectl auth
/// whoami` (a SelfSubjectReview) answer for the caller: runlet allows every authenticated user.
#[test]
fn auth_can_i_and_whoami_answer_for_the_caller() {
    let s = Server::start();
    assert_eq!(s.kubectl_ok(&["auth", "can-i", "create", "jobs"]), "yes\n");
    assert_eq!(
        s.kubectl_ok(&[
            "auth",
            "can-i",
            "get",
            "pods",
            "--subresource=log",
            "-n",
            "kube-system"
        ]),
        "yes\n"
    );
    // `--list` (a SelfSubjectRulesReview): everything, on every resource and path.
    let list = s.kubectl_ok(&["auth", "can-i", "--list"]);
    let rows: Vec<Vec<&str>> = list
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(rows.contains(&vec!["*.*", "[]", "[]", "[*]"]), "{list}");
    assert!(rows.contains(&vec!["[*]", "[]", "[*]"]), "{list}");
    let who = s.kubectl_ok(&["auth", "whoami", "-o", "jsonpath={.status.userInfo}"]);
    let who: Value = serde_json::from_str(&who).unwrap();
    assert_eq!(who["username"], "admin");
    assert_eq!(
        who["groups"],
        serde_json::json!(["system:masters", "system:authenticated"])
    );
    let resources = s.kubectl_ok(&["api-resources", "--api-group=authorization.k8s.io"]);
    assert!(
        resources.contains("selfsubjectaccessreviews"),
        "{resources}"
    );
    // `--as` impersonates: the request is the named user's, in `system:authenticated`.
    let bob = s.kubectl_ok(&[
        "auth",
        "whoami",
        "--as=bob",
        "--as-group=devs",
        "-o",
        "jsonpath={.status.userInfo}",
    ]);
    let bob: Value = serde_json::from_str(&bob).unwrap();
    assert_eq!(bob["username"], "bob");
    assert_eq!(
        bob["groups"],
        serde_json::json!(["devs", "system:authenticated"])
    );
}

/// Events expire `--event-ttl-seconds` after they were last written (upstream's `--event-ttl`,
/// an hour by default), so they do not pile up without end; other objects stay.
#[test]
fn events_expire_after_the_event_ttl() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_with(dir.path(), &["--event-ttl-seconds", "2"]);
    let at = runlet_api::clock::rfc3339(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64,
    );
    let event = format!(
        r#"{{"apiVersion": "v1", "kind": "Event", "metadata": {{"name": "short-lived"}},
        "involvedObject": {{"kind": "ConfigMap", "name": "keep", "namespace": "default"}},
        "reason": "Tested", "message": "m", "type": "Normal",
        "firstTimestamp": "{at}", "lastTimestamp": "{at}"}}"#
    );
    s.kubectl_stdin(&["create", "-f", "-"], &event);
    s.kubectl_ok(&["create", "configmap", "keep", "--from-literal=a=b"]);
    assert!(s.kubectl_ok(&["get", "events"]).contains("Tested"));
    wait_until(Duration::from_secs(30), "the event expires", || {
        !s.kubectl_ok(&["get", "events", "-o", "name"])
            .contains("short-lived")
    });
    s.kubectl_ok(&["get", "configmap", "keep"]);
}

/// `kubectl get storageclass` shows the built-in `local-path` class as the default; a claim
/// naming no class gets it (upstream's DefaultStorageClass admission), one naming `""` keeps
/// none; classes are validated as upstream validates them.
#[test]
fn the_local_path_storage_class_is_the_default() {
    let s = Server::start();
    let out = s.kubectl_ok(&["get", "storageclass"]);
    let row = out
        .lines()
        .find(|l| l.starts_with("local-path"))
        .unwrap_or_else(|| panic!("{out}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        &cells[..6],
        [
            "local-path",
            "(default)",
            "runlet.dev/local-path",
            "Delete",
            "WaitForFirstConsumer",
            "false"
        ],
        "{out}"
    );
    let claim = |name: &str, class: &str| {
        format!(
            r#"{{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {{"name": "{name}"}},
            "spec": {{{class}"accessModes": ["ReadWriteOnce"], "resources": {{"requests": {{"storage": "1Mi"}}}}}}}}"#
        )
    };
    s.kubectl_stdin(&["create", "-f", "-"], &claim("defaulted", ""));
    s.kubectl_stdin(
        &["create", "-f", "-"],
        &claim("classless", r#""storageClassName": "", "#),
    );
    let class_of = |name: &str| {
        s.kubectl_ok(&[
            "get",
            "pvc",
            name,
            "-o",
            "jsonpath={.spec.storageClassName}",
        ])
    };
    assert_eq!(class_of("defaulted"), "local-path");
    assert_eq!(class_of("classless"), "");

    s.kubectl_stdin(
        &["apply", "-f", "-"],
        r#"{"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": "fast"}, "provisioner": "example.com/fast"}"#,
    );
    assert_eq!(
        s.kubectl_ok(&[
            "get",
            "sc",
            "fast",
            "-o",
            "jsonpath={.reclaimPolicy} {.volumeBindingMode}"
        ]),
        "Delete Immediate"
    );
    let out = s.kubectl(&[
        "patch",
        "sc",
        "fast",
        "--type=merge",
        "-p",
        r#"{"provisioner": "example.com/slow"}"#,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && stderr.contains("provisioner: Forbidden: updates to provisioner are forbidden."),
        "{stderr}"
    );

    // A claim's request changes only once it is bound, and then neither grows (local-path
    // volumes do not expand) nor goes down to its capacity.
    let resize = |size: &str| {
        let patch =
            format!(r#"{{"spec": {{"resources": {{"requests": {{"storage": "{size}"}}}}}}}}"#);
        let out = s.kubectl(&["patch", "pvc", "defaulted", "--type=merge", "-p", &patch]);
        assert!(!out.status.success(), "{size}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let unbound = resize("2Mi");
    assert!(
        unbound.contains("spec is immutable after creation except resources.requests"),
        "{unbound}"
    );
    s.kubectl_stdin(
        &["create", "-f", "-"],
        r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "user"},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox",
              "command": ["true"], "volumeMounts": [{"name": "v", "mountPath": "/v"}]}],
            "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "defaulted"}}]}}"#,
    );
    wait_until(Duration::from_secs(60), "the claim bound", || {
        s.kubectl_ok(&["get", "pvc", "defaulted", "-o", "jsonpath={.status.phase}"]) == "Bound"
    });
    let grown = resize("2Mi");
    assert!(
        grown.contains("only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize"),
        "{grown}"
    );
    let shrunk = resize("512Ki");
    assert!(
        shrunk.contains(
            "spec.resources.requests.storage: Forbidden: field can not be less than status.capacity"
        ),
        "{shrunk}"
    );
}

/// Several objects in one `kind: List` file, as `kubectl get -o yaml` writes them.
fn list_file(job_spec_field: &str, job_api_version: &str) -> String {
    format!(
        "apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: listed
  data:
    greeting: hello
- apiVersion: {job_api_version}
  kind: Job
  metadata:
    name: listed
  spec:
    {job_spec_field}: 1
    template:
      spec:
        containers:
        - name: main
          image: busybox
          command: [\"true\"]
        restartPolicy: Never
"
    )
}

/// kubectl validates a `kind: List` file on the client, against `/openapi/v2` (OpenAPI v3 has
/// no List): such a file applies with the default validation, a field its schema lacks is
/// refused before anything is sent, and an unserved version gets the usual "no matches" error.
#[test]
fn a_list_file_applies_under_kubectl_s_client_side_validation() {
    let s = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let apply = |contents: String| {
        let path = dir.path().join("list.yaml");
        std::fs::write(&path, contents).unwrap();
        s.kubectl(&["apply", "-f", path.to_str().unwrap()])
    };
    let stderr = |out: &std::process::Output| String::from_utf8_lossy(&out.stderr).into_owned();

    let typo = apply(list_file("parallelismm", "batch/v1"));
    assert!(!typo.status.success());
    assert!(
        stderr(&typo).contains(r#"unknown field "parallelismm" in io.k8s.api.batch.v1.JobSpec"#),
        "{}",
        stderr(&typo)
    );
    assert!(
        s.kubectl(&["get", "configmap", "listed"]).status.code() == Some(1),
        "nothing of a refused file was applied"
    );

    // (kubectl goes on with the items it can map, as against any server.)
    let unserved = apply(list_file("parallelism", "batch/v2"));
    assert!(!unserved.status.success());
    assert!(
        stderr(&unserved).contains(r#"no matches for kind "Job" in version "batch/v2""#),
        "{}",
        stderr(&unserved)
    );
    assert_eq!(
        String::from_utf8_lossy(&unserved.stdout),
        "configmap/listed created\n"
    );

    let good = apply(list_file("parallelism", "batch/v1"));
    assert!(good.status.success(), "{}", stderr(&good));
    assert_eq!(
        String::from_utf8_lossy(&good.stdout),
        "configmap/listed unchanged\njob.batch/listed created\n"
    );
    assert_eq!(
        s.kubectl_ok(&["get", "job", "listed", "-o", "jsonpath={.spec.parallelism}"]),
        "1"
    );

    // The JSON form, for clients that ask for it.
    let doc = json(&s.kubectl_ok(&["get", "--raw", "/openapi/v2"]));
    assert_eq!(doc["swagger"], "2.0");
    assert_eq!(
        doc["definitions"]["io.k8s.api.batch.v1.Job"]["x-kubernetes-group-version-kind"][0]["kind"],
        "Job"
    );
}

/// kubectl prints the warnings upstream's Job strategy gives: a name that is no DNS label (it
/// becomes the pods' host names), and a second env var of the same name that apply may drop.
#[test]
fn job_create_answers_with_upstream_s_warnings() {
    let s = Server::start();
    let out = s.kubectl_with(&["create", "-f", "-"], Some(WARNED_JOB), &[]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr), WARNED_JOB_WARNINGS);
    let relabel = s.kubectl(&["label", "job", "my.job", "team=a"]);
    assert!(
        String::from_utf8_lossy(&relabel.stderr).is_empty(),
        "no warnings for an update that leaves the spec alone"
    );
}

const APPLIED_JOB: &str = "apiVersion: batch/v1
kind: Job
metadata:
  name: applied
  labels: {app: x, tier: batch}
spec:
  parallelism: 2
  suspend: true
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox
        command: [\"true\"]
";

/// A Job's `spec.parallelism`, as kubectl reads it.
fn parallelism_of(s: &Server, job: &str) -> String {
    s.kubectl_ok(&["get", "job", job, "-o", "jsonpath={.spec.parallelism}"])
}

/// `kubectl apply --server-side`: creates, merges, drops what the manager no longer applies,
/// refuses to take a field another manager set (in upstream's words) unless forced, and
/// `kubectl diff --server-side` shows nothing once applied.
#[test]
fn server_side_apply_owns_merges_and_conflicts_as_upstream() {
    let s = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("job.yaml");
    let file = file.to_str().unwrap();
    let apply = |contents: &str, extra: &[&str]| {
        std::fs::write(file, contents).unwrap();
        let mut args = vec!["apply", "--server-side", "-f", file];
        args.extend_from_slice(extra);
        s.kubectl(&args)
    };
    let out = apply(APPLIED_JOB, &[]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "job.batch/applied serverside-applied\n"
    );
    let managers = || {
        s.kubectl_ok(&[
            "get",
            "job",
            "applied",
            "-o",
            "jsonpath={range .metadata.managedFields[*]}{.manager}/{.operation}/{.subresource} {end}",
        ])
    };
    assert!(managers().starts_with("kubectl/Apply/ "), "{}", managers());

    let changed = APPLIED_JOB
        .replace("parallelism: 2", "parallelism: 3")
        .replace("{app: x, tier: batch}", "{app: x}");
    assert!(apply(&changed, &[]).status.success());
    assert_eq!(
        s.kubectl_ok(&[
            "get",
            "job",
            "applied",
            "-o",
            "jsonpath={.spec.parallelism} {.metadata.labels}"
        ]),
        r#"3 {"app":"x"}"#,
        "the new value is merged and the label no longer applied is gone"
    );

    s.kubectl_ok(&[
        "patch",
        "job",
        "applied",
        "--type=merge",
        "-p",
        r#"{"spec":{"parallelism":5}}"#,
    ]);
    let refused = apply(&changed, &[]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.starts_with(
            "error: Apply failed with 1 conflict: conflict with \"kubectl-patch\" using batch/v1 at "
        ) && stderr.contains(": .spec.parallelism\n"),
        "{stderr}"
    );
    assert!(apply(&changed, &["--force-conflicts"]).status.success());
    assert_eq!(parallelism_of(&s, "applied"), "3");
    std::fs::write(file, &changed).unwrap();
    let diff = s.kubectl(&["diff", "--server-side", "-f", file]);
    assert_eq!(
        diff.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&diff.stdout)
    );
}

/// An object made without apply gets `before-first-apply` as the owner of what it had at its
/// first apply, with a time, and stays writable by every means afterwards.
#[test]
fn a_created_object_applied_later_stays_writable() {
    let s = Server::start();
    s.kubectl_ok(&["create", "cm", "made", "--from-literal=k1=orig"]);
    s.kubectl_stdin(
        &["apply", "--server-side", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: made}\ndata: {k1: orig, k2: v2}\n",
    );
    let times = s.kubectl_ok(&[
        "get",
        "cm",
        "made",
        "-o",
        "jsonpath={range .metadata.managedFields[*]}{.manager}={.time} {end}",
    ]);
    assert!(
        times.contains("before-first-apply=20") && times.contains("kubectl=20"),
        "each entry has its time: {times}"
    );
    s.kubectl_ok(&["label", "cm", "made", "team=a"]);
    s.kubectl_ok(&["patch", "cm", "made", "-p", r#"{"data":{"k3":"v3"}}"#]);
    assert_eq!(
        s.kubectl_ok(&["get", "cm", "made", "-o", "jsonpath={.data}"]),
        r#"{"k1":"orig","k2":"v2","k3":"v3"}"#
    );

    // From client-side to server-side apply: what the client-side apply set is kubectl's to
    // change, as upstream's lastAppliedManager allows.
    s.kubectl_stdin(&["apply", "-f", "-"], APPLIED_JOB);
    let moved = s.kubectl_with(
        &["apply", "--server-side", "-f", "-"],
        Some(&APPLIED_JOB.replace("parallelism: 2", "parallelism: 3")),
        &[],
    );
    assert!(
        moved.status.success(),
        "{}",
        String::from_utf8_lossy(&moved.stderr)
    );
    assert_eq!(parallelism_of(&s, "applied"), "3");
}

/// The fields of features off by default in 1.33 (a pod's own `resources`, a container's
/// `lifecycle.stopSignal`) are dropped on every write, so applying a file that sets them twice
/// is no change the second time, as upstream's `DropDisabledTemplateFields` makes it.
#[test]
fn alpha_fields_are_dropped_on_create_and_on_update() {
    let s = Server::start();
    let template = serde_json::json!({"spec": {"restartPolicy": "Never",
        "resources": {"limits": {"cpu": "1"}},
        "containers": [{"name": "c", "image": "busybox", "command": ["true"],
            "lifecycle": {"stopSignal": "SIGUSR1"}}]}});
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "alpha"},
            "spec": {"suspend": true, "template": template}},
        {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "alpha"},
            "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": template}}}},
    ]});
    for _ in 0..2 {
        s.kubectl_stdin(&["apply", "-f", "-"], &list.to_string());
    }
    for (kind, pointer) in [
        ("job", "/spec/template/spec"),
        ("cronjob", "/spec/jobTemplate/spec/template/spec"),
    ] {
        let got = s.kubectl_ok(&["get", kind, "alpha", "-o", "json"]);
        let pod_spec = json(&got).pointer(pointer).cloned().unwrap_or_default();
        assert!(pod_spec["resources"].is_null(), "{got}");
        assert!(pod_spec["containers"][0]["lifecycle"].is_null(), "{got}");
    }
}
