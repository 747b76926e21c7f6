//! [`MemoryStorage`]: segments held in memory, for deterministic tests of the log.
//!
//! It counts writes and syncs (so a test can check that many appends cost one `fdatasync`), remembers how
//! much of each file was synced, and can simulate a crash by cutting each file anywhere after its synced
//! length, which is what a power loss may do to a real file's unsynced tail. [`MemoryStorage::perform`] performs a
//! [`CommitIo`] of the asynchronous commit in memory, so that path is tested without real files.
//!
//! It also injects the faults of a failing disk, deterministically: a capacity (a write that does not fit
//! writes what fits and fails with `StorageFull`, as `ENOSPC` from `pwrite` does), failing writes, and
//! failing syncs that may also lose the unsynced bytes (as a failed `fdatasync` may, the kernel having
//! dropped the dirty pages: here they are zeroed, so only a rewrite brings them back).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io;
use std::rc::Rc;

use super::commit_io::{CommitCompletion, CommitIo};
use super::file::{LogFile, LogStorage};
use super::record::Lsn;

/// One in-memory segment: its bytes and how many of them a sync has made durable.
#[derive(Debug, Default, Clone)]
struct MemoryBytes {
    bytes: Vec<u8>,
    synced_len: u64,
}

/// Shared state of a [`MemoryStorage`] and its files.
#[derive(Debug, Default)]
struct MemoryState {
    files: BTreeMap<Lsn, MemoryBytes>,
    writes: u64,
    syncs: u64,
    dir_syncs: u64,
    /// When set, every `sync` fails with an I/O error, as a dying disk's would.
    sync_fails: bool,
    /// When set, every write fails with an I/O error (e.g. a full disk).
    write_fails: bool,
    /// When set, the bytes all files may hold; a write beyond it writes what fits and fails.
    capacity_bytes: Option<u64>,
    /// When set with `sync_fails`, a failed sync zeroes the file's unsynced bytes.
    sync_failure_loses_data: bool,
}

impl MemoryState {
    fn file(&mut self, base: Lsn) -> io::Result<&mut MemoryBytes> {
        self.files
            .get_mut(&base)
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }

    fn write(&mut self, base: Lsn, offset: u64, bytes: &[u8]) -> io::Result<()> {
        if self.write_fails {
            return Err(io::Error::other("simulated write failure"));
        }
        let used: u64 = self.files.values().map(|f| f.bytes.len() as u64).sum();
        let capacity = self.capacity_bytes;
        let file = self.file(base)?;
        let mut len = bytes.len();
        if let Some(capacity) = capacity {
            let growth = (offset + len as u64).saturating_sub(file.bytes.len() as u64);
            let free = capacity.saturating_sub(used);
            if growth > free {
                len -= (growth - free) as usize;
            }
        }
        let end = offset as usize + len;
        if file.bytes.len() < end {
            file.bytes.resize(end, 0);
        }
        file.bytes[offset as usize..end].copy_from_slice(&bytes[..len]);
        self.writes += 1;
        if len < bytes.len() {
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "simulated full disk (ENOSPC)",
            ));
        }
        Ok(())
    }

    fn sync(&mut self, base: Lsn) -> io::Result<()> {
        let (fails, loses_data) = (self.sync_fails, self.sync_failure_loses_data);
        let file = self.file(base)?;
        if fails {
            if loses_data {
                let synced = file.synced_len as usize;
                file.bytes[synced..].fill(0);
            }
            return Err(io::Error::other("simulated fdatasync failure (EIO)"));
        }
        file.synced_len = file.bytes.len() as u64;
        self.syncs += 1;
        Ok(())
    }
}

/// Segments in memory. Clones share the same files, so a test can keep a handle while the log owns one.
#[derive(Debug, Default, Clone)]
pub struct MemoryStorage {
    state: Rc<RefCell<MemoryState>>,
}

/// Names a [`MemoryFile`] in a [`CommitIo`]: the base LSN of its segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryHandle(pub Lsn);

/// A segment of a [`MemoryStorage`].
#[derive(Debug)]
pub struct MemoryFile {
    state: Rc<RefCell<MemoryState>>,
    base: Lsn,
}

impl MemoryStorage {
    /// An empty storage.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many `write_at` calls all files have received.
    pub fn write_count(&self) -> u64 {
        self.state.borrow().writes
    }

    /// How many `sync` calls all files have received.
    pub fn sync_count(&self) -> u64 {
        self.state.borrow().syncs
    }

    /// How many `sync_dir` calls the storage has received.
    pub fn dir_sync_count(&self) -> u64 {
        self.state.borrow().dir_syncs
    }

    /// Makes every later `sync` fail (`true`) or succeed again (`false`).
    pub fn set_sync_failure(&self, fails: bool) {
        self.state.borrow_mut().sync_fails = fails;
    }

    /// Makes every later failed sync (see [`MemoryStorage::set_sync_failure`]) also zero the file's
    /// unsynced bytes, as a kernel that dropped the dirty pages leaves them on disk.
    pub fn set_sync_failure_loses_data(&self, loses: bool) {
        self.state.borrow_mut().sync_failure_loses_data = loses;
    }

    /// Limits the bytes all files may hold together (`None`: unlimited). A write that does not fit
    /// writes what fits, then fails with [`io::ErrorKind::StorageFull`], like `ENOSPC`.
    pub fn set_capacity_bytes(&self, capacity: Option<u64>) {
        self.state.borrow_mut().capacity_bytes = capacity;
    }

    /// Bytes all files hold together.
    pub fn used_bytes(&self) -> u64 {
        self.state
            .borrow()
            .files
            .values()
            .map(|f| f.bytes.len() as u64)
            .sum()
    }

    /// Makes every later write fail (`true`) or succeed again (`false`).
    pub fn set_write_failure(&self, fails: bool) {
        self.state.borrow_mut().write_fails = fails;
    }

    /// Performs a [`CommitIo`] of [`ShardLog::begin_commit`](super::ShardLog::begin_commit) in memory,
    /// exactly as the file's `write_at` / `sync` would (counted, and failing when told to), and returns
    /// the completion to hand to [`ShardLog::io_complete`](super::ShardLog::io_complete).
    pub fn perform(&self, io: CommitIo<MemoryHandle>) -> CommitCompletion {
        let mut state = self.state.borrow_mut();
        match io {
            CommitIo::Write {
                file,
                offset,
                bytes,
            } => {
                let result = state.write(file.0, offset, &bytes);
                CommitCompletion::Written { bytes, result }
            }
            CommitIo::Sync { file } => CommitCompletion::Synced {
                result: state.sync(file.0),
            },
        }
    }

    /// The segments present, each with its bytes.
    pub fn segments(&self) -> Vec<(Lsn, Vec<u8>)> {
        let state = self.state.borrow();
        state
            .files
            .iter()
            .map(|(base, file)| (*base, file.bytes.clone()))
            .collect()
    }

    /// Replaces the bytes of segment `base` (creating it), e.g. to corrupt or truncate it in a test.
    pub fn set_segment(&self, base: Lsn, bytes: Vec<u8>) {
        let synced_len = bytes.len() as u64;
        self.state
            .borrow_mut()
            .files
            .insert(base, MemoryBytes { bytes, synced_len });
    }

    /// Simulates a crash: `cut(base, synced_len, len)` picks each file's new length, which is clamped
    /// to `synced_len..=len` because synced bytes survive.
    pub fn crash(&self, mut cut: impl FnMut(Lsn, u64, u64) -> u64) {
        let mut state = self.state.borrow_mut();
        for (base, file) in state.files.iter_mut() {
            let len = file.bytes.len() as u64;
            let kept = cut(*base, file.synced_len, len).clamp(file.synced_len, len);
            file.bytes.truncate(kept as usize);
        }
    }
}

impl MemoryFile {
    fn with<T>(&self, f: impl FnOnce(&mut MemoryBytes) -> T) -> io::Result<T> {
        let mut state = self.state.borrow_mut();
        Ok(f(state.file(self.base)?))
    }
}

impl LogFile for MemoryFile {
    type Handle = MemoryHandle;

    fn handle(&self) -> MemoryHandle {
        MemoryHandle(self.base)
    }

    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        self.state.borrow_mut().write(self.base, offset, bytes)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.with(|file| {
            let start = offset as usize;
            match file.bytes.get(start..start + buf.len()) {
                Some(bytes) => {
                    buf.copy_from_slice(bytes);
                    Ok(())
                }
                None => Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
            }
        })?
    }

    fn sync(&mut self) -> io::Result<()> {
        self.state.borrow_mut().sync(self.base)
    }

    fn len(&self) -> io::Result<u64> {
        self.with(|file| file.bytes.len() as u64)
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.with(|file| {
            file.bytes.truncate(len as usize);
            file.synced_len = file.synced_len.min(len);
        })
    }
}

impl LogStorage for MemoryStorage {
    type File = MemoryFile;

    fn list_segments(&mut self) -> io::Result<Vec<Lsn>> {
        Ok(self.state.borrow().files.keys().copied().collect())
    }

    fn open_segment(&mut self, base: Lsn) -> io::Result<MemoryFile> {
        if !self.state.borrow().files.contains_key(&base) {
            return Err(io::Error::from(io::ErrorKind::NotFound));
        }
        Ok(MemoryFile {
            state: Rc::clone(&self.state),
            base,
        })
    }

    fn create_segment(&mut self, base: Lsn) -> io::Result<MemoryFile> {
        self.state
            .borrow_mut()
            .files
            .insert(base, MemoryBytes::default());
        Ok(MemoryFile {
            state: Rc::clone(&self.state),
            base,
        })
    }

    fn remove_segment(&mut self, base: Lsn) -> io::Result<()> {
        match self.state.borrow_mut().files.remove(&base) {
            Some(_) => Ok(()),
            None => Err(io::Error::from(io::ErrorKind::NotFound)),
        }
    }

    fn sync_dir(&mut self) -> io::Result<()> {
        self.state.borrow_mut().dir_syncs += 1;
        Ok(())
    }
}
