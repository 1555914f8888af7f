//! Container logs: written in the CRI log format, one file per container attempt, and read back
//! for `GET pods/{name}/log` with upstream's options.
//!
//! Layout: the kubelet's `/var/log/pods/<namespace>_<pod>_<uid>/<container>/<N>.log` flattened
//! into one directory, `<root>/<namespace>_<pod>_<uid>_<container>.<N>.log`, where `N` is the
//! attempt (the container's restartCount when it started, so attempts count from 0 without
//! gaps). Namespaces, pod and container names are DNS labels or subdomains, which hold no `_`,
//! so a name splits back unambiguously. No directory is made per pod: on a busy node `mkdir` was
//! a tenth of the agent's CPU, since ext4 searches past recently freed inodes. Each line is
//! `<RFC3339 timestamp with 9 fraction digits> <stdout|stderr> <F|P> <content>`; `P` marks a
//! partial line cut at [`MAX_LINE`] bytes, `F` a full one whose newline is not stored.
//!
//! A file that grows past [`Rotation::max_size`] is rotated as the kubelet's container log
//! manager rotates it: renamed to `<file>.<YYYYMMDD-HHMMSS>` and started afresh, with at most
//! [`Rotation::max_files`] files per attempt (the current one included), the oldest removed.
//! The kubelet looks at the files of running containers every 10 s, so a file is rotated at
//! most every [`Rotation::interval_ms`], and never in its container's first 10 s: a Job that
//! prints a large result and exits keeps all of it in the file that `kubectl logs` reads.
//! Reading serves the current file, as upstream's `ReadLogs` does; a follower moves on to the
//! new file when the one it reads is rotated. Rotated files are not compressed.
//!
//! [`retention`] decides when a pod's files go (with the pod, or with its Job's PodRecord);
//! [`serve`] is the HTTPS endpoint through which the API server reads them from another
//! machine.

pub mod read;
pub mod retention;
pub mod serve;
pub mod write;

pub use read::{LogOptions, LogStream};
pub use runlet_api::logs::LogRequest;
pub use write::{copy_to_cri, open_cri_log};

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Longest line content written as one CRI entry (containerd's default buffer).
pub const MAX_LINE: usize = 16 * 1024;

/// A failure to serve logs.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// No such pod on this node, or no such container in it.
    #[error("{0}")]
    NotFound(String),
    /// The request cannot be answered as asked (e.g. no previous attempt).
    #[error("{0}")]
    BadRequest(String),
    #[error("reading {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// One pod's log files (`<namespace>_<pod>_<uid>_<container>.<N>.log`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodLogs {
    pub namespace: String,
    pub pod: String,
    pub uid: String,
    pub files: Vec<PathBuf>,
}

/// When a container's log file is rotated, and how many of its files are kept: the kubelet's
/// `containerLogMaxSize`, `containerLogMaxFiles` and `containerLogMonitorInterval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// A file is rotated once it holds this many bytes (upstream 10 MiB).
    pub max_size: u64,
    /// Files kept per container attempt, the one being written included (upstream 5; at
    /// least 2, as the kubelet's validation asks).
    pub max_files: u32,
    /// A file is rotated at most this often, counted from its container's start (upstream
    /// 10 s; see [`write::copy_to_cri`]).
    pub interval_ms: i64,
}

impl Default for Rotation {
    fn default() -> Self {
        Rotation {
            max_size: 10 * 1024 * 1024,
            max_files: 5,
            interval_ms: 10_000,
        }
    }
}

/// Where logs live, how they are rotated and which files are still being written.
#[derive(Debug, Clone)]
pub struct LogStore {
    root: PathBuf,
    rotation: Rotation,
    live: Arc<Mutex<HashSet<PathBuf>>>,
}

impl LogStore {
    /// A store with the kubelet's default rotation.
    pub fn new(root: PathBuf) -> Self {
        Self::with_rotation(root, Rotation::default())
    }

    pub fn with_rotation(root: PathBuf, rotation: Rotation) -> Self {
        LogStore {
            root,
            rotation: Rotation {
                max_size: rotation.max_size.max(1),
                max_files: rotation.max_files.max(2),
                interval_ms: rotation.interval_ms,
            },
            live: Arc::default(),
        }
    }

    pub fn rotation(&self) -> Rotation {
        self.rotation
    }

    /// The file of one container attempt.
    pub fn attempt_file(
        &self,
        namespace: &str,
        pod: &str,
        uid: &str,
        container: &str,
        attempt: u32,
    ) -> PathBuf {
        self.root
            .join(format!("{namespace}_{pod}_{uid}_{container}.{attempt}.log"))
    }

    /// The attempts of a container that have a log file, oldest first. Only the newest two
    /// attempts keep theirs (see `pod::containers`), so after two restarts the first attempt
    /// with a file is not 0: the directory is read. Only a pod record's log, which names no
    /// attempt, asks.
    pub fn attempts(&self, namespace: &str, pod: &str, uid: &str, container: &str) -> Vec<u32> {
        let prefix = format!("{namespace}_{pod}_{uid}_{container}.");
        let mut attempts: Vec<u32> = std::fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name();
                name.to_str()?
                    .strip_prefix(&prefix)?
                    .strip_suffix(".log")?
                    .parse()
                    .ok()
            })
            .collect();
        attempts.sort_unstable();
        attempts
    }

    pub(crate) fn set_live(&self, path: &Path, live: bool) {
        if let Ok(mut set) = self.live.lock() {
            if live {
                set.insert(path.to_path_buf());
            } else {
                set.remove(path);
            }
        }
    }

    pub(crate) fn is_live(&self, path: &Path) -> bool {
        self.live.lock().map(|s| s.contains(path)).unwrap_or(false)
    }

    /// The log files under the root, by pod.
    pub fn pods(&self) -> Vec<PodLogs> {
        let mut by_pod: std::collections::HashMap<(String, String, String), Vec<PathBuf>> =
            std::collections::HashMap::new();
        for entry in std::fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
        {
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let mut parts = name.splitn(4, '_');
            if let (Some(namespace), Some(pod), Some(uid), Some(_container)) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            {
                by_pod
                    .entry((namespace.to_string(), pod.to_string(), uid.to_string()))
                    .or_default()
                    .push(entry.path());
            }
        }
        by_pod
            .into_iter()
            .map(|((namespace, pod, uid), files)| PodLogs {
                namespace,
                pod,
                uid,
                files,
            })
            .collect()
    }

    /// Removes one attempt's log file and the files rotated out of it.
    pub fn remove_attempt(
        &self,
        namespace: &str,
        pod: &str,
        uid: &str,
        container: &str,
        attempt: u32,
    ) {
        let path = self.attempt_file(namespace, pod, uid, container, attempt);
        for f in rotated_files(&path) {
            let _ = std::fs::remove_file(f);
        }
        let _ = std::fs::remove_file(path);
    }

    /// Removes a pod's logs (when nothing refers to them any more, see [`retention`]).
    pub fn remove_pod(&self, logs: &PodLogs) {
        for f in &logs.files {
            let _ = std::fs::remove_file(f);
        }
    }

    /// Streams a container's log: the attempt `container_id` names (the API server chose it
    /// from the pod's status, as the kubelet's `validateContainerLogStatus` does); without one
    /// (a pod record), the newest attempt, or the one before it with `previous`.
    pub fn open(&self, req: &LogRequest, now_millis: i64) -> Result<LogStream, LogError> {
        let (namespace, pod, uid, container) = (
            req.namespace.as_str(),
            req.pod.as_str(),
            req.uid.as_str(),
            req.container.as_str(),
        );
        let opts = req.options.clone();
        if let Some(attempt) = req
            .container_id
            .as_deref()
            .and_then(|id| attempt_of(id, uid, container))
        {
            let path = self.attempt_file(namespace, pod, uid, container, attempt);
            if !path.exists() {
                return Err(LogError::BadRequest(format!(
                    "container {container:?} in pod {pod:?} is terminated"
                )));
            }
            return read::open(self.clone(), path, opts, now_millis);
        }
        let attempts = self.attempts(namespace, pod, uid, container);
        let attempt = if opts.previous {
            attempts.iter().rev().nth(1).copied().ok_or_else(|| {
                LogError::BadRequest(format!(
                    "previous terminated container {container:?} in pod {pod:?} not found"
                ))
            })?
        } else {
            attempts.last().copied().ok_or_else(|| {
                LogError::BadRequest(format!(
                    "container {container:?} in pod {pod:?} is waiting to start: ContainerCreating"
                ))
            })?
        };
        let path = self.attempt_file(namespace, pod, uid, container, attempt);
        read::open(self.clone(), path, opts, now_millis)
    }
}

/// The attempt a container ID of the process runtime names: `<runtime>://<pod uid>-<container>-
/// <attempt>` (see `pod::attempt_id`); `None` for any other ID.
fn attempt_of(container_id: &str, uid: &str, container: &str) -> Option<u32> {
    let (_, id) = container_id.split_once("://")?;
    id.strip_prefix(uid)?
        .strip_prefix('-')?
        .strip_prefix(container)?
        .strip_prefix('-')?
        .parse()
        .ok()
}

/// The name a log file gets when it is rotated at `millis`: the kubelet's
/// `<file>.<YYYYMMDD-HHMMSS>`, with `.<n>` added after the newest of `rotated` (the files
/// rotated out of it before) where that one is of the same second.
fn rotated_name(path: &Path, millis: i64, rotated: &[PathBuf]) -> PathBuf {
    let stamp = runlet_api::clock::rfc3339(millis.div_euclid(1000));
    let digits: String = stamp.chars().filter(char::is_ascii_digit).collect();
    let (date, time) = digits.split_at(digits.len().min(8));
    let base = format!("{}.{date}-{time}", path.display());
    let same_second = rotated
        .iter()
        .filter_map(|p| {
            let rest = p.to_str()?.strip_prefix(&base)?;
            match rest {
                "" => Some(0),
                _ => rest.strip_prefix('.')?.parse::<u64>().ok(),
            }
        })
        .max();
    match same_second {
        None => PathBuf::from(base),
        Some(n) => PathBuf::from(format!("{base}.{}", n + 1)),
    }
}

/// The files rotated out of `path`, oldest first.
fn rotated_files(path: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return Vec::new();
    };
    let prefix = format!("{name}.");
    let mut found: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let file = e.file_name().into_string().ok()?;
            let stamp = file.strip_prefix(&prefix)?;
            stamp
                .starts_with(|c: char| c.is_ascii_digit())
                .then(|| (sort_key(stamp), e.path()))
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, p)| p).collect()
}

/// Orders `YYYYMMDD-HHMMSS[.n]` stamps by time, then by `n`.
fn sort_key(stamp: &str) -> String {
    let (time, n) = stamp.split_once('.').unwrap_or((stamp, "0"));
    format!("{time}.{n:0>10}")
}

/// Rotates the log file at `path`, which `file` is appending to: the content moves to a rotated
/// name and `file` becomes a fresh, empty file at `path`. The path always names a file: the
/// new one is made aside and renamed over it, so a reader opening it never finds nothing. The
/// oldest rotated files beyond `rotation.max_files` go.
pub(crate) fn rotate(
    path: &Path,
    file: &mut std::fs::File,
    rotation: Rotation,
    now_millis: i64,
) -> std::io::Result<()> {
    let rotated = rotated_name(path, now_millis, &rotated_files(path));
    std::fs::hard_link(path, &rotated)?;
    let mut fresh_name = path.as_os_str().to_owned();
    fresh_name.push(".new");
    let fresh_path = PathBuf::from(fresh_name);
    let fresh = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&fresh_path)?;
    std::fs::rename(&fresh_path, path)?;
    *file = fresh;
    let old = rotated_files(path);
    let excess = old.len().saturating_sub(rotation.max_files as usize - 1);
    for f in old.iter().take(excess) {
        let _ = std::fs::remove_file(f);
    }
    Ok(())
}

/// Formats a time in nanoseconds as the CRI log timestamp (9 fraction digits, UTC, as the
/// kubelet's `timeFormatOut`).
pub fn cri_timestamp(unix_nanos: i64) -> String {
    let secs = unix_nanos.div_euclid(1_000_000_000);
    let nanos = unix_nanos.rem_euclid(1_000_000_000);
    let base = runlet_api::clock::rfc3339(secs);
    // `rfc3339` ends with `Z` at second precision.
    let stem = base.strip_suffix('Z').unwrap_or(&base);
    format!("{stem}.{nanos:09}Z")
}

/// Parses a CRI timestamp back to milliseconds since the epoch.
pub fn parse_timestamp(ts: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_nine_fraction_digits_and_round_trip() {
        let ts = cri_timestamp(1_767_225_600_123_456_789);
        assert_eq!(ts, "2026-01-01T00:00:00.123456789Z");
        assert_eq!(parse_timestamp(&ts), Some(1_767_225_600_123));
        assert_eq!(
            cri_timestamp(1_767_225_600_000_000_007),
            "2026-01-01T00:00:00.000000007Z"
        );
    }

    fn request(uid: &str, container: &str, id: Option<&str>, options: LogOptions) -> LogRequest {
        LogRequest {
            namespace: "default".into(),
            pod: "p".into(),
            uid: uid.into(),
            container: container.into(),
            container_id: id.map(str::to_string),
            options,
        }
    }

    #[test]
    fn previous_needs_an_earlier_attempt() {
        let dir = tempfile::tempdir().unwrap();
        let store = LogStore::new(dir.path().to_path_buf());
        let f = store.attempt_file("default", "p", "u", "c", 0);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(&f, "").unwrap();
        let prev = LogOptions {
            previous: true,
            ..Default::default()
        };
        let err = store.open(&request("u", "c", None, prev), 0).err().unwrap();
        assert_eq!(
            err.to_string(),
            "previous terminated container \"c\" in pod \"p\" not found"
        );
    }

    #[test]
    fn the_attempt_named_by_the_container_id_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = LogStore::new(dir.path().to_path_buf());
        for n in 0..3 {
            let f = store.attempt_file("default", "p", "u-1", "c-x", n);
            std::fs::write(
                &f,
                format!("2026-01-01T00:00:00.000000000Z stdout F attempt-{n}\n"),
            )
            .unwrap();
        }
        let read = |id: Option<&str>, previous| {
            let opts = LogOptions {
                previous,
                ..Default::default()
            };
            let stream = store.open(&request("u-1", "c-x", id, opts), 0).unwrap();
            let chunks = futures::executor::block_on(futures::StreamExt::collect::<Vec<_>>(stream));
            let bytes: Vec<u8> = chunks
                .into_iter()
                .flat_map(|c| c.unwrap().to_vec())
                .collect();
            String::from_utf8(bytes).unwrap()
        };
        assert_eq!(read(Some("process://u-1-c-x-1"), false), "attempt-1\n");
        assert_eq!(read(None, false), "attempt-2\n", "no ID: the newest");
        assert_eq!(read(None, true), "attempt-1\n", "no ID: the one before");
        assert_eq!(
            read(Some("containerd://abc"), false),
            "attempt-2\n",
            "an ID of another runtime: the newest"
        );
        assert_eq!(attempt_of("process://u-1-c-x-12", "u-1", "c-x"), Some(12));
        assert_eq!(attempt_of("process://u-1-c-12", "u-1", "c-x"), None);
    }

    #[test]
    fn without_an_id_the_newest_attempts_are_found_after_the_first_ones_went() {
        let dir = tempfile::tempdir().unwrap();
        let store = LogStore::new(dir.path().to_path_buf());
        // A container that restarted eleven times keeps its last two attempts' files.
        for n in [10, 11] {
            let f = store.attempt_file("default", "p", "u", "c", n);
            std::fs::write(&f, "").unwrap();
        }
        let rotated = store.attempt_file("default", "p", "u", "c", 11);
        std::fs::write(format!("{}.20260101-000000", rotated.display()), "").unwrap();
        std::fs::write(store.attempt_file("default", "p", "u", "c2", 12), "").unwrap();
        std::fs::write(store.attempt_file("default", "p2", "u", "c", 13), "").unwrap();
        assert_eq!(store.attempts("default", "p", "u", "c"), vec![10, 11]);
    }
    #[test]
    fn rotated_files_are_named_by_time_and_listed_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ns_p_u_c.0.log");
        std::fs::write(&path, "").unwrap();
        let at = |s: i64| s * 1000;
        let name = |millis| rotated_name(&path, millis, &rotated_files(&path));
        let ends = |p: &PathBuf, suffix: &str| {
            assert!(p.to_string_lossy().ends_with(suffix), "{p:?}");
        };
        let first = name(at(1_767_225_600));
        ends(&first, "c.0.log.20260101-000000");
        std::fs::write(&first, "").unwrap();
        let again = name(at(1_767_225_600));
        ends(&again, "c.0.log.20260101-000000.1");
        std::fs::write(&again, "").unwrap();
        let later = name(at(1_767_225_661));
        std::fs::write(&later, "").unwrap();
        // Another of the same second counts on from the newest, even with the oldest gone.
        std::fs::remove_file(&first).unwrap();
        ends(&name(at(1_767_225_600)), "c.0.log.20260101-000000.2");
        std::fs::write(&first, "").unwrap();
        // Not rotated out of this file: another attempt's, and the writer's fresh file.
        std::fs::write(dir.path().join("ns_p_u_c.1.log"), "").unwrap();
        std::fs::write(dir.path().join("ns_p_u_c.0.log.new"), "").unwrap();
        assert_eq!(rotated_files(&path), vec![first, again, later]);
    }
}
