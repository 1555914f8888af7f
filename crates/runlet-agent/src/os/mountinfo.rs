//! What is mounted where, from `/proc/self/mountinfo`: a pod directory must be unmounted
//! before it can be removed, and the agent may not remember what it mounted there (an earlier
//! run that was killed left its tmpfs mounts behind, secrets in them).

use std::path::{Path, PathBuf};

/// The mount points at or below `root` in the agent's mount namespace, deepest first (the
/// order to unmount them in).
pub fn mount_points_under(root: &Path) -> Vec<PathBuf> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .map(|text| points_under(&text, root))
        .unwrap_or_default()
}

fn points_under(mountinfo: &str, root: &Path) -> Vec<PathBuf> {
    let mut points: Vec<PathBuf> = mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|field| PathBuf::from(unescape(field)))
        .filter(|p| p.starts_with(root))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    points.dedup();
    points
}

/// The kernel writes space, tab, newline and backslash in a mount point as `\ooo` octal.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_points_under_a_directory_come_deepest_first_and_unescaped() {
        let text = "\
22 1 252:1 / / rw,relatime shared:1 - ext4 /dev/vda rw
90 22 0:50 / /data/pod-volumes/u1/volumes/sec rw shared:40 - tmpfs tmpfs rw
91 22 0:51 / /data/pod-volumes/u1/volumes/my\\040dir rw shared:41 - tmpfs tmpfs rw
92 90 0:52 / /data/pod-volumes/u1/volumes/sec/inner rw shared:42 - tmpfs tmpfs rw
93 22 0:53 / /data/pod-volumes/u10/volumes/x rw shared:43 - tmpfs tmpfs rw
";
        assert_eq!(
            points_under(text, Path::new("/data/pod-volumes/u1")),
            [
                "/data/pod-volumes/u1/volumes/sec/inner",
                "/data/pod-volumes/u1/volumes/sec",
                "/data/pod-volumes/u1/volumes/my dir",
            ]
            .map(PathBuf::from)
        );
    }
}
