//! `runlet run -f FILE`: the one-command path, with its exit codes and output.

use crate::harness::{BIN, run_bounded};
use std::process::{Command, Output};
use std::time::Duration;

fn runlet_run(file: &str) -> Output {
    runlet_run_with(&[], file)
}

/// `runlet run` with `options` before `-f file`, bounded.
fn runlet_run_with(options: &[&std::ffi::OsStr], file: &str) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("run")
        .args(options)
        .args(["-f", file])
        .env("RUNLET_LOG", "error");
    run_bounded(cmd, None, Duration::from_secs(120))
}

/// A Job named `pi` that does nothing.
const PI_LIKE: &str = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: pi\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: c\n        image: busybox\n        command: [\"true\"]\n";

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn run_completes_the_example_job_and_prints_its_logs() {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/pi.yaml");
    let out = runlet_run(file);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("3.14159265358979323846"),
        "the pod's log is streamed: {stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("[pi-") && l.contains("3.14159")),
        "lines carry the pod name: {stdout}"
    );
    assert!(stdout.contains("job.batch/pi: Complete"), "{stdout}");
    assert!(stdout.contains("1 succeeded, 0 failed"), "{stdout}");
}

#[test]
fn run_exits_1_when_a_job_fails_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        &dir,
        "fail.yaml",
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: flaky\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: c\n        image: busybox\n        command: [\"sh\", \"-c\", \"echo giving up; exit 3\"]\n",
    );
    let out = runlet_run(&file);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("[flaky-") && stdout.contains("giving up"),
        "{stdout}"
    );
    assert!(stdout.contains("job.batch/flaky: Failed"), "{stdout}");
    assert!(stdout.contains("BackoffLimitExceeded"), "{stdout}");
}

#[test]
fn run_shows_the_logs_of_init_containers_and_of_every_attempt() {
    let dir = tempfile::tempdir().unwrap();
    // The first attempt fails and is restarted in place at once (upstream's first restart has
    // no back-off); the count survives in the pod's working directory.
    let file = write(
        &dir,
        "retry.yaml",
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: retry\nspec:\n  template:\n    spec:\n      restartPolicy: OnFailure\n      initContainers:\n      - name: prepare\n        image: busybox\n        command: [\"sh\", \"-c\", \"echo from-init\"]\n      containers:\n      - name: work\n        image: busybox\n        command: [\"sh\", \"-c\", \"n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; echo attempt-$n; [ $n -ge 2 ]\"]\n",
    );
    let out = runlet_run(&file);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    for (what, line) in [
        ("the init container", "/prepare] from-init"),
        ("the failed attempt", "/work] attempt-1"),
        ("the attempt that succeeded", "/work] attempt-2"),
    ] {
        assert_eq!(
            stdout.lines().filter(|l| l.ends_with(line)).count(),
            1,
            "{what} is shown once: {stdout}"
        );
    }
    let first = stdout.find("attempt-1").unwrap_or(usize::MAX);
    let second = stdout.find("attempt-2").unwrap_or(0);
    assert!(first < second, "oldest attempt first: {stdout}");
}

#[test]
fn run_says_why_a_pod_waits_or_fails() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        &dir,
        "stuck.yaml",
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: stuck\nspec:\n  activeDeadlineSeconds: 2\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: c\n        image: busybox\n        command: [\"true\"]\n        env:\n        - name: X\n          valueFrom: {secretKeyRef: {name: absent, key: k}}\n---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: nocmd\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: c\n        image: busybox\n",
    );
    // A volume that cannot be made is told by its Warning event (the pod's status only says
    // ContainerCreating).
    let volume = write(
        &dir,
        "volume.yaml",
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: novolume\nspec:\n  activeDeadlineSeconds: 3\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: c\n        image: busybox\n        command: [\"true\"]\n        volumeMounts: [{name: v, mountPath: /cfg}]\n      volumes:\n      - name: v\n        configMap: {name: absent}\n",
    );
    let out = runlet_run(&volume);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let warned = |l: &&str| {
        l.contains("] Warning FailedMount: MountVolume.SetUp failed for volume \"v\"")
            && l.contains("configmap \"absent\" not found")
    };
    assert_eq!(stderr.lines().filter(warned).count(), 1, "once: {stderr}");

    let out = runlet_run(&file);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for note in [
        "] container c waiting: CreateContainerConfigError: secret \"absent\" not found",
        "] container c exited with 128 (StartError): the container has no command",
    ] {
        assert_eq!(
            stderr.lines().filter(|l| l.contains(note)).count(),
            1,
            "{note:?} once: {stderr}"
        );
    }
}

#[test]
fn run_exits_2_on_bad_input_with_the_field_path() {
    let dir = tempfile::tempdir().unwrap();
    let invalid = write(
        &dir,
        "invalid.yaml",
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: bad\nspec:\n  completions: -1\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: c\n        image: busybox\n",
    );
    let out = runlet_run(&invalid);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("spec.completions: Invalid value: -1: must be greater than or equal to 0"),
        "{stderr}"
    );

    // A misspelt field is refused, as kubectl apply's strict validation refuses it.
    let typo = write(
        &dir,
        "typo.yaml",
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: typo\nspec:\n  completionz: 3\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: c\n        image: busybox\n        command: [\"true\"]\n",
    );
    let out = runlet_run(&typo);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown field \"spec.completionz\""),
        "{stderr}"
    );
    // A value of the wrong type names its field.
    let typed = write(
        &dir,
        "typed.yaml",
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: typed\nspec:\n  parallelism: three\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: c\n        image: busybox\n        command: [\"true\"]\n",
    );
    let out = runlet_run(&typed);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot be handled as a Job: spec.parallelism: invalid type"),
        "{stderr}"
    );
    // A bad document further down stops the run before anything is created.
    let mixed = write(
        &dir,
        "mixed.yaml",
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: fine\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: c\n        image: busybox\n        command: [\"true\"]\n---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: bad\nspec:\n  parallelism: -1\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: c\n        image: busybox\n",
    );
    let out = runlet_run(&mixed);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("spec.parallelism") && !stderr.contains("created"),
        "{stderr}"
    );

    // Nothing is written either when the bad Job goes into a namespace the file makes (the
    // dry run tries it in `default`), or when the file names one object twice.
    let in_new_namespace = write(
        &dir,
        "namespaced.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: fresh\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: fresh\n---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: bad\n  namespace: fresh\nspec:\n  parallelism: -1\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: c\n        image: busybox\n",
    );
    let twice = write(&dir, "twice.yaml", &format!("{}---\n{}", PI_LIKE, PI_LIKE));
    for (file, says) in [
        (&in_new_namespace, "spec.parallelism"),
        (&twice, "job.batch/pi is in the file more than once"),
    ] {
        let out = runlet_run(file);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(says) && !stderr.contains("created"),
            "{stderr}"
        );
    }
    // A bare Pod would be run by nothing: refused, not created and left.
    let pod = write(
        &dir,
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: busybox\n",
    );
    let out = runlet_run(&pod);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not bare Pods"), "{stderr}");

    let garbage = write(&dir, "garbage.yaml", "kind: [unclosed\n");
    assert_eq!(runlet_run(&garbage).status.code(), Some(2));
    let missing = runlet_run("/nonexistent/job.yaml");
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/job.yaml"));
}

#[test]
fn run_twice_on_one_data_dir_updates_what_jobs_read_and_refuses_the_same_job() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = |file: &str, quiet: bool| {
        let mut cmd = Command::new(BIN);
        cmd.args(["run", "--data-dir"])
            .arg(&data)
            .args(["-f", file]);
        if quiet {
            cmd.arg("-q");
        }
        cmd.env("RUNLET_LOG", "error");
        run_bounded(cmd, None, Duration::from_secs(120))
    };
    // A ConfigMap that exists is brought up to what the file says; a Job named by
    // generateName is a new Job each time.
    let reader = |value: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  v: \"{value}\"\n---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  generateName: reader-\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: c\n        image: busybox\n        command: [\"sh\", \"-c\", \"echo value-$V\"]\n        env:\n        - name: V\n          valueFrom: {{configMapKeyRef: {{name: cfg, key: v}}}}\n"
        )
    };
    let first = write(&dir, "first.yaml", &reader("one"));
    let out = run(&first, false);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let second = write(&dir, "second.yaml", &reader("two"));
    let out = run(&second, false);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("configmap/cfg configured"), "{stderr}");
    assert!(stdout.contains("value-two"), "{stdout}");

    // A Job of the same name is a conflict, found before anything is written.
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/database-backup.yaml"
    );
    assert_eq!(run(file, true).status.code(), Some(0));
    let again = run(file, true);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("jobs.batch \"database-backup\" already exists: delete it first")
            && !stderr.contains("configured"),
        "{stderr}"
    );

    // Named by generateName, the backup runs again: the bound claim and the Secret are left as
    // they are, as `kubectl apply` leaves them (replacing the claim would drop the volumeName
    // its binding set, which is immutable).
    let text = std::fs::read_to_string(file).unwrap().replace(
        "  name: database-backup\n",
        "  generateName: database-backup-\n",
    );
    let rerun = write(&dir, "backup-again.yaml", &text);
    let out = run(&rerun, false);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    for unchanged in [
        "persistentvolumeclaim/backup-pvc unchanged",
        "secret/db-credentials unchanged",
    ] {
        assert!(stderr.contains(unchanged), "{stderr}");
    }
    assert!(stdout.contains("Backup completed successfully"), "{stdout}");

    // A file that makes its namespace runs again too: the namespace exists the second time,
    // and what goes in it is found as existing, not created again.
    let in_team = write(
        &dir,
        "team.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: team\nstringData:\n  k: v\n---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  generateName: j-\n  namespace: team\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: c\n        image: busybox\n        command: [\"true\"]\n",
    );
    assert_eq!(run(&in_team, true).status.code(), Some(0));
    let again = run(&in_team, true);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("secret/s unchanged"), "{stderr}");

    // A Job left unfinished in the data directory (its server killed) runs again beside the
    // next run's: the run says so.
    {
        let server = crate::harness::Server::start_in(&data);
        server.kubectl_ok(&[
            "create",
            "job",
            "leftover",
            "--image=busybox",
            "--",
            "sleep",
            "600",
        ]);
    }
    let out = run(&in_team, true);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("note: job.batch/leftover (namespace default), left unfinished by an earlier run in this data directory, runs too"),
        "{stderr}"
    );
}

#[test]
fn run_takes_a_directory_as_kubectl_apply_does() {
    let dir = tempfile::tempdir().unwrap();
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    for f in ["pi.yaml", "indexed.yaml"] {
        std::fs::copy(format!("{examples}/{f}"), dir.path().join(f)).unwrap();
    }
    std::fs::write(dir.path().join("notes.txt"), "not a manifest").unwrap();
    let out = runlet_run(&format!("{}", dir.path().display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("job.batch/pi: Complete")
            && stdout.contains("job.batch/indexed-squares: Complete"),
        "{stdout}"
    );
}

#[test]
fn run_makes_the_namespace_it_is_given_on_its_own_server() {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/pi.yaml");
    let mut cmd = Command::new(BIN);
    cmd.args(["run", "-q", "-n", "team-a", "-f", file])
        .env("RUNLET_LOG", "error");
    let out = run_bounded(cmd, None, Duration::from_secs(120));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("namespace/team-a created"), "{stderr}");
}

#[test]
fn run_runs_a_cronjob_once_and_parallel_jobs_together() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        &dir,
        "mixed.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  greeting: hello\n---\n\
apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: nightly\nspec:\n  schedule: \"0 3 * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: OnFailure\n          containers:\n          - name: c\n            image: busybox\n            command: [\"sh\", \"-c\", \"echo nightly run\"]\n---\n\
apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: fanout\nspec:\n  completions: 4\n  parallelism: 2\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: c\n        image: busybox\n        command: [\"sh\", \"-c\", \"echo $GREETING from $HOSTNAME\"]\n        env:\n        - name: GREETING\n          valueFrom:\n            configMapKeyRef: {name: settings, key: greeting}\n",
    );
    let out = runlet_run(&file);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("nightly run"), "{stdout}");
    assert_eq!(
        stdout.matches("hello from").count(),
        4,
        "four completions, env from the ConfigMap: {stdout}"
    );
    assert!(
        stdout.contains("job.batch/fanout: Complete") && stdout.contains("4 succeeded, 0 failed"),
        "{stdout}"
    );
}

#[test]
fn run_reports_jobs_their_ttl_deleted_at_once_and_passes_log_bytes_on() {
    // Jobs gone as soon as they finish may be deleted before the run reads them: their
    // history still says how they ended. A line that is not UTF-8 comes through as it is.
    let dir = tempfile::tempdir().unwrap();
    let job = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  generateName: quick-\nspec:\n  ttlSecondsAfterFinished: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: c\n        image: busybox\n        command: [\"sh\", \"-c\", \"printf 'caf\\\\351\\\\n'; echo after\"]\n";
    let file = write(&dir, "ttl.yaml", &[job; 5].join("---\n"));
    let out = runlet_run(&file);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.matches(": Complete in ").count(), 5, "{stdout}");
    let raw_lines = out
        .stdout
        .split(|b| *b == b'\n')
        .filter(|l| l.ends_with(b" caf\xe9"))
        .count();
    assert_eq!(raw_lines, 5, "the byte 0xe9 is passed on: {stdout}");
    assert_eq!(stdout.matches("] after").count(), 5, "{stdout}");
}

#[test]
fn run_stops_the_pods_gracefully_when_its_output_is_closed() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        &dir,
        "long.yaml",
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: long\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      terminationGracePeriodSeconds: 5\n      containers:\n      - name: c\n        image: busybox\n        command: [\"sh\", \"-c\", \"trap 'echo stopping >&2; exit 0' TERM; echo first; sleep 0.5; echo second; while true; do sleep 0.1; done\"]\n",
    );
    let mut child = Command::new(BIN)
        .args(["run", "-f", &file])
        .env("RUNLET_LOG", "error")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut { stderr }, &mut text);
        text
    });
    // `| head -1`: the reader takes the first line and goes.
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.contains("first"), "{first}");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the run went on with its output closed");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = err_reader.join().unwrap();
    assert_eq!(status.code(), Some(141), "{stderr}");
    assert!(
        stderr.contains("output closed: stopping the Jobs' pods gracefully"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn run_refused_leaves_no_namespace_behind() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = |file: &str| {
        runlet_run_with(
            &["-q".as_ref(), "--data-dir".as_ref(), data.as_os_str()],
            file,
        )
    };
    let bad = write(
        &dir,
        "bad.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: newns\ndata:\n  a: b\n---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: j\n  namespace: newns\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: c\n        image: busybox\n        command: [\"true\"]\n        resources:\n          limits:\n            cpu: banana\n",
    );
    let out = run(&bad);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("namespace/newns created"), "{stderr}");
    // The namespace is made by the run that goes ahead.
    let good = write(
        &dir,
        "good.yaml",
        &PI_LIKE.replace("name: pi", "name: pi\n  namespace: newns"),
    );
    let out = run(&good);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("namespace/newns created"), "{stderr}");
}
