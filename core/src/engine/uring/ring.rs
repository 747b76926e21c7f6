//! One io_uring instance with its registered file table and provided-buffer ring, and the
//! probing of setup flags.

use std::{io, time::Duration};

use io_uring::{opcode, squeue, types, IoUring};

use super::buf_ring::BufRing;
use crate::engine::{choice::UringFlags, event::Errno};

/// The buffer group id used on every ring (each ring has its own group table).
pub(super) const BUFFER_GROUP: u16 = 0;

/// Operations the engine cannot work without.
const REQUIRED_OPCODES: [(u8, &str); 11] = [
    (opcode::AcceptMulti::CODE, "accept"),
    (opcode::RecvMulti::CODE, "recv"),
    (opcode::Send::CODE, "send"),
    (opcode::Close::CODE, "close"),
    (opcode::FilesUpdate::CODE, "files_update"),
    (opcode::Connect::CODE, "connect"),
    (opcode::AsyncCancel2::CODE, "async_cancel"),
    (opcode::Shutdown::CODE, "shutdown"),
    (opcode::Read::CODE, "read"),
    (opcode::Write::CODE, "write"),
    (opcode::Fsync::CODE, "fsync"),
];

/// Why a ring could not be made: either io_uring is unusable here (fall back) or a resource
/// ran out (a real error).
pub(super) enum RingError {
    Unavailable(String),
    Setup(&'static str, Errno),
}

/// A ring, its file table and its buffers. Field order matters: the io_uring is dropped (and
/// the kernel lets go of the buffer ring) before the buffer memory is freed.
pub(super) struct Ring {
    pub(super) uring: IoUring,
    pub(super) bufs: BufRing,
    /// Direct-descriptor slots in this ring's table.
    pub(super) table_slots: u32,
    /// Slots holding a connection (counted when its completion is seen).
    pub(super) slots_used: u32,
    /// Slots reserved for client sockets being installed (`FILES_UPDATE` in flight).
    pub(super) slots_reserved: u32,
    /// Per listener: a multishot accept is armed on this ring.
    pub(super) accept_armed: Vec<bool>,
    /// Per listener: a cancel of that multishot accept is in flight.
    pub(super) accept_cancelling: Vec<bool>,
    /// Per listener: single-shot accepts in flight (each holds a reserved slot).
    pub(super) accepts_pending: Vec<u32>,
}

fn build(entries: u32, flags: UringFlags) -> io::Result<IoUring> {
    let mut builder = IoUring::builder();
    builder.setup_cqsize(entries * 4);
    match flags {
        UringFlags::SingleIssuerDeferTaskrun => {
            builder
                .setup_single_issuer()
                .setup_defer_taskrun()
                .setup_submit_all();
        }
        UringFlags::CoopTaskrun => {
            builder
                .setup_coop_taskrun()
                .setup_taskrun_flag()
                .setup_submit_all();
        }
        UringFlags::Plain => {}
    }
    builder.build(entries)
}

/// Tries the setup flags best first and returns the first ring the kernel accepts, after
/// checking the features the engine needs.
pub(super) fn probe(entries: u32) -> Result<(IoUring, UringFlags), RingError> {
    let mut last = None;
    for flags in [
        UringFlags::SingleIssuerDeferTaskrun,
        UringFlags::CoopTaskrun,
        UringFlags::Plain,
    ] {
        match build(entries, flags) {
            Ok(uring) => {
                check_features(&uring)?;
                return Ok((uring, flags));
            }
            // EINVAL: this flag combination is unknown to the kernel; try a simpler one.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => last = Some(e),
            Err(e) => return Err(RingError::Unavailable(setup_failure(&e))),
        }
    }
    let e = last.expect("at least one attempt");
    Err(RingError::Unavailable(format!(
        "io_uring_setup rejected every flag set: {e}"
    )))
}

fn setup_failure(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::ENOSYS) => "io_uring_setup: ENOSYS (kernel without io_uring)".to_owned(),
        Some(libc::EPERM) => {
            "io_uring_setup: EPERM (seccomp filter or sysctl kernel.io_uring_disabled)".to_owned()
        }
        _ => format!("io_uring_setup failed: {e}"),
    }
}

fn check_features(uring: &IoUring) -> Result<(), RingError> {
    let params = uring.params();
    if !params.is_feature_ext_arg() {
        return Err(RingError::Unavailable(
            "missing IORING_FEAT_EXT_ARG (kernel < 5.11)".to_owned(),
        ));
    }
    if !params.is_feature_nodrop() {
        return Err(RingError::Unavailable(
            "missing IORING_FEAT_NODROP (kernel < 5.5)".to_owned(),
        ));
    }
    let mut probe = io_uring::Probe::new();
    uring
        .submitter()
        .register_probe(&mut probe)
        .map_err(|e| RingError::Unavailable(format!("IORING_REGISTER_PROBE failed: {e}")))?;
    for (code, name) in REQUIRED_OPCODES {
        if !probe.is_supported(code) {
            return Err(RingError::Unavailable(format!(
                "opcode {name} not supported"
            )));
        }
    }
    Ok(())
}

impl Ring {
    /// Wraps `uring` with a sparse file table of `table_slots` and a buffer ring.
    pub(super) fn new(
        uring: IoUring,
        table_slots: u32,
        buffer_count: u32,
        buffer_bytes: u32,
    ) -> Result<Self, RingError> {
        let submitter = uring.submitter();
        submitter
            .register_files_sparse(table_slots)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::EINVAL) => RingError::Unavailable(
                    "sparse file tables unsupported (kernel < 5.19)".to_owned(),
                ),
                _ => RingError::Setup("register_files_sparse", Errno::from_io(&e)),
            })?;
        let bufs = BufRing::build(&submitter, BUFFER_GROUP, buffer_count, buffer_bytes).map_err(
            |errno| match errno.0 {
                libc::EINVAL => RingError::Unavailable(
                    "provided buffer rings unsupported (kernel < 5.19)".to_owned(),
                ),
                libc::ENOMEM => RingError::Setup("buffer ring alloc", errno),
                _ => RingError::Setup("register_buf_ring", errno),
            },
        )?;
        Ok(Self {
            uring,
            bufs,
            table_slots,
            slots_used: 0,
            slots_reserved: 0,
            accept_armed: Vec::new(),
            accept_cancelling: Vec::new(),
            accepts_pending: Vec::new(),
        })
    }

    /// Table slots neither used nor reserved by an operation in flight.
    pub(super) fn slots_free(&self) -> u32 {
        let pending: u32 = self.accepts_pending.iter().sum();
        self.table_slots
            .saturating_sub(self.slots_used + self.slots_reserved + pending)
    }

    /// Adds per-listener accept state for a new listener.
    pub(super) fn add_listener(&mut self) {
        self.accept_armed.push(false);
        self.accept_cancelling.push(false);
        self.accepts_pending.push(0);
    }

    /// Builds another ring with the same flags (for more file-table slots).
    pub(super) fn build_more(entries: u32, flags: UringFlags) -> Result<IoUring, RingError> {
        build(entries, flags)
            .map_err(|e| RingError::Setup("io_uring_setup (extra ring)", Errno::from_io(&e)))
    }

    /// Queues one submission; if the queue is full, submits what is there first (an extra
    /// syscall, only when a tick carries more than `ring_entries` operations).
    ///
    /// # Safety
    ///
    /// Every buffer and address `entry` points to must stay valid and unmoved until its
    /// completion is reaped (the engine parks them in connection state or boxes).
    pub(super) unsafe fn push(&mut self, entry: &squeue::Entry) {
        loop {
            // SAFETY: the caller guarantees the entry's memory outlives the operation.
            if unsafe { self.uring.submission().push(entry) }.is_ok() {
                return;
            }
            if let Err(e) = self.uring.submit() {
                assert!(
                    e.raw_os_error() == Some(libc::EBUSY),
                    "io_uring_enter failed: {e}"
                );
            }
        }
    }

    /// Submits queued entries and waits up to `timeout` (`None`: forever) for one completion,
    /// running deferred task work. Timeouts and signals are not errors.
    pub(super) fn submit_and_wait(&mut self, timeout: Option<Duration>) -> Result<(), Errno> {
        let result = match timeout {
            None => self.uring.submit_and_wait(1),
            Some(timeout) => {
                let ts = types::Timespec::from(timeout);
                let args = types::SubmitArgs::new().timespec(&ts);
                self.uring.submitter().submit_with_args(1, &args)
            }
        };
        match result {
            Ok(_) => Ok(()),
            Err(e) => match e.raw_os_error() {
                Some(libc::ETIME | libc::EINTR | libc::EBUSY | libc::EAGAIN) => Ok(()),
                _ => Err(Errno::from_io(&e)),
            },
        }
    }

    /// Whether entering this ring would do anything: submissions are queued, or the kernel flagged task
    /// work that only runs on entry (`IORING_SQ_TASKRUN`). Reading both costs no syscall.
    pub(super) fn needs_enter(&mut self) -> bool {
        let mut submission = self.uring.submission();
        submission.sync();
        !submission.is_empty() || submission.taskrun()
    }

    /// Copies out every ready completion as `(user_data, result, flags)`.
    pub(super) fn reap(&mut self, out: &mut Vec<(u64, i32, u32)>) {
        out.extend(
            self.uring
                .completion()
                .map(|cqe| (cqe.user_data(), cqe.result(), cqe.flags())),
        );
    }
}
