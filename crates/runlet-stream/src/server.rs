//! The serving end: a command's streams onto a client's WebSocket.

use crate::{ExecSession, Protocol, TerminalSize, channel, exit_status};
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// The most bytes of output one message carries.
const CHUNK: usize = 32 * 1024;
/// How many stdin messages may wait for the command to read them.
const STDIN_BACKLOG: usize = 16;

/// Serves `session` on `ws` until the command has ended and its output is sent (then the error
/// channel reports its end and the connection is closed), or until the client goes away (then
/// the session is dropped, which kills the command). `command` is named in the report of a
/// non-zero exit.
pub async fn serve<S>(
    ws: WebSocketStream<S>,
    protocol: Protocol,
    session: ExecSession,
    command: &[String],
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut tx, mut rx) = ws.split();
    let ExecSession {
        stdin,
        mut stdout,
        mut stderr,
        resize,
        exit,
    } = session;
    // Upstream's server sends an empty message on the lowest output channel first; kubectl
    // does not need it, and kubectl 1.33 may find it before its streams are set up and print
    // "Unknown stream id 1, discarding message": it is left out.
    let mut stdin_tx = stdin.map(|writer| {
        let (chunks, rx) = mpsc::channel(STDIN_BACKLOG);
        tokio::spawn(feed_stdin(writer, rx));
        chunks
    });
    let mut exit = exit;
    let mut ended = None;
    let (mut out_buf, mut err_buf) = (vec![0u8; CHUNK], vec![0u8; CHUNK]);
    while stdout.is_some() || stderr.is_some() || ended.is_none() {
        let output = tokio::select! {
            r = read_some(&mut stdout, &mut out_buf), if stdout.is_some() => match r {
                Some(n) => Some((channel::STDOUT, out_buf.get(..n).unwrap_or_default())),
                None => { stdout = None; None }
            },
            r = read_some(&mut stderr, &mut err_buf), if stderr.is_some() => match r {
                Some(n) => Some((channel::STDERR, err_buf.get(..n).unwrap_or_default())),
                None => { stderr = None; None }
            },
            e = &mut exit, if ended.is_none() => {
                ended = Some(e);
                None
            }
            msg = rx.next() => {
                match msg {
                    Some(Ok(Message::Binary(data))) => {
                        from_client(&data, protocol, &mut stdin_tx, resize.as_deref()).await;
                    }
                    // The Python client sends text frames for `str` data: the same bytes.
                    Some(Ok(Message::Text(text))) => {
                        from_client(text.as_bytes(), protocol, &mut stdin_tx, resize.as_deref())
                            .await;
                    }
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                        // The client is gone: nobody reads the output any more.
                        return;
                    }
                    // Pings are answered by the WebSocket layer.
                    Some(Ok(_)) => {}
                }
                None
            }
        };
        if let Some((ch, bytes)) = output {
            let mut message = Vec::with_capacity(bytes.len() + 1);
            message.push(ch);
            message.extend_from_slice(bytes);
            if tx.send(Message::binary(message)).await.is_err() {
                return;
            }
        }
    }
    let Some(ended) = ended else { return };
    let status = exit_status(&ended, protocol, command).to_string();
    let mut message = vec![channel::ERROR];
    message.extend_from_slice(status.as_bytes());
    if tx.send(Message::binary(message)).await.is_ok() {
        let _ = tx
            .send(Message::Close(Some(CloseFrame {
                code: CloseCode::Normal,
                reason: "".into(),
            })))
            .await;
    }
    // The client answers the close; read until it does (or goes), so the close is orderly.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while let Some(Ok(_)) = rx.next().await {}
    })
    .await;
}

/// Reads the next bytes of `stream`; `None` at its end (or on an error, which ends it too).
async fn read_some(
    stream: &mut Option<Box<dyn AsyncRead + Send + Unpin>>,
    buf: &mut [u8],
) -> Option<usize> {
    let s = stream.as_mut()?;
    match s.read(buf).await {
        Ok(n) if n > 0 => Some(n),
        _ => None,
    }
}

/// One message from the client: stdin, a resize, or (version 5) the close of stdin.
async fn from_client(
    data: &[u8],
    protocol: Protocol,
    stdin: &mut Option<mpsc::Sender<Vec<u8>>>,
    resize: Option<&(dyn Fn(TerminalSize) + Send + Sync)>,
) {
    let Some((&ch, payload)) = data.split_first() else {
        return;
    };
    match ch {
        channel::STDIN => {
            if let Some(tx) = stdin
                && !payload.is_empty()
                && tx.send(payload.to_vec()).await.is_err()
            {
                *stdin = None;
            }
        }
        channel::RESIZE => {
            if let (Some(resize), Ok(size)) =
                (resize, serde_json::from_slice::<TerminalSize>(payload))
            {
                resize(size);
            }
        }
        channel::CLOSE if protocol == Protocol::V5 && payload.first() == Some(&channel::STDIN) => {
            // Dropping the sender ends the feeding task, which drops the writer: end of input.
            *stdin = None;
        }
        _ => {}
    }
}

/// Writes what the client sends to the command's stdin, until the client closes it.
async fn feed_stdin(
    mut writer: Box<dyn AsyncWrite + Send + Unpin>,
    mut rx: mpsc::Receiver<Vec<u8>>,
) {
    while let Some(chunk) = rx.recv().await {
        if writer.write_all(&chunk).await.is_err() || writer.flush().await.is_err() {
            return;
        }
    }
    let _ = writer.shutdown().await;
}
