//! The official Python `kubernetes` client against the real server: runs
//! `tests/python/test_client.py` (unittest) with the server's kubeconfig.

use crate::harness::{Server, run_bounded};
use std::process::Command;
use std::time::Duration;

#[test]
fn official_python_client_suite() {
    let s = Server::start();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/test_client.py");
    let mut cmd = Command::new("python3");
    cmd.args(["-m", "unittest", "-v", script])
        .env("KUBECONFIG", s.kubeconfig());
    let out = run_bounded(cmd, None, Duration::from_secs(300));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "python client suite failed:\n{stderr}\nserver log:\n{}",
        s.log()
    );
    assert!(stderr.contains("OK"), "unittest reported success: {stderr}");
}
