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
//! [`retention`] decides when a pod's files go (with the pod, or with its Job's PodRecord);
//! [`serve`] is the HTTPS endpoint through which the API server reads them from another
//! machine.

pub mod read;
pub mod retention;
pub mod serve;
pub mod write;

pub use read::{LogOptions, LogStream};
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

/// Where logs live, which files are still being written, and which attempts ended with their
/// container waiting to restart.
#[derive(Debug, Clone)]
pub struct LogStore {
    root: PathBuf,
    live: Arc<Mutex<HashSet<PathBuf>>>,
    /// The attempt a container waiting to restart (`CrashLoopBackOff`) last ran: its status's
    /// `lastState`, which upstream's `validateContainerLogStatus` reads for `logs` and
    /// `logs --previous` alike until the next attempt starts.
    awaiting_restart: Arc<Mutex<HashSet<PathBuf>>>,
}

impl LogStore {
    pub fn new(root: PathBuf) -> Self {
        LogStore {
            root,
            live: Arc::default(),
            awaiting_restart: Arc::default(),
        }
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

    /// The attempts of a container that have a log file, oldest first. Each attempt creates
    /// its file before it starts, and attempts count from 0, so the files are looked up in
    /// turn rather than by reading the whole directory.
    pub fn attempts(&self, namespace: &str, pod: &str, uid: &str, container: &str) -> Vec<u32> {
        (0..)
            .take_while(|n| {
                self.attempt_file(namespace, pod, uid, container, *n)
                    .exists()
            })
            .collect()
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

    /// Marks the attempt logged at `path` as the one its container, now waiting to restart,
    /// last ran (or, with `false`, no longer: the next attempt started).
    pub(crate) fn set_awaiting_restart(&self, path: &Path, waiting: bool) {
        if let Ok(mut set) = self.awaiting_restart.lock() {
            if waiting {
                set.insert(path.to_path_buf());
            } else {
                set.remove(path);
            }
        }
    }

    fn is_awaiting_restart(&self, path: &Path) -> bool {
        self.awaiting_restart
            .lock()
            .map(|s| s.contains(path))
            .unwrap_or(false)
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

    /// Removes a pod's logs (when nothing refers to them any more, see [`retention`]).
    pub fn remove_pod(&self, logs: &PodLogs) {
        for f in &logs.files {
            let _ = std::fs::remove_file(f);
            self.set_awaiting_restart(f, false);
        }
    }

    /// Streams a container's log: the newest attempt; with `previous`, the attempt the
    /// container's `lastState` shows (upstream's `validateContainerLogStatus`): the one before
    /// the newest while the newest runs or ended for good, the newest itself while the
    /// container waits to restart after it.
    pub fn open(
        &self,
        namespace: &str,
        pod: &str,
        uid: &str,
        container: &str,
        opts: LogOptions,
        now_millis: i64,
    ) -> Result<LogStream, LogError> {
        let attempts = self.attempts(namespace, pod, uid, container);
        let newest_awaits_restart = attempts.last().is_some_and(|n| {
            self.is_awaiting_restart(&self.attempt_file(namespace, pod, uid, container, *n))
        });
        let attempt = if opts.previous {
            let back = usize::from(!newest_awaits_restart);
            attempts.iter().rev().nth(back).copied().ok_or_else(|| {
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

/// Formats a time in milliseconds as the CRI log timestamp (9 fraction digits, UTC).
pub fn cri_timestamp(millis: i64) -> String {
    let secs = millis.div_euclid(1000);
    let nanos = millis.rem_euclid(1000) * 1_000_000;
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
        let ts = cri_timestamp(1_767_225_600_123);
        assert_eq!(ts, "2026-01-01T00:00:00.123000000Z");
        assert_eq!(parse_timestamp(&ts), Some(1_767_225_600_123));
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
        let err = store.open("default", "p", "u", "c", prev, 0).err().unwrap();
        assert_eq!(
            err.to_string(),
            "previous terminated container \"c\" in pod \"p\" not found"
        );
    }

    #[test]
    fn previous_is_the_newest_attempt_while_its_container_waits_to_restart() {
        let dir = tempfile::tempdir().unwrap();
        let store = LogStore::new(dir.path().to_path_buf());
        for n in 0..2 {
            let f = store.attempt_file("default", "p", "u", "c", n);
            std::fs::write(
                &f,
                format!("2026-01-01T00:00:00.000000000Z stdout F attempt-{n}\n"),
            )
            .unwrap();
        }
        let read = |previous| {
            let opts = LogOptions {
                previous,
                ..Default::default()
            };
            let stream = store.open("default", "p", "u", "c", opts, 0).unwrap();
            let chunks = futures::executor::block_on(futures::StreamExt::collect::<Vec<_>>(stream));
            let bytes: Vec<u8> = chunks
                .into_iter()
                .flat_map(|c| c.unwrap().to_vec())
                .collect();
            String::from_utf8(bytes).unwrap()
        };
        assert_eq!(
            read(true),
            "attempt-0\n",
            "the newest ran or ended for good"
        );
        let newest = store.attempt_file("default", "p", "u", "c", 1);
        store.set_awaiting_restart(&newest, true);
        assert_eq!(read(true), "attempt-1\n", "lastState is the newest");
        assert_eq!(read(false), "attempt-1\n");
        store.set_awaiting_restart(&newest, false);
        assert_eq!(read(true), "attempt-0\n");
    }
}
