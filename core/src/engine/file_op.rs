//! File operations on plain descriptors (a shard's durable log): what the shard asked for, and
//! the bounded table that owns each operation's buffer until its completion is reported.
//!
//! Both backends use the table: io_uring puts the table index in the submission's user data
//! (a caller's 64-bit token does not fit there), epoll runs the queued operations with
//! blocking `pwrite`/`fdatasync` at the start of the next `poll`.

use std::os::fd::RawFd;

use super::{event::Errno, event::Event, sys};

/// File operations (`write_file`, `sync_file`) accepted and not yet reported. More are
/// refused with `EBUSY` in their completion event: a shard's log has at most one in flight, so
/// reaching this is a caller's bug or a stuck disk, and the bound keeps either visible.
pub const FILE_OPS_IN_FLIGHT_MAX: usize = 64;

/// What a file operation does.
#[derive(Debug)]
pub(crate) enum FileOpKind {
    /// Write all of `buf` at `offset`; `written` bytes are done (after short writes).
    Write {
        offset: u64,
        buf: Vec<u8>,
        written: usize,
    },
    /// `fdatasync` (`data_only`) or `fsync`.
    Sync { data_only: bool },
}

/// One file operation and the caller's token for its completion.
#[derive(Debug)]
pub(crate) struct FileOp {
    pub(crate) token: u64,
    pub(crate) fd: RawFd,
    pub(crate) kind: FileOpKind,
}

impl FileOp {
    /// The completion event carrying `result`, handing a write's buffer back.
    pub(crate) fn into_event(self, result: Result<(), Errno>) -> Event<'static> {
        let token = self.token;
        match self.kind {
            FileOpKind::Write { buf, .. } => Event::FileWritten { token, buf, result },
            FileOpKind::Sync { .. } => Event::FileSynced { token, result },
        }
    }

    /// Performs the operation with blocking syscalls (the epoll backend), continuing short
    /// writes. A write that makes no progress fails with `EIO`.
    pub(crate) fn run_blocking(&mut self) -> Result<(), Errno> {
        match &mut self.kind {
            FileOpKind::Write {
                offset,
                buf,
                written,
            } => {
                while *written < buf.len() {
                    let at = *offset + *written as u64;
                    match sys::pwrite(self.fd, &buf[*written..], at) {
                        Ok(0) => return Err(Errno(libc::EIO)),
                        Ok(n) => *written += n,
                        Err(Errno(libc::EINTR)) => {}
                        Err(errno) => return Err(errno),
                    }
                }
                Ok(())
            }
            FileOpKind::Sync { data_only } => loop {
                match sys::fsync(self.fd, *data_only) {
                    Err(Errno(libc::EINTR)) => {}
                    other => return other,
                }
            },
        }
    }
}

/// File operations in flight, indexed by a small number, at most `FILE_OPS_IN_FLIGHT_MAX`.
#[derive(Debug, Default)]
pub(crate) struct FileOps {
    ops: Vec<Option<FileOp>>,
    free: Vec<u32>,
    live: usize,
}

impl FileOps {
    /// Stores `op` and returns its index, or gives it back when the table is full.
    pub(crate) fn insert(&mut self, op: FileOp) -> Result<u32, FileOp> {
        if self.live == FILE_OPS_IN_FLIGHT_MAX {
            return Err(op);
        }
        self.live += 1;
        match self.free.pop() {
            Some(index) => {
                debug_assert!(self.ops[index as usize].is_none());
                self.ops[index as usize] = Some(op);
                Ok(index)
            }
            None => {
                self.ops.push(Some(op));
                Ok(self.ops.len() as u32 - 1)
            }
        }
    }

    /// The operation at `index`; it must be in flight.
    pub(crate) fn get_mut(&mut self, index: u32) -> &mut FileOp {
        self.ops[index as usize]
            .as_mut()
            .expect("completion for a file operation that is not in flight")
    }

    /// Removes the operation at `index`, which must be in flight.
    pub(crate) fn remove(&mut self, index: u32) -> FileOp {
        let op = self.ops[index as usize]
            .take()
            .expect("completion for a file operation that is not in flight");
        self.free.push(index);
        self.live -= 1;
        op
    }

    /// Operations in flight.
    pub(crate) fn len(&self) -> usize {
        self.live
    }
}
