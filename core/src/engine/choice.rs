//! Which backend `Engine::new` chose and why, for the server's startup log line.

use std::fmt;

/// The backend in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    /// io_uring with direct descriptors and provided buffers.
    IoUring,
    /// epoll with nonblocking sockets.
    Epoll,
}

/// The io_uring setup flags that were accepted by the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UringFlags {
    /// `IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN` (best: completions are only
    /// processed when the shard asks, no interrupting task work).
    SingleIssuerDeferTaskrun,
    /// `IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG`.
    CoopTaskrun,
    /// No optional flags.
    Plain,
}

/// Why this backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChoiceReason {
    /// io_uring works here; these flags were chosen after probing.
    UringWorks(UringFlags),
    /// The caller asked for epoll.
    EpollRequested,
    /// `Auto` fell back to epoll because io_uring setup failed (ENOSYS: old kernel; EPERM:
    /// seccomp or `kernel.io_uring_disabled`), or a required feature is missing.
    UringUnavailable(String),
}

/// The result of backend selection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineChoice {
    /// The backend in use.
    pub backend: BackendKind,
    /// Why it was chosen.
    pub reason: ChoiceReason,
    /// How many connections this engine can hold at once.
    pub connections_max: u32,
    /// Set when `connections_max` had to be lowered below the configured value, and by what.
    pub limited_by: Option<String>,
    /// io_uring rings in use (each with its own file table); 0 on epoll.
    pub rings: u32,
}

impl fmt::Display for EngineChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reason = match &self.reason {
            ChoiceReason::UringWorks(flags) => format!("io_uring works, setup flags {flags:?}"),
            ChoiceReason::EpollRequested => "epoll was requested".to_owned(),
            ChoiceReason::UringUnavailable(why) => format!("io_uring unavailable: {why}"),
        };
        write!(
            f,
            "engine {:?} ({reason}); connections_max {}",
            self.backend, self.connections_max
        )?;
        if self.rings > 0 {
            write!(f, " over {} ring(s)", self.rings)?;
        }
        if let Some(limit) = &self.limited_by {
            write!(f, ", limited by {limit}")?;
        }
        Ok(())
    }
}
