//! The client end: a connection to a serving end made back into an [`ExecSession`], so that the
//! API server can serve its own client from a command that runs on another machine.

use crate::{ExecExit, ExecSession, Protocol, TerminalSize, channel, exit_of_status};
use futures::stream::SplitStream;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

/// How many bytes of one stream may wait for the reader of the session.
const BUFFER: usize = 64 * 1024;

/// The session served on `ws`, which speaks `protocol` (the one the serving end chose, which
/// must be [`Protocol::V5`] for stdin to end before the connection does). `stdin`, `stdout`,
/// `stderr` and `tty` say which streams were asked for. Dropping the session closes the
/// connection, and the serving end kills the command.
pub fn attach<S>(
    ws: WebSocketStream<S>,
    protocol: Protocol,
    [stdin, stdout, stderr, tty]: [bool; 4],
) -> ExecSession
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (stdin_near, stdin_far) = stdin.then(|| tokio::io::duplex(BUFFER)).unzip();
    let (stdout_near, stdout_far) = stdout.then(|| tokio::io::duplex(BUFFER)).unzip();
    let (stderr_near, stderr_far) = (stderr && !tty).then(|| tokio::io::duplex(BUFFER)).unzip();
    let (resize_tx, resize_rx) = mpsc::unbounded_channel();
    let (exit_tx, exit_rx) = oneshot::channel();
    tokio::spawn(relay(
        ws,
        protocol,
        Streams {
            stdin: stdin_far,
            stdout: stdout_far,
            stderr: stderr_far,
        },
        resize_rx,
        exit_tx,
    ));
    ExecSession {
        stdin: stdin_near.map(|s| Box::new(s) as _),
        stdout: stdout_near.map(|s| Box::new(s) as _),
        stderr: stderr_near.map(|s| Box::new(s) as _),
        resize: tty.then(|| {
            Box::new(move |size: TerminalSize| {
                let _ = resize_tx.send(size);
            }) as _
        }),
        connected: None,
        exit: Box::pin(async move {
            exit_rx
                .await
                .unwrap_or_else(|_| Err("the connection to the node agent was lost".into()))
        }),
    }
}

/// The relay's ends of the session's streams.
struct Streams {
    stdin: Option<DuplexStream>,
    stdout: Option<DuplexStream>,
    stderr: Option<DuplexStream>,
}

/// Moves bytes between the connection and the session until the error channel reports the end
/// (or the connection breaks, or the session is dropped). As in [`crate::serve`], the two
/// directions run apart, so that output waiting for its reader never holds up stdin, nor the
/// other way round.
async fn relay<S>(
    ws: WebSocketStream<S>,
    protocol: Protocol,
    streams: Streams,
    mut resizes: mpsc::UnboundedReceiver<TerminalSize>,
    exit: oneshot::Sender<ExecExit>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut tx, rx) = ws.split();
    let (done_tx, mut done) = oneshot::channel();
    let Streams {
        stdin,
        stdout,
        stderr,
    } = streams;
    let reader = tokio::spawn(read_server(rx, stdout, stderr, exit, done_tx));
    let mut stdin = stdin;
    let mut stdin_buf = vec![0u8; 16 * 1024];
    loop {
        let message = tokio::select! {
            n = read_stdin(&mut stdin, &mut stdin_buf), if stdin.is_some() => match n {
                Some(n) => {
                    let mut m = vec![channel::STDIN];
                    m.extend_from_slice(stdin_buf.get(..n).unwrap_or_default());
                    m
                }
                None => {
                    stdin = None;
                    if protocol != Protocol::V5 {
                        continue;
                    }
                    vec![channel::CLOSE, channel::STDIN]
                }
            },
            Some(size) = resizes.recv() => {
                let mut m = vec![channel::RESIZE];
                m.extend_from_slice(&serde_json::to_vec(&size).unwrap_or_default());
                m
            }
            // The end was reported, the connection broke, or the session was dropped.
            _ = &mut done => break,
        };
        if tx.send(Message::binary(message)).await.is_err() {
            break;
        }
    }
    let _ = tx.close().await;
    reader.abort();
}

/// Reads the serving end's messages into the session's output streams until the error channel
/// reports the end, the connection breaks, or the session is dropped; then fires `done`.
async fn read_server<S>(
    mut rx: SplitStream<WebSocketStream<S>>,
    mut stdout: Option<DuplexStream>,
    mut stderr: Option<DuplexStream>,
    mut exit: oneshot::Sender<ExecExit>,
    done: oneshot::Sender<()>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let lost = || Err("the connection to the node agent was lost".to_string());
    loop {
        let msg = tokio::select! {
            msg = rx.next() => msg,
            // Nobody waits for the end any more: the session was dropped.
            () = exit.closed() => break,
        };
        let data = match msg {
            Some(Ok(Message::Binary(data))) => data,
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                let _ = exit.send(lost());
                break;
            }
            Some(Ok(_)) => continue,
        };
        let Some((&ch, payload)) = data.split_first() else {
            continue;
        };
        let target = match ch {
            channel::STDOUT => stdout.as_mut(),
            channel::STDERR => stderr.as_mut(),
            channel::ERROR => {
                let status = serde_json::from_slice(payload).unwrap_or_default();
                // Whatever output is still buffered reaches the reader first: the streams
                // end here, and their readers drain them.
                drop((stdout, stderr));
                let _ = exit.send(exit_of_status(&status));
                let _ = done.send(());
                return;
            }
            _ => None,
        };
        if let Some(t) = target {
            // An error: nobody reads this stream any more; the others may be read.
            let _ = t.write_all(payload).await;
        }
    }
    let _ = done.send(());
}

async fn read_stdin(stdin: &mut Option<DuplexStream>, buf: &mut [u8]) -> Option<usize> {
    match stdin.as_mut()?.read(buf).await {
        Ok(n) if n > 0 => Some(n),
        _ => None,
    }
}
