//! Writes and syncs on plain (not registered) file descriptors: `IORING_OP_WRITE` and
//! `IORING_OP_FSYNC` on the primary ring, submitted with the tick's other entries.
//!
//! A short write is continued here (the rest is resubmitted at the advanced offset), so the
//! shard's `Event::FileWritten` reports the whole buffer or an error. The buffer lives in the
//! file-operation table until the last completion; `Drop` cancels and waits before freeing it.

use std::os::fd::RawFd;

use io_uring::{
    opcode,
    types::{Fd, FsyncFlags},
};

use super::{
    user_data::{encode, Op},
    Pending, UringEngine,
};
use crate::engine::{
    event::Errno,
    file_op::{FileOp, FileOpKind},
};

/// Bytes one write submission covers; the kernel caps a write near 2 GiB anyway, the rest is
/// resubmitted like any short write.
const WRITE_BYTES_PER_SUBMISSION_MAX: usize = 1 << 30;

impl UringEngine {
    /// Queues a write of all of `buf` at `offset` of `fd`; see `Engine::write_file`.
    pub fn write_file(&mut self, fd: RawFd, offset: u64, buf: Vec<u8>, token: u64) {
        let kind = FileOpKind::Write {
            offset,
            buf,
            written: 0,
        };
        self.start_file_op(FileOp { token, fd, kind });
    }

    /// Queues an `fdatasync`/`fsync` of `fd`; see `Engine::sync_file`.
    pub fn sync_file(&mut self, fd: RawFd, token: u64, data_only: bool) {
        let kind = FileOpKind::Sync { data_only };
        self.start_file_op(FileOp { token, fd, kind });
    }

    /// File operations in flight (for tests and metrics).
    pub fn file_ops_in_flight(&self) -> usize {
        self.files.len()
    }

    fn start_file_op(&mut self, op: FileOp) {
        match self.files.insert(op) {
            Ok(index) => self.submit_file_op(index),
            Err(op) => {
                let event = op.into_event(Err(Errno(libc::EBUSY)));
                self.queue.push_back(Pending::Ready(event));
            }
        }
    }

    fn submit_file_op(&mut self, index: u32) {
        let op = self.files.get_mut(index);
        let fd = Fd(op.fd);
        let entry = match &op.kind {
            FileOpKind::Write {
                offset,
                buf,
                written,
            } => {
                let rest = &buf[*written..];
                let len = rest.len().min(WRITE_BYTES_PER_SUBMISSION_MAX) as u32;
                opcode::Write::new(fd, rest.as_ptr(), len)
                    .offset(*offset + *written as u64)
                    .build()
                    .user_data(encode(Op::FileWrite, index, 0))
            }
            FileOpKind::Sync { data_only } => {
                let flags = if *data_only {
                    FsyncFlags::DATASYNC
                } else {
                    FsyncFlags::empty()
                };
                opcode::Fsync::new(fd)
                    .flags(flags)
                    .build()
                    .user_data(encode(Op::FileSync, index, 0))
            }
        };
        // SAFETY: a write's bytes are the heap memory of a Vec held in `self.files` at `index`
        // until this operation's completion removes it (the Vec is not touched meanwhile, so the
        // memory neither moves nor is freed); Drop cancels and waits for every operation before
        // the table is freed, or leaks it. The kernel only reads the bytes. A sync references
        // no user memory.
        unsafe { self.rings[0].push(&entry) };
    }

    /// A file operation's completion: continue a short write, or report the result.
    pub(super) fn file_complete(&mut self, index: u32, result: i32) {
        let op = self.files.get_mut(index);
        let outcome = match &mut op.kind {
            _ if result < 0 => Err(Errno(-result)),
            FileOpKind::Write { buf, written, .. } => {
                *written += result as usize;
                if *written == buf.len() {
                    Ok(())
                } else if result == 0 {
                    // No progress on a regular file: report rather than spin.
                    Err(Errno(libc::EIO))
                } else {
                    self.submit_file_op(index);
                    return;
                }
            }
            FileOpKind::Sync { .. } => Ok(()),
        };
        let op = self.files.remove(index);
        self.queue.push_back(Pending::Ready(op.into_event(outcome)));
    }
}
