//! The capabilities a container keeps, as containerd's CRI plugin gives them: a non-privileged
//! container starts from the runtime's default set (containerd's `DefaultCapabilities`:
//! `CapEff` `00000000a80425fb` for a root process), `securityContext.capabilities.add` and
//! `drop` change it (`ALL` first, then each name, with or without its `CAP_` prefix), and a
//! privileged one keeps everything. The spawn drops the rest from the process's bounding set
//! before its `execve`, which is what a root process's capabilities are computed from; a
//! process of another user has none to begin with.

use k8s_openapi::api::core::v1::Capabilities;

/// Every capability the kernel knows today, by number (`CAP_LAST_CAP` is 40).
const NAMES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// containerd's default set for a container that is not privileged.
const DEFAULTS: [&str; 14] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "MKNOD",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
];

/// Every capability, as a mask of their numbers.
pub const ALL: u64 = (1 << NAMES.len()) - 1;
/// The highest capability number known here.
pub const LAST: u32 = NAMES.len() as u32 - 1;

fn bit(name: &str) -> Option<u64> {
    let upper = name.to_ascii_uppercase();
    let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
    NAMES.iter().position(|n| *n == bare).map(|i| 1 << i)
}

/// The capabilities a container keeps, as a mask of their numbers; names the kernel does not
/// know are left out (upstream's runtime refuses them at the start; validation lets them in).
pub fn kept(privileged: bool, caps: Option<&Capabilities>) -> u64 {
    if privileged {
        return ALL;
    }
    let mut mask = DEFAULTS.iter().filter_map(|n| bit(n)).fold(0, |m, b| m | b);
    let add = caps.and_then(|c| c.add.as_deref()).unwrap_or_default();
    let drop = caps.and_then(|c| c.drop.as_deref()).unwrap_or_default();
    let is_all = |n: &String| n.eq_ignore_ascii_case("ALL");
    if add.iter().any(is_all) {
        mask = ALL;
    }
    if drop.iter().any(is_all) {
        mask = 0;
    }
    for name in add.iter().filter(|n| !is_all(n)) {
        mask |= bit(name).unwrap_or(0);
    }
    for name in drop.iter().filter(|n| !is_all(n)) {
        mask &= !bit(name).unwrap_or(0);
    }
    mask
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(add: &[&str], drop: &[&str]) -> Capabilities {
        Capabilities {
            add: Some(add.iter().map(|s| s.to_string()).collect()),
            drop: Some(drop.iter().map(|s| s.to_string()).collect()),
        }
    }

    #[test]
    fn the_default_set_is_containerd_s_and_add_and_drop_change_it() {
        assert_eq!(kept(false, None), 0xa80425fb);
        assert_eq!(kept(true, Some(&caps(&[], &["ALL"]))), ALL);
        assert_eq!(kept(false, Some(&caps(&[], &["ALL"]))), 0);
        assert_eq!(
            kept(false, Some(&caps(&["NET_ADMIN"], &["CAP_CHOWN"]))),
            (0xa80425fb | 1 << 12) & !1
        );
        assert_eq!(
            kept(false, Some(&caps(&["ALL"], &["SYS_ADMIN"]))),
            ALL & !(1 << 21)
        );
        assert_eq!(kept(false, Some(&caps(&["chown"], &["ALL"]))), 1);
    }
}
