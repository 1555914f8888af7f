//! The web console in a real browser: runs the Playwright suite in `tests/console/` (Node's
//! test runner, Debian's Chromium) against this build of the `runlet` binary, so `cargo test`
//! covers the console. The suite starts its own server (see `tests/console/harness.mjs`).
//!
//! Needs `node`, `/usr/bin/chromium` and `npm ci` in `tests/console` (`.ci/run` installs all
//! three). Without them the test says what is missing and passes, except under CI (`CI` set),
//! where a missing prerequisite fails it.

use crate::harness::{BIN, run_bounded};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

#[test]
fn console_browser_suite() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let suite = root.join("tests/console");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let missing: Vec<&str> = [
        (!suite.join("node_modules/playwright-core").exists())
            .then_some("tests/console/node_modules (run `npm ci` in tests/console)"),
        (!Path::new(&chromium).exists()).then_some("chromium (`apt-get install chromium`)"),
        Command::new("node")
            .arg("--version")
            .output()
            .is_err()
            .then_some("node"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !missing.is_empty() {
        assert!(
            std::env::var_os("CI").is_none(),
            "console browser tests need: {}",
            missing.join(", ")
        );
        eprintln!(
            "skipping the console browser tests; missing: {}",
            missing.join(", ")
        );
        return;
    }
    let mut cmd = Command::new("node");
    cmd.args(["--test", "--test-concurrency=1", "tests/console/"])
        .current_dir(&root)
        .env("RUNLET_BIN", BIN)
        .env("CHROMIUM", &chromium);
    let out = run_bounded(cmd, None, Duration::from_secs(600));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "console browser suite failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("# fail 0"), "{stdout}");
}
