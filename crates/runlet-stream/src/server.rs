//! The serving end: a command's streams onto a client's WebSocket.
//!
//! The two directions run apart: a task of its own reads the client's messages (and may wait
//! for the command to read its stdin), while the output is pumped to the client. Pumping both
//! in one loop deadlocks `kubectl exec -i pod -- cat < big-file`: the loop waits for `cat` to
//! take more input while `cat` waits for its output to be read.

use crate::{ExecSession, Protocol, TerminalSize, channel, exit_status};
use futures::stream::SplitStream;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// The most bytes of output one message carries.
const CHUNK: usize = 32 * 1024;
/// How long the client may take to answer the closing handshake.
const CLOSE_ANSWER: std::time::Duration = std::time::Duration::from_secs(5);

/// How long after the upgrade the first message waits. client-go before 1.34 starts reading
/// the connection while it still sets up its streams, and drops what comes for a stream not
/// yet made ("Unknown stream id 3, discarding message"): a command that fails at once would
/// lose its status, and kubectl would exit 0. Upstream's API server reaches the kubelet only
/// after the upgrade, which gives the client that time; here the command is started before.
const CLIENT_SETUP: std::time::Duration = std::time::Duration::from_millis(200);

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
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut tx, rx) = ws.split();
    let ExecSession {
        stdin,
        mut stdout,
        mut stderr,
        resize,
        connected,
        exit,
    } = session;
    // Upstream's server sends an empty message on the lowest output channel first; kubectl
    // does not need it, and kubectl 1.33 may find it before its streams are set up and print
    // "Unknown stream id 1, discarding message": it is left out.
    let (gone_tx, mut gone) = oneshot::channel();
    let reader = tokio::spawn(read_client(rx, protocol, stdin, resize, gone_tx));
    if let Some(connected) = connected {
        connected();
    }
    let mut first_message_at = Some(tokio::time::Instant::now() + CLIENT_SETUP);
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
            // The client is gone: nobody reads the output any more.
            _ = &mut gone => return,
        };
        if let Some((ch, bytes)) = output {
            if let Some(at) = first_message_at.take() {
                tokio::time::sleep_until(at).await;
            }
            let mut message = Vec::with_capacity(bytes.len() + 1);
            message.push(ch);
            message.extend_from_slice(bytes);
            if tx.send(Message::binary(message)).await.is_err() {
                reader.abort();
                return;
            }
        }
    }
    let Some(ended) = ended else { return };
    if let Some(at) = first_message_at {
        tokio::time::sleep_until(at).await;
    }
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
        // The client answers the close, which ends the reader: the close is orderly.
        let _ = tokio::time::timeout(CLOSE_ANSWER, gone).await;
    }
    reader.abort();
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

/// Takes the client's messages — stdin, resizes and (version 5) the close of stdin — until the
/// client closes the connection or goes, which it then reports through `gone`.
async fn read_client<S>(
    mut rx: SplitStream<WebSocketStream<S>>,
    protocol: Protocol,
    mut stdin: Option<Box<dyn AsyncWrite + Send + Unpin>>,
    resize: Option<Box<dyn Fn(TerminalSize) + Send + Sync>>,
    gone: oneshot::Sender<()>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        let data = match rx.next().await {
            Some(Ok(Message::Binary(data))) => data,
            // The Python client sends text frames for `str` data: the same bytes.
            Some(Ok(Message::Text(text))) => text.as_bytes().to_vec().into(),
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
            // Pings are answered by the WebSocket layer.
            Some(Ok(_)) => continue,
        };
        let Some((&ch, payload)) = data.split_first() else {
            continue;
        };
        match ch {
            channel::STDIN => {
                if let Some(writer) = stdin.as_mut()
                    && !payload.is_empty()
                    && (writer.write_all(payload).await.is_err() || writer.flush().await.is_err())
                {
                    // The command closed its stdin: what else comes is not read.
                    stdin = None;
                }
            }
            channel::RESIZE => {
                if let (Some(resize), Ok(size)) = (
                    resize.as_deref(),
                    serde_json::from_slice::<TerminalSize>(payload),
                ) {
                    resize(size);
                }
            }
            channel::CLOSE
                if protocol == Protocol::V5 && payload.first() == Some(&channel::STDIN) =>
            {
                if let Some(mut writer) = stdin.take() {
                    let _ = writer.shutdown().await;
                }
            }
            _ => {}
        }
    }
    let _ = gone.send(());
}
