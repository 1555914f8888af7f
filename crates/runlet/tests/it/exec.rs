//! `kubectl exec` (and `kubectl cp`, which runs `tar` through it) with genuine kubectl, and
//! `runlet exec`: commands run in a running Job's container (its environment and volumes),
//! with stdin, a terminal of the client's size, the command's exit code as kubectl's,
//! upstream's errors, and through a remote node agent.

use crate::harness::{AgentProcess, BIN, Server, run_bounded, wait_until};
use std::process::{Command, Output};
use std::time::Duration;

/// A Job whose one pod runs until deleted, with an environment variable and an emptyDir its
/// container wrote to.
const SHELL_JOB: &str = "apiVersion: batch/v1
kind: Job
metadata:
  name: shell
spec:
  template:
    spec:
      restartPolicy: Never
      volumes:
      - name: work
        emptyDir: {}
      containers:
      - name: main
        image: busybox
        command: [\"sh\", \"-c\", \"echo written-by-the-container > /work/note; exec sleep 300\"]
        env:
        - name: GREETING
          value: hello
        volumeMounts:
        - name: work
          mountPath: /work
";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Applies [`SHELL_JOB`] and waits for its pod to run; the pod's name.
fn running_shell(s: &Server) -> String {
    s.kubectl_stdin(&["apply", "-f", "-"], SHELL_JOB);
    s.kubectl_ok(&[
        "wait",
        "--for=jsonpath={.status.phase}=Running",
        "pod",
        "-l",
        "batch.kubernetes.io/job-name=shell",
        "--timeout=60s",
    ]);
    s.kubectl_ok(&[
        "get",
        "pod",
        "-l",
        "batch.kubernetes.io/job-name=shell",
        "-o",
        "jsonpath={.items[0].metadata.name}",
    ])
}

fn exec(s: &Server, args: &[&str], stdin: Option<&str>) -> Output {
    let mut all = vec!["exec"];
    all.extend_from_slice(args);
    s.kubectl_with(&all, stdin, &[])
}

/// `runlet exec ARGS` (its flags before the `--` of `args`).
fn runlet_exec(s: &Server, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(["exec", "--kubeconfig"])
        .arg(s.kubeconfig())
        .args(args)
        .env_remove("KUBECONFIG");
    run_bounded(cmd, stdin, Duration::from_secs(60))
}

#[test]
fn kubectl_exec_runs_commands_in_the_container_with_its_environment_and_volumes() {
    let s = Server::start();
    let pod = running_shell(&s);

    // Through the Job, as kubectl resolves it to a pod: stdout, stderr and the exit code.
    let out = exec(
        &s,
        &[
            "job/shell",
            "--",
            "sh",
            "-c",
            "echo $GREETING; cat /work/note; echo to-stderr >&2; exit 3",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hello\nwritten-by-the-container\n");
    let said = text(&out.stderr);
    assert!(said.contains("to-stderr\n"), "{said}");
    assert!(
        said.contains("command terminated with exit code 3"),
        "{said}"
    );

    // stdin until its end (the version 5 protocol closes it without closing the connection).
    let out = exec(
        &s,
        &["-i", &pod, "--", "sh", "-c", "tr a-z A-Z; echo end"],
        Some("piped text\nsecond line\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "PIPED TEXT\nSECOND LINE\nend\n");

    // What the command writes stays in the pod's volume.
    let out = exec(
        &s,
        &[&pod, "--", "sh", "-c", "echo from-exec > /work/exec-note"],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = exec(&s, &[&pod, "--", "cat", "/work/exec-note"], None);
    assert_eq!(text(&out.stdout), "from-exec\n");

    // `kubectl cp` rides on exec (`tar` in the container), both ways, into the volume.
    let local = tempfile::tempdir().expect("tempdir");
    let sent = local.path().join("sent.txt");
    std::fs::write(&sent, "copied in\n").expect("write");
    s.kubectl_ok(&[
        "cp",
        sent.to_str().expect("utf-8 path"),
        &format!("{pod}:/work/sent.txt"),
    ]);
    let out = exec(&s, &[&pod, "--", "cat", "/work/sent.txt"], None);
    assert_eq!(text(&out.stdout), "copied in\n");
    let back = local.path().join("note");
    s.kubectl_ok(&[
        "cp",
        &format!("{pod}:/work/note"),
        back.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(
        std::fs::read_to_string(&back).expect("copied back"),
        "written-by-the-container\n"
    );

    // A program that is not there: the runtime's words, kubectl's exit code 1.
    let out = exec(&s, &[&pod, "--", "no-such-program"], None);
    assert_eq!(out.status.code(), Some(1));
    let said = text(&out.stderr);
    assert!(
        said.contains(r#"exec: "no-such-program": executable file not found in $PATH"#),
        "{said}"
    );
    // A container the pod does not have: upstream's 400.
    let out = exec(&s, &[&pod, "-c", "nope", "--", "true"], None);
    assert!(!out.status.success());
    let said = text(&out.stderr);
    assert!(
        said.contains(&format!("container nope is not valid for pod {pod}")),
        "{said}"
    );
    // Discovery lists the subresource as upstream does.
    let resources = s.kubectl_ok(&["get", "--raw", "/api/v1"]);
    let resources: serde_json::Value = serde_json::from_str(&resources).expect("JSON");
    let entry = resources["resources"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["name"] == "pods/exec"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(entry["kind"], "PodExecOptions");
    assert_eq!(entry["verbs"], serde_json::json!(["create", "get"]));

    // runlet's own CLI does the same without kubectl.
    let out = runlet_exec(
        &s,
        &[
            "job/shell",
            "--",
            "sh",
            "-c",
            "echo $GREETING; echo e >&2; exit 6",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hello\n");
    assert_eq!(
        text(&out.stderr),
        "e\ncommand terminated with exit code 6\n"
    );
    let out = runlet_exec(
        &s,
        &["-i", &pod, "--", "tr", "a-z", "A-Z"],
        Some("in put\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "IN PUT\n");
    let out = runlet_exec(&s, &[&pod, "--", "no-such-program"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("error: Internal error occurred: "),
        "{}",
        text(&out.stderr)
    );
    let out = runlet_exec(&s, &["job/nothing", "--", "true"], None);
    assert_eq!(
        text(&out.stderr),
        "Error from server (NotFound): jobs.batch \"nothing\" not found\n"
    );

    // Not a WebSocket upgrade: upstream's 400, and nothing runs.
    let raw = s.kubectl(&[
        "get",
        "--raw",
        &format!("/api/v1/namespaces/default/pods/{pod}/exec?command=true&stdout=true"),
    ]);
    assert!(!raw.status.success());
    assert!(
        text(&raw.stderr).contains("Upgrade request required"),
        "{}",
        text(&raw.stderr)
    );
}

/// `kubectl exec -it` and `runlet exec -it` on a real terminal (`script` gives them one): the
/// command gets a terminal as its stdin and stdout, of the size of the client's.
#[test]
fn exec_it_gives_the_command_a_terminal_of_the_clients_size() {
    let s = Server::start();
    let pod = running_shell(&s);
    // The size comes over the connection after the upgrade; the command starts once it is
    // there, so it is the first thing the command sees.
    let remote = "stty size; tty; echo TERM=$TERM; exit 4";
    for client in ["kubectl", BIN] {
        let inner = format!("stty cols 91 rows 17; {client} exec -it {pod} -- sh -c '{remote}'");
        let mut cmd = Command::new("script");
        cmd.args(["-q", "-e", "-c", &inner, "/dev/null"])
            .env("KUBECONFIG", s.kubeconfig());
        let out = run_bounded(cmd, Some(""), Duration::from_secs(60));
        let shown = text(&out.stdout);
        assert!(shown.contains("17 91\r\n"), "{client}: {shown}");
        assert!(shown.contains("/dev/pts/"), "{client}: a terminal: {shown}");
        assert!(shown.contains("TERM=xterm"), "{client}: {shown}");
        assert!(
            shown.contains("command terminated with exit code 4"),
            "{client}: {shown}"
        );
        assert_eq!(out.status.code(), Some(4), "{client}: {shown}");
    }
}

/// A pod on another machine's agent: the API server relays the exec to the agent's endpoint.
#[test]
fn kubectl_exec_reaches_a_pod_on_a_remote_agent() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let s = Server::start_with(tmp.path(), &["--disable-agent"]);
    let ca = s.data_dir.join("tls/ca.crt");
    let _agent = AgentProcess::start(
        &s,
        "remote",
        &tmp.path().join("remote"),
        &[
            "--ca-file",
            ca.to_str().expect("utf-8 path"),
            "--log-bind",
            "127.0.0.1:0",
        ],
    );
    wait_until(Duration::from_secs(60), "the remote node is Ready", || {
        s.kubectl(&[
            "get",
            "node",
            "remote",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
        ])
        .stdout
            == b"True"
    });
    let pod = running_shell(&s);
    let node = s.kubectl_ok(&["get", "pod", &pod, "-o", "jsonpath={.spec.nodeName}"]);
    assert_eq!(node, "remote");
    let out = exec(
        &s,
        &[
            "-i",
            &pod,
            "--",
            "sh",
            "-c",
            "cat; echo $GREETING >&2; exit 5",
        ],
        Some("relayed\n"),
    );
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "relayed\n");
    assert!(
        text(&out.stderr).starts_with("hello\n"),
        "{}",
        text(&out.stderr)
    );
    let out = exec(&s, &[&pod, "-c", "main", "--", "no-such-program"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("executable file not found in $PATH"),
        "{}",
        text(&out.stderr)
    );
    // With its node gone from the API, kubectl's retry over SPDY says so too.
    s.kubectl_ok(&["delete", "node", "remote"]);
    let out = exec(&s, &[&pod, "--", "true"], None);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("nodes \"remote\" not found"),
        "{}",
        text(&out.stderr)
    );
}
