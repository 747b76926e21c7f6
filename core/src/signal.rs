//! Shutdown signals as a file descriptor.
//!
//! `SIGTERM`, `SIGINT` and `SIGHUP` (reload, not shutdown) are blocked in the process (the mask is inherited by every shard thread spawned
//! afterwards) and delivered through a `signalfd` that the main thread waits on. This keeps signal handling out
//! of the shards entirely: no async-signal-safety concerns, and a shard is told to drain through the same
//! cross-core wake-up it uses for everything else.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// The signal that asks for a reload (of the TLS certificate), not a shutdown.
pub const RELOAD_SIGNAL: i32 = libc::SIGHUP;

/// A `signalfd` receiving the process's shutdown signals (`SIGTERM`, `SIGINT`) and `SIGHUP` (reload).
#[derive(Debug)]
pub struct ShutdownSignals {
    /// The signalfd; readable when a blocked signal is pending.
    fd: OwnedFd,
}

impl ShutdownSignals {
    /// Blocks `SIGTERM`, `SIGINT` and `SIGHUP` in the calling thread and opens a signalfd for them.
    ///
    /// Call this on the main thread before spawning any other thread, so every thread inherits the mask and
    /// the signals can only be received through this descriptor.
    pub fn block_and_open() -> io::Result<Self> {
        // SAFETY: `sigset_t` is a plain C struct for which all-zero bytes is a valid (empty) value; it is then
        // initialised by `sigemptyset` before use.
        let mut mask: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: `mask` is a valid, writable `sigset_t` owned by this frame; the calls only write into it and
        // the signal numbers are valid constants.
        unsafe {
            libc::sigemptyset(&mut mask);
            libc::sigaddset(&mut mask, libc::SIGTERM);
            libc::sigaddset(&mut mask, libc::SIGINT);
            // Not a shutdown: the server reloads its TLS certificate (the caller tells them apart).
            libc::sigaddset(&mut mask, libc::SIGHUP);
        }
        // SAFETY: `mask` was initialised above; a null old-set pointer is allowed by pthread_sigmask(3).
        let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &mask, std::ptr::null_mut()) };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        // SAFETY: `mask` is initialised; -1 asks the kernel for a new descriptor, which we own on success.
        let fd = unsafe { libc::signalfd(-1, &mask, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor returned by signalfd(2) and owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Self { fd })
    }

    /// Waits up to `timeout` for a shutdown signal; returns its number, or `None` when the time ran out.
    pub fn wait(&self, timeout: Duration) -> io::Result<Option<i32>> {
        let mut pollfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let timeout_ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: `pollfd` is a valid array of one element that lives across the call.
        let ready = unsafe { libc::poll(&mut pollfd, 1, timeout_ms) };
        if ready < 0 {
            let error = io::Error::last_os_error();
            return if error.kind() == io::ErrorKind::Interrupted {
                Ok(None)
            } else {
                Err(error)
            };
        }
        if ready == 0 {
            return Ok(None);
        }
        // SAFETY: all-zero bytes is a valid `signalfd_siginfo` (a plain C struct of integers).
        let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::signalfd_siginfo>();
        // SAFETY: `info` is a writable buffer of exactly `size` bytes that lives across the call.
        let read = unsafe {
            libc::read(
                self.fd.as_raw_fd(),
                (&mut info as *mut libc::signalfd_siginfo).cast(),
                size,
            )
        };
        if read != size as isize {
            return Ok(None);
        }
        Ok(Some(info.ssi_signo as i32))
    }

    /// The raw descriptor, for an event loop that wants to watch it.
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}
