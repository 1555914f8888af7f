//! Where runlet keeps its state by default.

use std::path::PathBuf;

/// `RUNLET_DATA_DIR` when set (as `runlet server` and `runlet run` take it, so the client
/// commands find their server's kubeconfig there), else `/var/lib/runlet` as root, else
/// `~/.local/share/runlet`.
pub fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("RUNLET_DATA_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if is_root() {
        return PathBuf::from("/var/lib/runlet");
    }
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".local/share/runlet"),
        None => PathBuf::from(".runlet"),
    }
}

fn is_root() -> bool {
    // The effective uid of this process, read without unsafe code.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}
