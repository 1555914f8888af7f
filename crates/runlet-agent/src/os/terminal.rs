//! Pseudo-terminals for `kubectl exec -t`: the process gets the far end as its stdin, stdout,
//! stderr and controlling terminal; the agent reads and writes the near end, and resizes it.
//!
//! The near end is read and written through tokio's pipe types over two descriptors of the
//! same open file (non-blocking, as they require). Once every descriptor of the far end is
//! closed (the process and whatever it started have exited), reading the near end fails with
//! `EIO` instead of returning end of file: [`TerminalOutput`] turns that into the end.

use super::{ExitInfo, OsError, Spawned, Terminal, TerminalSize};
use futures::future::BoxFuture;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};

/// A new pseudo-terminal, before its process is started.
pub struct PseudoTerminal {
    near: OwnedFd,
    /// The end the process gets; the agent closes its copy once the process has it.
    pub far: OwnedFd,
}

impl PseudoTerminal {
    pub fn open(size: Option<TerminalSize>) -> std::io::Result<PseudoTerminal> {
        use rustix::pty::OpenptFlags;
        let near =
            rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)?;
        rustix::pty::grantpt(&near)?;
        rustix::pty::unlockpt(&near)?;
        let name = rustix::pty::ptsname(&near, Vec::new())?;
        let far = rustix::fs::open(
            name.as_c_str(),
            rustix::fs::OFlags::RDWR | rustix::fs::OFlags::NOCTTY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )?;
        rustix::io::ioctl_fionbio(&near, true)?;
        // The client's size, when it came before the start; else the classic 80 by 24, not
        // the kernel's 0 by 0, which full-screen programs cannot use.
        set_size(&near, size.unwrap_or(DEFAULT_SIZE))?;
        Ok(PseudoTerminal { near, far })
    }

    /// The process `pid`, started on the far end, as [`Spawned`]: its input and output through
    /// the near end. The agent's copy of the far end is closed here.
    pub fn attach(self, pid: u32, exit: BoxFuture<'static, ExitInfo>) -> Result<Spawned, OsError> {
        let PseudoTerminal { near, far } = self;
        drop(far);
        let io = |e: std::io::Error| OsError::Terminal(e);
        let writer = near.try_clone().map_err(io)?;
        let resizer = near.try_clone().map_err(io)?;
        let input = tokio::net::unix::pipe::Sender::from_owned_fd_unchecked(writer).map_err(io)?;
        let output = tokio::net::unix::pipe::Receiver::from_owned_fd_unchecked(near).map_err(io)?;
        Ok(Spawned {
            pid,
            stdin: Some(Box::new(input)),
            stdout: Box::new(TerminalOutput(output)),
            stderr: Box::new(tokio::io::empty()),
            terminal: Some(Box::new(Resizer(resizer))),
            exit,
        })
    }
}

/// The near end's output, ending where the far end is closed.
struct TerminalOutput(tokio::net::unix::pipe::Receiver);

impl AsyncRead for TerminalOutput {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match Pin::new(&mut self.0).poll_read(cx, buf) {
            Poll::Ready(Err(e))
                if e.raw_os_error() == Some(rustix::io::Errno::IO.raw_os_error()) =>
            {
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

/// Sets the size of the terminal through a descriptor of its near end.
struct Resizer(OwnedFd);

impl Terminal for Resizer {
    fn resize(&self, size: TerminalSize) -> Result<(), OsError> {
        set_size(&self.0, size).map_err(OsError::Terminal)
    }
}

/// A terminal's size before its client says.
const DEFAULT_SIZE: TerminalSize = TerminalSize {
    width: 80,
    height: 24,
};

fn set_size(near: &OwnedFd, size: TerminalSize) -> std::io::Result<()> {
    rustix::termios::tcsetwinsize(
        near,
        rustix::termios::Winsize {
            ws_row: size.height,
            ws_col: size.width,
            ws_xpixel: 0,
            ws_ypixel: 0,
        },
    )?;
    Ok(())
}
