//! The log's I/O seam: [`LogFile`] (one segment file) and [`LogStorage`] (the directory of segments),
//! with [`DirStorage`], the std::fs implementation.
//!
//! Everything above this seam is ordinary single-threaded code. The synchronous path
//! ([`ShardLog::commit`](super::ShardLog::commit), segment rolls, recovery, reads) calls these
//! traits, which for [`DirStorage`] are blocking syscalls (`pwrite` through
//! `std::os::unix::fs::FileExt`, `fdatasync` through `File::sync_data`). The asynchronous commit
//! ([`ShardLog::begin_commit`](super::ShardLog::begin_commit)) does not call `write_at` or `sync`:
//! it hands out [`CommitIo`](super::commit_io::CommitIo)s naming the file by its
//! [`LogFile::Handle`] (the raw descriptor of a [`DirFile`]), which the shard performs through its
//! engine (io_uring `WRITE`/`FSYNC`, or epoll's blocking fallback).
//! [`super::memory::MemoryStorage`] implements the seam in memory for tests, counting writes and
//! syncs and simulating crashes.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::record::Lsn;

/// One segment file, addressed by offset.
pub trait LogFile {
    /// What names this file to whoever performs a [`CommitIo`](super::commit_io::CommitIo) for it:
    /// the raw descriptor for a [`DirFile`], the segment's base for a memory file.
    type Handle: Copy + Eq + std::fmt::Debug;
    /// This file's handle; valid while the log holds the file (the log keeps a segment open while an
    /// I/O on it is in flight).
    fn handle(&self) -> Self::Handle;
    /// Writes all of `bytes` at `offset`.
    ///
    /// # Errors
    ///
    /// The operating system's error; the log stops accepting appends after one.
    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()>;
    /// Fills `buf` from `offset`.
    ///
    /// # Errors
    ///
    /// The operating system's error, or `UnexpectedEof` when the file ends first.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
    /// Makes every completed write durable (`fdatasync`).
    ///
    /// # Errors
    ///
    /// The operating system's error; after one, nothing written since the last good sync can be trusted.
    fn sync(&mut self) -> io::Result<()>;
    /// The file's current length in bytes.
    ///
    /// # Errors
    ///
    /// The operating system's error.
    fn len(&self) -> io::Result<u64>;
    /// Whether the file holds no byte.
    ///
    /// # Errors
    ///
    /// The operating system's error.
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }
    /// Cuts the file to `len` bytes and makes the new length durable.
    ///
    /// # Errors
    ///
    /// The operating system's error.
    fn truncate(&mut self, len: u64) -> io::Result<()>;
}

/// The set of segment files of one shard's log, each named by the LSN of its first record.
pub trait LogStorage {
    /// The file type of a segment.
    type File: LogFile;
    /// The base LSNs of every segment present, in increasing order.
    ///
    /// # Errors
    ///
    /// The operating system's error.
    fn list_segments(&mut self) -> io::Result<Vec<Lsn>>;
    /// Opens the existing segment whose first record is `base`.
    ///
    /// # Errors
    ///
    /// The operating system's error.
    fn open_segment(&mut self, base: Lsn) -> io::Result<Self::File>;
    /// Creates an empty segment whose first record will be `base` (replacing a leftover one).
    ///
    /// # Errors
    ///
    /// The operating system's error.
    fn create_segment(&mut self, base: Lsn) -> io::Result<Self::File>;
    /// Deletes the segment whose first record is `base`.
    ///
    /// # Errors
    ///
    /// The operating system's error.
    fn remove_segment(&mut self, base: Lsn) -> io::Result<()>;
    /// Makes the creation and deletion of segments durable (`fsync` of the directory).
    ///
    /// # Errors
    ///
    /// The operating system's error.
    fn sync_dir(&mut self) -> io::Result<()>;
}

/// A segment file on the local file system.
#[derive(Debug)]
pub struct DirFile {
    file: File,
}

impl LogFile for DirFile {
    type Handle = RawFd;

    fn handle(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all_at(bytes, offset)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.file.set_len(len)?;
        self.file.sync_all()
    }
}

/// The segments of one shard in a directory, as `<20-digit base LSN>.log` files. The directory is
/// locked for as long as the storage lives (an exclusive `flock` on its [`LOCK_FILE`]), so a second
/// process given the same data directory cannot append to, or recover and cut, segments this one is
/// writing.
#[derive(Debug)]
pub struct DirStorage {
    dir: PathBuf,
    /// Holds the directory's lock; closing it (dropping the storage) releases the lock.
    _lock: File,
}

/// The file in a log directory whose exclusive `flock` marks the directory as in use.
pub const LOCK_FILE: &str = "LOCK";

/// The file name suffix of a segment.
const SEGMENT_SUFFIX: &str = ".log";

impl DirStorage {
    /// Uses `dir` for the segments, creating it (and its parents) when missing, and locks it.
    ///
    /// # Errors
    ///
    /// The operating system's error when the directory or its lock file cannot be created; an error
    /// of kind [`io::ErrorKind::WouldBlock`] when another open storage (in this or another process)
    /// holds the directory's lock.
    pub fn open(dir: &Path) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(LOCK_FILE))?;
        switchboard_core::file_lock::try_lock_exclusive(&lock)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            _lock: lock,
        })
    }

    /// The directory holding the segments.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of the segment whose first record is `base`.
    pub fn segment_path(&self, base: Lsn) -> PathBuf {
        self.dir.join(format!("{base:020}{SEGMENT_SUFFIX}"))
    }
}

impl LogStorage for DirStorage {
    type File = DirFile;

    fn list_segments(&mut self) -> io::Result<Vec<Lsn>> {
        let mut bases = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let name = entry?.file_name();
            // Other files (an operator's notes, editor backups) are not segments; leave them alone.
            let parsed = name
                .to_str()
                .and_then(|name| name.strip_suffix(SEGMENT_SUFFIX))
                .filter(|digits| digits.len() == 20)
                .and_then(|digits| digits.parse::<Lsn>().ok());
            bases.extend(parsed);
        }
        bases.sort_unstable();
        Ok(bases)
    }

    fn open_segment(&mut self, base: Lsn) -> io::Result<DirFile> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(self.segment_path(base))?;
        Ok(DirFile { file })
    }

    fn create_segment(&mut self, base: Lsn) -> io::Result<DirFile> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(self.segment_path(base))?;
        Ok(DirFile { file })
    }

    fn remove_segment(&mut self, base: Lsn) -> io::Result<()> {
        fs::remove_file(self.segment_path(base))
    }

    fn sync_dir(&mut self) -> io::Result<()> {
        File::open(&self.dir)?.sync_all()
    }
}
