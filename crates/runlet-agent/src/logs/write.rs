//! Writing a container's stdout and stderr into one CRI-format log file.

use super::{LogStore, MAX_LINE, cri_timestamp};
use runlet_api::clock::Clock;
use std::io::Write;
use std::path::Path;
use tokio::io::{AsyncRead, AsyncReadExt};

/// One output stream's undelivered partial line.
struct Pending {
    name: &'static str,
    buf: Vec<u8>,
}

impl Pending {
    /// Appends `data`, emitting every complete line (and cut partial lines) into `out`. A
    /// line ends at `\n` or `\r\n`, neither kept, as containerd's `readLine` reads it.
    fn feed(&mut self, data: &[u8], ts: &str, out: &mut Vec<u8>) {
        for &b in data {
            if b == b'\n' {
                if self.buf.last() == Some(&b'\r') {
                    self.buf.pop();
                }
                entry(out, ts, self.name, b'F', &self.buf);
                self.buf.clear();
            } else {
                self.buf.push(b);
                if self.buf.len() >= MAX_LINE {
                    // A `\r` that may begin a `\r\n` waits for the next byte.
                    let held = self.buf.last() == Some(&b'\r');
                    let cut = self.buf.len() - usize::from(held);
                    entry(
                        out,
                        ts,
                        self.name,
                        b'P',
                        self.buf.get(..cut).unwrap_or_default(),
                    );
                    self.buf.drain(..cut);
                }
            }
        }
    }

    /// At the end of the stream, what is left is a line without its newline: a partial
    /// entry, as containerd writes it, so that it is read back without one.
    fn finish(&mut self, ts: &str, out: &mut Vec<u8>) {
        if !self.buf.is_empty() {
            entry(out, ts, self.name, b'P', &self.buf);
            self.buf.clear();
        }
    }
}

fn entry(out: &mut Vec<u8>, ts: &str, stream: &str, tag: u8, content: &[u8]) {
    out.extend_from_slice(ts.as_bytes());
    out.push(b' ');
    out.extend_from_slice(stream.as_bytes());
    out.push(b' ');
    out.push(tag);
    out.push(b' ');
    out.extend_from_slice(content);
    out.push(b'\n');
}

/// How much of a stream is read at once.
const READ_CHUNK: usize = 16 * 1024;

/// Creates (or opens for appending) a container attempt's log file and marks it live. Called
/// before the container's status can say it started, so that a reader who saw that status
/// finds the file and follows it, however soon it asks.
pub fn open_cri_log(path: &Path, store: &LogStore) -> std::io::Result<std::fs::File> {
    let open = || {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
    };
    let file = match open() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            open()?
        }
        other => other?,
    };
    store.set_live(path, true);
    Ok(file)
}

/// Copies both streams into the log file `opened` by [`open_cri_log`] for `path` until both
/// end, then marks it no longer live. When the file could not be opened, the streams are still
/// drained (the container must not block on a full pipe) and the error is returned.
pub async fn copy_to_cri(
    mut stdout: Box<dyn AsyncRead + Send + Unpin>,
    mut stderr: Box<dyn AsyncRead + Send + Unpin>,
    opened: std::io::Result<std::fs::File>,
    path: &Path,
    store: &LogStore,
    clock: &dyn Clock,
) -> std::io::Result<()> {
    let (mut file, open_error) = match opened {
        Ok(f) => (Some(f), None),
        Err(e) => (None, Some(e)),
    };
    let rotation = store.rotation();
    // Rotations are counted from the start, as the kubelet's every-10-s look finds a file.
    let mut last_rotation_ms = clock.now_millis();
    // What the file holds already (an attempt's file is new, but may be opened again).
    let mut size = file
        .as_ref()
        .and_then(|f| f.metadata().ok())
        .map_or(0, |m| m.len());
    let result = async {
        let mut out_p = Pending {
            name: "stdout",
            buf: Vec::new(),
        };
        let mut err_p = Pending {
            name: "stderr",
            buf: Vec::new(),
        };
        // Read into spare capacity: a zeroed 64 KiB pair per container was a measurable part
        // of starting thousands of short ones.
        let mut out_buf = Vec::with_capacity(READ_CHUNK);
        let mut err_buf = Vec::with_capacity(READ_CHUNK);
        let (mut out_open, mut err_open) = (true, true);
        let mut encoded = Vec::new();
        while out_open || err_open {
            encoded.clear();
            out_buf.clear();
            err_buf.clear();
            tokio::select! {
                r = stdout.read_buf(&mut out_buf), if out_open => {
                    let ts = cri_timestamp(clock.now_nanos());
                    match r {
                        Ok(0) | Err(_) => { out_open = false; out_p.finish(&ts, &mut encoded); }
                        Ok(n) => out_p.feed(out_buf.get(..n).unwrap_or_default(), &ts, &mut encoded),
                    }
                }
                r = stderr.read_buf(&mut err_buf), if err_open => {
                    let ts = cri_timestamp(clock.now_nanos());
                    match r {
                        Ok(0) | Err(_) => { err_open = false; err_p.finish(&ts, &mut encoded); }
                        Ok(n) => err_p.feed(err_buf.get(..n).unwrap_or_default(), &ts, &mut encoded),
                    }
                }
            }
            if let Some(file) = file.as_mut()
                && !encoded.is_empty()
            {
                // A full file is rotated before it is written to, never right after: the
                // newest output stays in the current file, which is all a reader without
                // `follow` reads (a container's last line must not go out with a rotation).
                // At most one rotation every 10 s, as the kubelet's log manager looks at a
                // file every 10 s: a burst makes one larger file, not a run of rotations that
                // removes output before anyone has read it.
                let now = (size >= rotation.max_size).then(|| clock.now_millis());
                if let Some(now) = now
                    && now - last_rotation_ms >= rotation.interval_ms
                {
                    // A file that cannot be rotated is written on: the container must not
                    // stop for it. It is tried again after as much more output.
                    if let Err(e) = super::rotate(path, file, rotation, now) {
                        tracing::warn!(path = %path.display(), error = %e, "rotating a container log");
                    }
                    size = 0;
                    last_rotation_ms = now;
                }
                file.write_all(&encoded)?;
                size += encoded.len() as u64;
            }
        }
        Ok(())
    }
    .await;
    store.set_live(path, false);
    match open_error {
        Some(e) => Err(e),
        None => result,
    }
}

/// The last `max_lines` lines (at most `max_bytes`) of a log file's content, for
/// `terminationMessagePolicy: FallbackToLogsOnError` (upstream: 80 lines, 2048 bytes).
pub fn tail_content(path: &Path, max_lines: usize, max_bytes: usize) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let mut content = Vec::new();
    for line in text.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        if let Some(parsed) = super::read::parse_line(line) {
            content.extend_from_slice(parsed.content);
            if parsed.full {
                content.push(b'\n');
            }
        }
    }
    let text = String::from_utf8_lossy(&content);
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(max_lines);
    let mut out = lines.get(start..).unwrap_or_default().join("\n");
    if text.ends_with('\n') && !out.is_empty() {
        out.push('\n');
    }
    if out.len() > max_bytes {
        let mut cut = out.len() - max_bytes;
        while !out.is_char_boundary(cut) {
            cut += 1;
        }
        out = out.get(cut..).unwrap_or_default().to_string();
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use runlet_api::clock::FakeClock;

    #[tokio::test]
    async fn lines_are_written_in_cri_format() {
        let dir = tempfile::tempdir().unwrap();
        let store = LogStore::new(dir.path().to_path_buf());
        let path = dir.path().join("c/0.log");
        let clock = FakeClock::at(1_767_225_600);
        let opened = open_cri_log(&path, &store);
        assert!(store.is_live(&path), "live from the moment it is opened");
        copy_to_cri(
            Box::new(std::io::Cursor::new(b"hello\nworld".to_vec())),
            Box::new(std::io::Cursor::new(b"oops\n".to_vec())),
            opened,
            &path,
            &store,
            &clock,
        )
        .await
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        lines.sort();
        assert_eq!(
            lines,
            vec![
                "2026-01-01T00:00:00.000000000Z stderr F oops",
                "2026-01-01T00:00:00.000000000Z stdout F hello",
                // The last line had no newline: a partial entry, as containerd writes it.
                "2026-01-01T00:00:00.000000000Z stdout P world",
            ]
        );
        assert!(
            !store.is_live(&path),
            "the file is closed once both streams end"
        );
    }

    #[test]
    fn long_lines_are_cut_into_partial_entries() {
        let mut p = Pending {
            name: "stdout",
            buf: Vec::new(),
        };
        let mut out = Vec::new();
        let long = vec![b'x'; MAX_LINE + 3];
        p.feed(&long, "T", &mut out);
        p.feed(b"\n", "T", &mut out);
        let text = String::from_utf8(out).unwrap();
        let tags: Vec<&str> = text.lines().map(|l| &l[9..10]).collect();
        assert_eq!(tags, vec!["P", "F"]);
    }

    #[test]
    fn crlf_ends_a_line_and_a_last_line_without_newline_is_partial() {
        let mut p = Pending {
            name: "stdout",
            buf: Vec::new(),
        };
        let mut out = Vec::new();
        p.feed(b"a\r\nb\rc\n", "T", &mut out);
        // A `\r` at the cut of a long line waits to see whether a `\n` follows it.
        let mut long = vec![b'x'; MAX_LINE - 1];
        long.push(b'\r');
        p.feed(&long, "T", &mut out);
        p.feed(b"\nlast", "T", &mut out);
        p.finish("T", &mut out);
        let text = String::from_utf8(out).unwrap();
        let entries: Vec<&str> = text.lines().map(|l| &l[9..]).collect();
        let long_line = format!("P {}", "x".repeat(MAX_LINE - 1));
        assert_eq!(entries, vec!["F a", "F b\rc", &long_line, "F ", "P last"]);
    }

    #[test]
    fn fallback_message_is_the_tail_of_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        let mut text = String::new();
        for i in 0..100 {
            text.push_str(&format!(
                "2026-01-01T00:00:00.000000000Z stdout F line {i}\n"
            ));
        }
        std::fs::write(&path, text).unwrap();
        let tail = tail_content(&path, 80, 2048);
        assert!(tail.starts_with("line 20\n"), "{tail}");
        assert!(tail.ends_with("line 99\n"));
        assert_eq!(tail_content(&path, 2, 8), "line 99\n");
    }
    /// A stream that hands out one chunk per read, as a pipe does when its writer is slow,
    /// `step` milliseconds of `clock` apart.
    struct Chunks {
        chunks: std::collections::VecDeque<Vec<u8>>,
        clock: std::sync::Arc<FakeClock>,
        step: i64,
    }

    impl tokio::io::AsyncRead for Chunks {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            if let Some(chunk) = self.chunks.pop_front() {
                buf.put_slice(&chunk);
                self.clock.advance_millis(self.step);
            }
            std::task::Poll::Ready(Ok(()))
        }
    }

    /// Copies `lines`, one read each, `step` milliseconds apart, into a store rotating at 200
    /// bytes with 3 files kept; returns the store and the attempt's file.
    async fn copy_lines(
        dir: &std::path::Path,
        lines: &[String],
        step: i64,
    ) -> (LogStore, std::path::PathBuf) {
        let rotation = super::super::Rotation {
            max_size: 200,
            max_files: 3,
            interval_ms: 10_000,
        };
        let store = LogStore::with_rotation(dir.to_path_buf(), rotation);
        let path = store.attempt_file("default", "p", "u", "c", 0);
        let clock = std::sync::Arc::new(FakeClock::at(1_767_225_600));
        let chunks = Chunks {
            chunks: lines.iter().map(|l| l.as_bytes().to_vec()).collect(),
            clock: clock.clone(),
            step,
        };
        copy_to_cri(
            Box::new(chunks),
            Box::new(std::io::Cursor::new(Vec::new())),
            open_cri_log(&path, &store),
            &path,
            &store,
            clock.as_ref(),
        )
        .await
        .unwrap();
        (store, path)
    }

    /// The content of the kept files, oldest first.
    fn kept(files: &[std::path::PathBuf]) -> Vec<String> {
        files
            .iter()
            .flat_map(|f| {
                let text = std::fs::read_to_string(f).unwrap();
                text.lines()
                    .map(|l| format!("{}\n", l.rsplit_once(" F ").unwrap().1))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[tokio::test]
    async fn a_file_past_its_size_is_rotated_and_the_oldest_files_go() {
        let dir = tempfile::tempdir().unwrap();
        let lines: Vec<String> = (0..40).map(|i| format!("line {i:02}\n")).collect();
        // A line (48 bytes in the file) every 2 s: a rotation every 5 lines, 10 s apart.
        let (store, path) = copy_lines(dir.path(), &lines, 2_000).await;
        let mut files = super::super::rotated_files(&path);
        assert_eq!(files.len(), 2, "{files:?}");
        let name = |p: &std::path::PathBuf| p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name(&files[0]).starts_with("default_p_u_c.0.log.20260101-0001"),
            "{files:?}"
        );
        let current = std::fs::read_to_string(&path).unwrap();
        assert!(
            current.ends_with(" F line 39\n"),
            "the last line stays in the current file: {current:?}"
        );
        files.push(path.clone());
        let kept = kept(&files);
        assert!(kept.len() < lines.len(), "older files went");
        assert_eq!(
            kept,
            lines[lines.len() - kept.len()..],
            "the newest lines, in order"
        );
        for f in &files[..2] {
            let len = std::fs::metadata(f).unwrap().len();
            assert!((200..300).contains(&len), "{f:?}: {len}");
        }
        store.remove_attempt("default", "p", "u", "c", 0);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn a_burst_makes_one_larger_file_not_a_run_of_rotations() {
        let dir = tempfile::tempdir().unwrap();
        let lines: Vec<String> = (0..40).map(|i| format!("line {i:02}\n")).collect();
        // Forty reads 100 ms apart, all within the container's first 10 s: no rotation, the
        // current file holds everything, far past its size.
        let (_store, path) = copy_lines(dir.path(), &lines, 100).await;
        assert_eq!(
            super::super::rotated_files(&path),
            Vec::<std::path::PathBuf>::new()
        );
        assert_eq!(kept(&[path]), lines, "nothing lost");
    }
}
