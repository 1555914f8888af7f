//! Reading a CRI log file back as `kubectl logs` expects it, with upstream's options
//! (`pkg/kubelet/kuberuntime/logs/logs.go`): `tailLines`, `sinceSeconds`/`sinceTime`,
//! `timestamps`, `limitBytes`, and `follow`, which keeps reading while the attempt runs, from
//! one file to the next when the writer rotates it.

use super::{LogError, LogStore, parse_timestamp};
use bytes::Bytes;
use futures::stream::BoxStream;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::Duration;

/// The log stream handed to the API server.
pub type LogStream = BoxStream<'static, Result<Bytes, std::io::Error>>;

/// How often a follower looks for new output.
const FOLLOW_POLL: Duration = Duration::from_millis(100);

pub use runlet_api::logs::LogOptions;

/// One parsed CRI log entry.
pub struct Entry<'a> {
    pub timestamp: &'a [u8],
    /// `stdout` or `stderr`.
    pub stream: &'a [u8],
    pub full: bool,
    pub content: &'a [u8],
}

/// Parses `<ts> <stream> <tag> <content>`; `None` for a malformed line.
pub fn parse_line(line: &[u8]) -> Option<Entry<'_>> {
    let mut parts = line.splitn(4, |b| *b == b' ');
    let timestamp = parts.next()?;
    let stream = parts.next()?;
    let tag = parts.next()?;
    let content = parts.next().unwrap_or_default();
    Some(Entry {
        timestamp,
        stream,
        full: tag.first() != Some(&b'P'),
        content,
    })
}

/// Filters and formats entries; returns the bytes to send.
struct Renderer {
    /// The one stream to show (`stream=Stdout|Stderr`), or both.
    stream: Option<&'static [u8]>,
    since_millis: Option<i64>,
    timestamps: bool,
    budget: Option<u64>,
    /// Whether the previous entry ended a line (a partial entry's rest gets no timestamp).
    at_line_start: bool,
}

impl Renderer {
    fn exhausted(&self) -> bool {
        self.budget == Some(0)
    }

    fn render(&mut self, lines: &[&[u8]], out: &mut Vec<u8>) {
        for line in lines {
            if self.exhausted() {
                return;
            }
            let Some(e) = parse_line(line) else { continue };
            if self.stream.is_some_and(|s| s != e.stream) {
                continue;
            }
            if let Some(since) = self.since_millis {
                let ts = std::str::from_utf8(e.timestamp)
                    .ok()
                    .and_then(parse_timestamp);
                if ts.is_some_and(|t| t < since) {
                    continue;
                }
            }
            let start = out.len();
            if self.timestamps && self.at_line_start {
                out.extend_from_slice(e.timestamp);
                out.push(b' ');
            }
            self.at_line_start = e.full;
            out.extend_from_slice(e.content);
            if e.full {
                out.push(b'\n');
            }
            if let Some(b) = self.budget.as_mut() {
                let wrote = (out.len() - start) as u64;
                if wrote >= *b {
                    out.truncate(start + *b as usize);
                    *b = 0;
                } else {
                    *b -= wrote;
                }
            }
        }
    }
}

fn io_err(path: &std::path::Path, source: std::io::Error) -> LogError {
    LogError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Opens `path` as a log stream.
pub fn open(
    store: LogStore,
    path: PathBuf,
    opts: LogOptions,
    now_millis: i64,
) -> Result<LogStream, LogError> {
    let mut file = std::fs::File::open(&path).map_err(|e| io_err(&path, e))?;
    let mut data = Vec::new();
    file.read_to_end(&mut data).map_err(|e| io_err(&path, e))?;
    // Only complete lines; a line still being written is picked up by the follower.
    let complete = data.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let mut lines: Vec<&[u8]> = data
        .get(..complete)
        .unwrap_or_default()
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    if let Some(n) = opts.tail_lines.filter(|n| *n >= 0) {
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        let start = lines.len().saturating_sub(n);
        lines.drain(..start);
    }
    let since_millis = opts.since_time_millis.or_else(|| {
        opts.since_seconds
            .map(|s| now_millis - s.saturating_mul(1000))
    });
    let mut renderer = Renderer {
        stream: opts.stream.cri_name(),
        since_millis,
        timestamps: opts.timestamps,
        budget: opts.limit_bytes.filter(|b| *b > 0).map(|b| b as u64),
        at_line_start: true,
    };
    let mut first = Vec::new();
    renderer.render(&lines, &mut first);
    let first = futures::stream::iter((!first.is_empty()).then(|| Ok(Bytes::from(first))));
    if !opts.follow || renderer.exhausted() {
        return Ok(Box::pin(first));
    }
    let state = Follow {
        store,
        path,
        file,
        offset: complete as u64,
        renderer,
        done: false,
    };
    let rest = futures::stream::unfold(state, |mut s| async move {
        loop {
            if s.done || s.renderer.exhausted() {
                return None;
            }
            let live = s.store.is_live(&s.path);
            match s.read_more() {
                Ok(Some(bytes)) => return Some((Ok(bytes), s)),
                // All of a rotated file is read: on with the new one.
                Ok(None) if s.reopen_if_rotated() => {}
                Ok(None) if live => tokio::time::sleep(FOLLOW_POLL).await,
                Ok(None) => return None,
                Err(e) => {
                    s.done = true;
                    return Some((Err(e), s));
                }
            }
        }
    });
    Ok(Box::pin(futures::StreamExt::chain(first, rest)))
}

struct Follow {
    store: LogStore,
    path: PathBuf,
    /// The file as opened, read on from `offset`: the agent removes a deleted pod's files, and
    /// a follower must still read their last lines and end as the container did.
    file: std::fs::File,
    offset: u64,
    renderer: Renderer,
    done: bool,
}

impl Follow {
    /// Whether the path names another file than the one read (the writer rotated it), in
    /// which case the file that came after it is opened and read from its start: the next
    /// one rotated out, if more than one rotation came since the last read, or the current.
    fn reopen_if_rotated(&mut self) -> bool {
        use std::os::unix::fs::MetadataExt;
        let id = |m: std::fs::Metadata| (m.dev(), m.ino());
        let (Ok(named), Ok(read)) = (std::fs::metadata(&self.path), self.file.metadata()) else {
            return false;
        };
        let read = id(read);
        if id(named) == read {
            return false;
        }
        // Oldest first; the one read may be gone already, being the oldest.
        let rotated = super::rotated_files(&self.path);
        let ids: Vec<_> = rotated
            .iter()
            .map(|p| std::fs::metadata(p).ok().map(id))
            .collect();
        let next = match ids.iter().position(|i| *i == Some(read)) {
            Some(at) => rotated.get(at + 1),
            None => rotated.first(),
        };
        match std::fs::File::open(next.unwrap_or(&self.path)) {
            Ok(file) => {
                self.file = file;
                self.offset = 0;
                true
            }
            Err(_) => false,
        }
    }

    /// New complete lines since the last read, rendered; `None` when there are none.
    fn read_more(&mut self) -> std::io::Result<Option<Bytes>> {
        self.file.seek(SeekFrom::Start(self.offset))?;
        let mut data = Vec::new();
        self.file.read_to_end(&mut data)?;
        let Some(last_nl) = data.iter().rposition(|b| *b == b'\n') else {
            return Ok(None);
        };
        self.offset += last_nl as u64 + 1;
        let lines: Vec<&[u8]> = data
            .get(..=last_nl)
            .unwrap_or_default()
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        let mut out = Vec::new();
        self.renderer.render(&lines, &mut out);
        Ok((!out.is_empty()).then(|| Bytes::from(out)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use futures::StreamExt;

    fn sample(dir: &std::path::Path) -> (LogStore, PathBuf) {
        let store = LogStore::new(dir.to_path_buf());
        let path = dir.join("0.log");
        std::fs::write(
            &path,
            "2026-01-01T00:00:00.000000000Z stdout F one\n\
             2026-01-01T00:00:10.000000000Z stderr F two\n\
             2026-01-01T00:00:20.000000000Z stdout P thr\n\
             2026-01-01T00:00:20.000000000Z stdout F ee\n",
        )
        .unwrap();
        (store, path)
    }

    async fn collect(s: LogStream) -> String {
        let parts: Vec<Bytes> = s.map(|r| r.unwrap()).collect().await;
        String::from_utf8(parts.concat()).unwrap()
    }

    #[tokio::test]
    async fn partial_entries_join_into_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let (store, path) = sample(dir.path());
        let s = open(store, path, LogOptions::default(), 0).unwrap();
        assert_eq!(collect(s).await, "one\ntwo\nthree\n");
    }

    #[tokio::test]
    async fn tail_since_timestamps_and_limit_follow_upstream() {
        let dir = tempfile::tempdir().unwrap();
        let (store, path) = sample(dir.path());
        let o = |f: fn(&mut LogOptions)| {
            let mut o = LogOptions::default();
            f(&mut o);
            o
        };
        let tail = open(
            store.clone(),
            path.clone(),
            o(|o| o.tail_lines = Some(3)),
            0,
        )
        .unwrap();
        assert_eq!(collect(tail).await, "two\nthree\n");
        let now = parse_timestamp("2026-01-01T00:00:25Z").unwrap();
        let since = open(
            store.clone(),
            path.clone(),
            o(|o| o.since_seconds = Some(14)),
            now,
        )
        .unwrap();
        assert_eq!(collect(since).await, "three\n");
        let ts = open(
            store.clone(),
            path.clone(),
            o(|o| {
                o.timestamps = true;
                o.tail_lines = Some(2);
            }),
            0,
        )
        .unwrap();
        assert_eq!(collect(ts).await, "2026-01-01T00:00:20.000000000Z three\n");
        let limited = open(
            store.clone(),
            path.clone(),
            o(|o| o.limit_bytes = Some(5)),
            0,
        )
        .unwrap();
        assert_eq!(collect(limited).await, "one\nt");
        let stderr = open(
            store.clone(),
            path.clone(),
            o(|o| o.stream = runlet_api::logs::OutputStream::Stderr),
            0,
        )
        .unwrap();
        assert_eq!(collect(stderr).await, "two\n");
        let stdout = open(
            store,
            path,
            o(|o| o.stream = runlet_api::logs::OutputStream::Stdout),
            0,
        )
        .unwrap();
        assert_eq!(collect(stdout).await, "one\nthree\n");
    }

    /// A follower of the sample's live attempt, past its first three lines.
    async fn following(dir: &std::path::Path) -> (LogStore, PathBuf, LogStream) {
        let (store, path) = sample(dir);
        store.set_live(&path, true);
        let opts = LogOptions {
            follow: true,
            ..Default::default()
        };
        let mut s = open(store.clone(), path.clone(), opts, 0).unwrap();
        assert_eq!(&s.next().await.unwrap().unwrap()[..], b"one\ntwo\nthree\n");
        (store, path, s)
    }

    #[tokio::test]
    async fn follow_reads_until_the_attempt_ends() {
        let dir = tempfile::tempdir().unwrap();
        let (store, path, mut s) = following(dir.path()).await;
        {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .unwrap();
            f.write_all(b"2026-01-01T00:00:30.000000000Z stdout F four\n")
                .unwrap();
        }
        let next = tokio::time::timeout(Duration::from_secs(5), s.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(&next[..], b"four\n");
        store.set_live(&path, false);
        let end = tokio::time::timeout(Duration::from_secs(5), s.next())
            .await
            .unwrap();
        assert!(end.is_none(), "the stream ends once the writer is done");
    }

    /// What a follower still sends until it ends (bounded).
    async fn rest_of(s: LogStream) -> Vec<u8> {
        let rest: Vec<Result<Bytes, std::io::Error>> =
            tokio::time::timeout(Duration::from_secs(5), s.collect())
                .await
                .unwrap();
        rest.into_iter().flat_map(|b| b.unwrap().to_vec()).collect()
    }

    #[tokio::test]
    async fn a_follower_reads_the_last_lines_of_a_file_removed_under_it() {
        let dir = tempfile::tempdir().unwrap();
        let (store, path, s) = following(dir.path()).await;
        // The writer's last lines land after the pod's files were removed.
        let mut writer = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        {
            use std::io::Write;
            writer
                .write_all(b"2026-01-01T00:00:30.000000000Z stdout F last\n")
                .unwrap();
        }
        store.set_live(&path, false);
        assert_eq!(rest_of(s).await, b"last\n");
    }
    #[tokio::test]
    async fn a_follower_reads_every_file_of_rotations_between_its_reads() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let (store, path, s) = following(dir.path()).await;
        let rotation = super::super::Rotation {
            max_size: 1,
            max_files: 5,
            interval_ms: 10_000,
        };
        let mut writer = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        // Two rotations before the follower looks again: it reads the file after its own,
        // then the current one.
        for line in ["four", "five"] {
            writeln!(writer, "2026-01-01T00:00:30.000000000Z stdout F {line}").unwrap();
            super::super::rotate(&path, &mut writer, rotation, 1_767_225_630_000).unwrap();
        }
        writeln!(writer, "2026-01-01T00:00:30.000000000Z stdout F six").unwrap();
        store.set_live(&path, false);
        assert_eq!(rest_of(s).await, b"four\nfive\nsix\n");
    }
}
