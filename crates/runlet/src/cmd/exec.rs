//! `runlet exec [-i] [-t] POD|job/NAME [-c C] -- COMMAND [ARG...]`: a command run in a
//! running container through the API's `pods/exec`, as `kubectl exec` runs it.
//!
//! For a Job it picks one of its pods as kubectl does (a running one first). The container is
//! `-c`, else the pod's default (the `kubectl.kubernetes.io/default-container` annotation, else
//! the first). With `-i` stdin goes to the command until its end; with `-t` (when stdin is a
//! terminal) the command gets a terminal: the local one is put in raw mode for as long as the
//! command runs and its size follows the local one. runlet exits with the command's exit code,
//! saying `command terminated with exit code N` as kubectl does.

use crate::cli::resource;
use crate::cli::{self, CliError, ClientArgs, Ctx};
use crate::cmd::logs::{default_container, job_pods};
use clap::Args;
use futures::SinkExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams, TerminalSize};
use serde_json::Value;
use std::io::IsTerminal;
use std::process::ExitCode;
use tokio::io::{AsyncRead, AsyncWriteExt};

#[derive(Args, Clone)]
pub struct ExecArgs {
    /// `pod/NAME`, `job/NAME`, or a pod's NAME.
    #[arg(value_name = "TYPE/NAME")]
    target: String,
    /// The container (default: the pod's default or first container).
    #[arg(short = 'c', long)]
    container: Option<String>,
    /// Pass stdin to the command.
    #[arg(short = 'i', long)]
    stdin: bool,
    /// Give the command a terminal (when stdin is one).
    #[arg(short = 't', long)]
    tty: bool,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<String>,
    #[command(flatten)]
    client: ClientArgs,
}

pub fn run(args: ExecArgs) -> anyhow::Result<ExitCode> {
    Ok(cli::run(exec(args)))
}

async fn exec(args: ExecArgs) -> Result<ExitCode, CliError> {
    let ctx = Ctx::connect(&args.client, true).await?;
    let pod = target_pod(&ctx, &args.target).await?;
    let name = pod["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let phase = pod["status"]["phase"].as_str().unwrap_or_default();
    if matches!(phase, "Succeeded" | "Failed") {
        return Err(CliError::Usage(format!(
            "cannot exec into a container in a completed pod; current phase is {phase}"
        )));
    }
    let container = args
        .container
        .clone()
        .unwrap_or_else(|| default_container(&pod));
    // As kubectl's `SetupTTY`: no terminal without input; with input, only on a local one.
    let tty = args.tty && args.stdin && std::io::stdin().is_terminal();
    if args.tty && args.stdin && !tty {
        eprintln!("Unable to use a TTY - input is not a terminal or the right kind of file");
    }
    let params = AttachParams {
        container: Some(container),
        stdin: args.stdin,
        stdout: true,
        stderr: !tty,
        tty,
        ..Default::default()
    };
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let mut process = pods
        .exec(&name, args.command.clone(), &params)
        .await
        .map_err(|e| CliError::from_kube(e, &ctx.server))?;
    // Raw for as long as the command runs: keys go to the remote terminal as typed.
    let raw = tty.then(RawTerminal::enter).flatten();
    let resizes = process.terminal_size().map(|mut sender| {
        tokio::spawn(async move {
            let mut changes =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change()).ok();
            loop {
                if let Some(size) = local_size()
                    && sender.send(size).await.is_err()
                {
                    return;
                }
                match changes.as_mut() {
                    Some(c) => {
                        if c.recv().await.is_none() {
                            return;
                        }
                    }
                    None => return,
                }
            }
        })
    });
    if let Some(mut remote_stdin) = process.stdin() {
        // A thread of its own: a read of the local stdin blocks, and must not keep the
        // runtime from ending when the command does.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(16);
        std::thread::spawn(move || read_stdin(&tx));
        tokio::spawn(async move {
            while let Some(chunk) = rx.recv().await {
                if remote_stdin.write_all(&chunk).await.is_err() {
                    return;
                }
            }
            // The end of input: closing the writer ends the command's stdin.
            let _ = remote_stdin.shutdown().await;
        });
    }
    let stdout = process.stdout().map(|s| copy_out(s, std::io::stdout()));
    let stderr = process.stderr().map(|s| copy_out(s, std::io::stderr()));
    let status = match process.take_status() {
        Some(status) => status.await,
        None => None,
    };
    for copy in [stdout, stderr].into_iter().flatten() {
        let _ = copy.await;
    }
    if let Some(r) = resizes {
        r.abort();
    }
    drop(raw);
    exit_of(status)
}

/// The pod `target` names: a pod, or one of a Job's (a running one first, then the oldest).
async fn target_pod(ctx: &Ctx, target: &str) -> Result<Value, CliError> {
    let ns = &ctx.namespace;
    let (kind, name) = match target.split_once('/') {
        Some((t, n)) => (resource::resolve(t)?.kind, n),
        None => ("Pod", target),
    };
    match kind {
        "Pod" => {
            ctx.get(&format!("/api/v1/namespaces/{ns}/pods/{name}"))
                .await
        }
        "Job" => {
            let job: Job = serde_json::from_value(
                ctx.get(&format!("/apis/batch/v1/namespaces/{ns}/jobs/{name}"))
                    .await?,
            )
            .map_err(|e| CliError::Other(e.to_string()))?;
            let pods = job_pods(ctx, &job).await?;
            let running = |p: &&Pod| {
                p.status
                    .as_ref()
                    .is_some_and(|s| s.phase.as_deref() == Some("Running"))
            };
            let pod =
                pods.iter().find(running).or(pods.first()).ok_or_else(|| {
                    CliError::Usage(format!("no pods of job/{name} to exec into"))
                })?;
            serde_json::to_value(pod).map_err(|e| CliError::Other(e.to_string()))
        }
        other => Err(CliError::Usage(format!(
            "cannot exec into a {other}: name a pod or a job"
        ))),
    }
}

/// The exit code the command's end gives, saying why as kubectl does.
fn exit_of(
    status: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Status>,
) -> Result<ExitCode, CliError> {
    let Some(status) = status else {
        return Err(CliError::Other(
            "the connection ended before the command's exit was known".into(),
        ));
    };
    if status.status.as_deref() == Some("Success") {
        return Ok(ExitCode::SUCCESS);
    }
    let code = status
        .details
        .as_ref()
        .and_then(|d| d.causes.as_ref())
        .into_iter()
        .flatten()
        .find(|c| c.reason.as_deref() == Some("ExitCode"))
        .and_then(|c| c.message.as_deref())
        .and_then(|m| m.parse::<u8>().ok());
    match (status.reason.as_deref(), code) {
        (Some("NonZeroExitCode"), Some(code)) => {
            eprintln!("command terminated with exit code {code}");
            Ok(ExitCode::from(code))
        }
        _ => Err(CliError::Other(status.message.unwrap_or_default())),
    }
}

/// Copies one of the command's streams to a local one until its end.
fn copy_out(
    mut from: impl AsyncRead + Unpin + Send + 'static,
    mut to: impl std::io::Write + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 32 * 1024];
        while let Ok(n) = from.read(&mut buf).await {
            let Some(chunk) = buf.get(..n).filter(|c| !c.is_empty()) else {
                return;
            };
            if to.write_all(chunk).and_then(|()| to.flush()).is_err() {
                return;
            }
        }
    })
}

/// Reads the local stdin until its end, chunk by chunk (blocking: its own thread).
fn read_stdin(tx: &tokio::sync::mpsc::Sender<Vec<u8>>) {
    use std::io::Read;
    let mut stdin = std::io::stdin().lock();
    let mut buf = vec![0u8; 16 * 1024];
    while let Ok(n) = stdin.read(&mut buf) {
        let Some(chunk) = buf.get(..n).filter(|c| !c.is_empty()) else {
            return;
        };
        if tx.blocking_send(chunk.to_vec()).is_err() {
            return;
        }
    }
}

/// The local terminal's size, when stdout is a terminal.
fn local_size() -> Option<TerminalSize> {
    let size = rustix::termios::tcgetwinsize(std::io::stdout()).ok()?;
    Some(TerminalSize {
        width: size.ws_col,
        height: size.ws_row,
    })
}

/// The local terminal in raw mode, restored when dropped.
struct RawTerminal(rustix::termios::Termios);

impl RawTerminal {
    fn enter() -> Option<RawTerminal> {
        let stdin = std::io::stdin();
        let saved = rustix::termios::tcgetattr(&stdin).ok()?;
        let mut raw = saved.clone();
        raw.make_raw();
        rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &raw).ok()?;
        Some(RawTerminal(saved))
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        let _ = rustix::termios::tcsetattr(
            std::io::stdin(),
            rustix::termios::OptionalActions::Now,
            &self.0,
        );
    }
}
