#![allow(clippy::unwrap_used)]

use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::protocol::Role;

/// A command for tests: `cat` (stdin to stdout until stdin ends, then exit `code`), with
/// `greeting` on stderr first. The receiver learns if the session was dropped before the end.
fn cat(greeting: &'static [u8], code: i32) -> (ExecSession, tokio::sync::oneshot::Receiver<()>) {
    let (stdin_near, mut stdin_far) = tokio::io::duplex(1024);
    let (stdout_near, mut stdout_far) = tokio::io::duplex(1024);
    let (stderr_near, mut stderr_far) = tokio::io::duplex(1024);
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(async move {
        stderr_far.write_all(greeting).await.unwrap();
        drop(stderr_far);
        tokio::io::copy(&mut stdin_far, &mut stdout_far)
            .await
            .unwrap();
    });
    let session = ExecSession {
        stdin: Some(Box::new(stdin_near)),
        stdout: Some(Box::new(stdout_near)),
        stderr: Some(Box::new(stderr_near)),
        resize: None,
        connected: None,
        exit: Box::pin(async move {
            // Sent only when the end is reached: a dropped session drops `done_tx` unsent.
            run.await.unwrap();
            let _ = done_tx.send(());
            Ok(code)
        }),
    };
    (session, done_rx)
}

/// Serves `session` to an attached client over an in-memory connection.
fn connect(session: ExecSession, protocol: Protocol, tty: bool) -> ExecSession {
    let (server_io, client_io) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        let ws = tokio_tungstenite::WebSocketStream::from_raw_socket(server_io, Role::Server, None)
            .await;
        serve(ws, protocol, session, &["cat".to_string()]).await;
    });
    let ws = futures::executor::block_on(tokio_tungstenite::WebSocketStream::from_raw_socket(
        client_io,
        Role::Client,
        None,
    ));
    attach(ws, protocol, [true, true, true, tty])
}

async fn read_to_end(s: Option<Box<dyn tokio::io::AsyncRead + Send + Unpin>>) -> String {
    let mut out = String::new();
    s.unwrap().read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn stdin_reaches_the_command_and_its_output_and_exit_code_come_back() {
    let (command, _) = cat(b"hello on stderr\n", 3);
    let session = connect(command, Protocol::V5, false);
    let mut stdin = session.stdin.unwrap();
    stdin.write_all(b"line one\nline two\n").await.unwrap();
    // Version 5 ends stdin without ending the connection: `cat` ends, and says how.
    drop(stdin);
    let (out, err, exit) = tokio::join!(
        read_to_end(session.stdout),
        read_to_end(session.stderr),
        session.exit
    );
    assert_eq!(out, "line one\nline two\n");
    assert_eq!(err, "hello on stderr\n");
    assert_eq!(exit, Ok(3));
}

#[tokio::test]
async fn input_and_output_flow_at_once_without_waiting_for_each_other() {
    // `cat` of more than every buffer on the way holds: its output must be read while its
    // input is still being written, in both ends of the protocol.
    let (command, _) = cat(b"", 0);
    let session = connect(command, Protocol::V5, false);
    let mut stdin = session.stdin.unwrap();
    let input: Vec<u8> = (0..8 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let expected = input.clone();
    let writer = tokio::spawn(async move {
        stdin.write_all(&input).await.unwrap();
        drop(stdin);
    });
    let read = async {
        let mut out = Vec::new();
        session.stdout.unwrap().read_to_end(&mut out).await.unwrap();
        out
    };
    let (out, exit) = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        tokio::join!(read, session.exit)
    })
    .await
    .expect("no deadlock");
    writer.await.unwrap();
    assert_eq!(out.len(), expected.len());
    assert!(out == expected, "the bytes come back as sent");
    assert_eq!(exit, Ok(0));
}

#[tokio::test]
async fn a_client_that_goes_away_ends_the_command() {
    let (command, done) = cat(b"", 0);
    let session = connect(command, Protocol::V4, false);
    // Version 4 cannot end stdin: `cat` runs until the client goes.
    drop(session);
    assert!(
        tokio::time::timeout(std::time::Duration::from_secs(10), done)
            .await
            .unwrap()
            .is_err(),
        "the session was dropped before its end"
    );
}

#[test]
fn the_error_channel_reports_the_exit_as_the_kubelet_does() {
    let command = ["sh".to_string(), "-c".to_string(), "exit 3".to_string()];
    let status = exit_status(&Ok(3), Protocol::V4, &command);
    assert_eq!(
        status["message"],
        "command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3"
    );
    assert_eq!(
        exit_status(&Ok(3), Protocol::V5, &command)["message"],
        "command terminated with non-zero exit code: command terminated with exit code 3"
    );
    assert_eq!(status["details"]["causes"][0]["reason"], "ExitCode");
    assert_eq!(exit_of_status(&status), Ok(3));
    assert_eq!(
        exit_of_status(&exit_status(&Ok(0), Protocol::V5, &command)),
        Ok(0)
    );
    let failed = exit_status(
        &Err("exec: \"nope\": not found".into()),
        Protocol::V5,
        &command,
    );
    assert_eq!(failed["code"], 500);
    assert_eq!(
        exit_of_status(&failed),
        Err("exec: \"nope\": not found".into())
    );
}

#[test]
fn the_client_chooses_the_protocol_in_its_order_of_preference() {
    assert_eq!(
        Protocol::choose(["v5.channel.k8s.io, v4.channel.k8s.io"]),
        Some(Protocol::V5)
    );
    assert_eq!(
        Protocol::choose(["channel.k8s.io", "v4.channel.k8s.io,v5.channel.k8s.io"]),
        Some(Protocol::V4)
    );
    assert_eq!(Protocol::choose(["base64.channel.k8s.io"]), None);
}

#[test]
fn a_request_survives_the_trip_through_the_agent_endpoint_query() {
    let req = ExecRequest {
        namespace: "ns".into(),
        pod: "p".into(),
        uid: "u-1".into(),
        container: "c".into(),
        command: vec!["sh".into(), "-c".into(), "echo a&b=c".into()],
        stdin: true,
        stdout: true,
        stderr: false,
        tty: true,
    };
    assert_eq!(ExecRequest::from_query("ns", "p", "c", &req.query()), req);
}
