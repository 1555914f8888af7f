//! Processes an earlier run of the agent left behind.
//!
//! A container's main process dies with the agent (its parent-death signal), and with it,
//! as the first process of the container's PID namespace, everything it started. A container
//! without a PID namespace of its own (`hostPID`, or one an earlier version of the agent
//! started) leaves what it started behind: after a `kill -9` of the agent, a shell's
//! background `sleep` runs on, reparented to init, although its pod is gone. The kubelet kills
//! a container it finds in an unknown state before anything else; the agent finds such
//! processes by the mount it gave
//! their container: each container (as root) has a private mount namespace in which its
//! termination-message file from `DATA/termination-log/` is bound, and every process it starts
//! inherits that namespace. So a process whose mount table binds a file of this agent's
//! termination-log directory belongs to a container of this agent, and at start-up, when no
//! container of this run exists yet, to one of an earlier run.

use std::path::{Component, Path, PathBuf};

/// Whether a `/proc/<pid>/mountinfo` text binds a file of `termination_dir` (an absolute path on
/// the file system `device`, `major:minor`): a mount of that file system whose root (field 4,
/// relative to the file system's root, with `//deleted` once the file was unlinked) is a file
/// directly in a directory whose path `termination_dir` ends with.
pub fn binds_a_file_of(mountinfo: &str, termination_dir: &Path, device: &str) -> bool {
    let dir: PathBuf = termination_dir
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect();
    mountinfo.lines().any(|line| {
        let mut fields = line.split(' ');
        let (Some(mount_device), Some(root)) = (fields.nth(2), fields.next()) else {
            return false;
        };
        if mount_device != device {
            return false;
        }
        let root = root.strip_suffix("//deleted").unwrap_or(root);
        let parent: PathBuf = Path::new(root)
            .parent()
            .unwrap_or(Path::new(""))
            .components()
            .filter(|c| matches!(c, Component::Normal(_)))
            .collect();
        !parent.as_os_str().is_empty() && dir.ends_with(&parent)
    })
}

/// The processes (pids) whose mount table binds a file of `termination_dir`.
pub fn find(termination_dir: &Path) -> Vec<i32> {
    let Ok(stat) = rustix::fs::stat(termination_dir) else {
        return Vec::new();
    };
    let device = format!(
        "{}:{}",
        rustix::fs::major(stat.st_dev),
        rustix::fs::minor(stat.st_dev)
    );
    other_processes()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))
                .is_ok_and(|info| binds_a_file_of(&info, termination_dir, &device))
        })
        .collect()
}

/// The processes (pids) in the mount namespace `ns` (`mnt:[<inode>]`, as `/proc/<pid>/ns/mnt`
/// links to it): a container's private one, which everything it starts inherits.
pub fn in_mount_namespace(ns: &str) -> Vec<i32> {
    other_processes()
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/ns/mnt"))
                .is_ok_and(|link| link.to_str() == Some(ns))
        })
        .collect()
}

/// Every process but the agent's own.
fn other_processes() -> impl Iterator<Item = i32> {
    let own = std::process::id();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(move |pid| u32::try_from(*pid).ok() != Some(own))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bound_termination_file_of_this_directory_is_recognised() {
        let dir = Path::new("/var/lib/runlet/agent/termination-log");
        let line = |root: &str| {
            format!("612 590 254:0 {root} /dev/termination-log rw,relatime - ext4 /dev/vda rw\n")
        };
        let plain = "25 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n";
        let ours = |text: &str| binds_a_file_of(text, dir, "254:0");
        assert!(!ours(plain));
        let bound = line("/var/lib/runlet/agent/termination-log/u1-c-0//deleted");
        assert!(ours(&format!("{plain}{bound}")));
        // On a file system mounted at /var/lib, the root is relative to it.
        assert!(ours(&line("/runlet/agent/termination-log/u1-c-0")));
        assert!(!ours(&line("/other/agent/termination-log/u1-c-0")));
        assert!(!ours(&line("/etc/hosts")));
        // The same path on another file system is another agent's.
        assert!(!binds_a_file_of(&bound, dir, "0:42"));
    }
}
