//! The client end: a connection to a serving end made back into an [`ExecSession`], so that the
//! API server can serve its own client from a command that runs on another machine.

use crate::{ExecExit, ExecSession, Protocol, TerminalSize, channel, exit_of_status};
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
/// (or the connection breaks, or the session is dropped).
async fn relay<S>(
    ws: WebSocketStream<S>,
    protocol: Protocol,
    mut streams: Streams,
    mut resizes: mpsc::UnboundedReceiver<TerminalSize>,
    mut exit: oneshot::Sender<ExecExit>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut tx, mut rx) = ws.split();
    let mut stdin_buf = vec![0u8; 16 * 1024];
    let lost = loop {
        tokio::select! {
            msg = rx.next() => match msg {
                Some(Ok(Message::Binary(data))) => {
                    let Some((&ch, payload)) = data.split_first() else { continue };
                    let target = match ch {
                        channel::STDOUT => streams.stdout.as_mut(),
                        channel::STDERR => streams.stderr.as_mut(),
                        channel::ERROR => {
                            let status = serde_json::from_slice(payload).unwrap_or_default();
                            // Whatever output is still buffered reaches the reader first:
                            // the streams end here, and their readers drain them.
                            drop(streams);
                            let _ = exit.send(exit_of_status(&status));
                            let _ = tx.close().await;
                            return;
                        }
                        _ => None,
                    };
                    if let Some(t) = target {
                        // An error: nobody reads this stream any more; the others may be read.
                        let _ = t.write_all(payload).await;
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break true,
                Some(Ok(_)) => {}
            },
            n = read_stdin(&mut streams.stdin, &mut stdin_buf), if streams.stdin.is_some() => {
                let message = match n {
                    Some(n) => {
                        let mut m = vec![channel::STDIN];
                        m.extend_from_slice(stdin_buf.get(..n).unwrap_or_default());
                        m
                    }
                    None => {
                        streams.stdin = None;
                        if protocol != Protocol::V5 {
                            continue;
                        }
                        vec![channel::CLOSE, channel::STDIN]
                    }
                };
                if tx.send(Message::binary(message)).await.is_err() {
                    break true;
                }
            }
            Some(size) = resizes.recv() => {
                let mut m = vec![channel::RESIZE];
                m.extend_from_slice(&serde_json::to_vec(&size).unwrap_or_default());
                if tx.send(Message::binary(m)).await.is_err() {
                    break true;
                }
            }
            () = exit.closed() => break false,
        }
    };
    if lost {
        let _ = exit.send(Err("the connection to the node agent was lost".into()));
    } else {
        let _ = tx.close().await;
    }
}

async fn read_stdin(stdin: &mut Option<DuplexStream>, buf: &mut [u8]) -> Option<usize> {
    match stdin.as_mut()?.read(buf).await {
        Ok(n) if n > 0 => Some(n),
        _ => None,
    }
}
