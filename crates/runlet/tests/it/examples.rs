//! Every file in `examples/` runs to completion with `runlet run -f` (issue 5: "Each runs with
//! `runlet run -f`"). The files run side by side, each in its own embedded stack.

use crate::harness::{BIN, run_bounded};
use std::process::Command;
use std::time::Duration;

/// What each example's output must show besides a clean exit.
const EXPECTED: &[(&str, &str)] = &[
    ("pi.yaml", "3.14159265358979323846"),
    ("db-migration.yaml", "database is at version 3"),
    ("data-processor.yaml", "10 succeeded, 0 failed"),
    ("indexed.yaml", "shard 4 squared is 16"),
    ("image-processor.yaml", "100 succeeded, 0 failed"),
    (
        "database-backup.yaml",
        "Backup completed successfully: /backup/backup-",
    ),
    ("cronjob.yaml", "backup done"),
];

#[test]
fn every_example_runs_to_completion() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    files.sort();
    for (name, _) in EXPECTED {
        assert!(files.iter().any(|f| f == name), "examples/{name} exists");
    }
    let runs: Vec<_> = files
        .iter()
        .map(|name| {
            let path = format!("{dir}/{name}");
            let name = name.clone();
            std::thread::spawn(move || {
                let mut cmd = Command::new(BIN);
                cmd.args(["run", "-f", &path]).env("RUNLET_LOG", "error");
                (name, run_bounded(cmd, None, Duration::from_secs(150)))
            })
        })
        .collect();
    let mut failures = Vec::new();
    for run in runs {
        let (name, out) = run.join().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let expected = EXPECTED
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, e)| *e)
            .unwrap_or("Complete");
        if out.status.code() != Some(0) || !stdout.contains(expected) {
            failures.push(format!(
                "examples/{name}: exit {:?}, expected {expected:?}\nstdout:\n{stdout}\nstderr:\n{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
