//! A fixed, single-threaded buffer pool.
//!
//! All buffers are allocated by [`BufferPool::new`]; [`BufferPool::take`] lends one out as a
//! [`PooledBuf`] that returns itself on drop (or with [`PooledBuf::give_back`]). An exhausted pool
//! returns `None`, counted, instead of allocating: memory per shard stays what the config says.
//! The pool is `!Send` (it uses `Rc`): buffers belong to one shard.

use std::cell::{Cell, RefCell};
use std::ops::{Deref, DerefMut};
use std::rc::Rc;

use crate::config::{check_range, ConfigError};

/// The largest buffer size accepted (bytes).
pub const POOL_BUFFER_BYTES_MAX: usize = 16 * 1024 * 1024;
/// The most buffers one pool may hold.
pub const POOL_BUFFERS_MAX: usize = 1 << 20;

/// Sizes a [`BufferPool`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolConfig {
    /// How many buffers are allocated at start.
    pub buffers_count: usize,
    /// Size of each buffer.
    pub buffer_bytes: usize,
}

impl PoolConfig {
    /// Checks every field's range.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the first field out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_range(
            "pool_buffers_count",
            self.buffers_count,
            1..=POOL_BUFFERS_MAX,
        )?;
        check_range(
            "pool_buffer_bytes",
            self.buffer_bytes,
            1..=POOL_BUFFER_BYTES_MAX,
        )?;
        Ok(())
    }
}

/// Usage counters of a pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    /// Buffers the pool was built with.
    pub capacity: usize,
    /// Buffers currently lent out.
    pub in_use: usize,
    /// The most buffers ever lent out at once.
    pub in_use_high_water: usize,
    /// How many times `take` found the pool empty.
    pub exhausted_count: u64,
}

/// State shared by the pool and its lent buffers.
#[derive(Debug)]
struct PoolInner {
    /// Buffers not lent out; capacity reserved for all of them, so pushing never allocates.
    free: RefCell<Vec<Box<[u8]>>>,
    /// Usage counters.
    stats: Cell<PoolStats>,
}

/// A pool of `buffers_count` buffers of `buffer_bytes` each.
#[derive(Debug, Clone)]
pub struct BufferPool {
    /// Shared with every lent buffer so it can come home on drop.
    inner: Rc<PoolInner>,
    /// Size of every buffer.
    buffer_bytes: usize,
}

/// A buffer lent by a [`BufferPool`]; derefs to its `buffer_bytes` bytes and returns on drop.
#[derive(Debug)]
pub struct PooledBuf {
    /// The bytes; `None` only during drop.
    bytes: Option<Box<[u8]>>,
    /// Where to return.
    pool: Rc<PoolInner>,
}

impl BufferPool {
    /// Allocates every buffer (zeroed).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] if `config` is invalid.
    pub fn new(config: PoolConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let mut free = Vec::with_capacity(config.buffers_count);
        free.extend(
            (0..config.buffers_count).map(|_| vec![0u8; config.buffer_bytes].into_boxed_slice()),
        );
        let stats = PoolStats {
            capacity: config.buffers_count,
            ..PoolStats::default()
        };
        Ok(Self {
            inner: Rc::new(PoolInner {
                free: RefCell::new(free),
                stats: Cell::new(stats),
            }),
            buffer_bytes: config.buffer_bytes,
        })
    }

    /// Lends a buffer, or `None` (counted in `exhausted_count`) when all are in use. Its content
    /// is whatever the previous user left.
    pub fn take(&self) -> Option<PooledBuf> {
        let mut stats = self.inner.stats.get();
        let Some(bytes) = self.inner.free.borrow_mut().pop() else {
            stats.exhausted_count += 1;
            self.inner.stats.set(stats);
            return None;
        };
        stats.in_use += 1;
        stats.in_use_high_water = stats.in_use_high_water.max(stats.in_use);
        self.inner.stats.set(stats);
        Some(PooledBuf {
            bytes: Some(bytes),
            pool: Rc::clone(&self.inner),
        })
    }

    /// Size of every buffer in bytes.
    pub fn buffer_bytes(&self) -> usize {
        self.buffer_bytes
    }

    /// Current usage counters.
    pub fn stats(&self) -> PoolStats {
        self.inner.stats.get()
    }
}

impl PooledBuf {
    /// Returns the buffer to its pool now (same as dropping it, but says so).
    pub fn give_back(self) {}
}

impl Deref for PooledBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.bytes.as_deref().expect("buffer present until drop")
    }
}

impl DerefMut for PooledBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.bytes
            .as_deref_mut()
            .expect("buffer present until drop")
    }
}

impl Drop for PooledBuf {
    fn drop(&mut self) {
        if let Some(bytes) = self.bytes.take() {
            let mut free = self.pool.free.borrow_mut();
            debug_assert!(
                free.len() < free.capacity(),
                "more buffers returned than lent"
            );
            free.push(bytes);
            let mut stats = self.pool.stats.get();
            stats.in_use -= 1;
            self.pool.stats.set(stats);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(buffers_count: usize) -> BufferPool {
        BufferPool::new(PoolConfig {
            buffers_count,
            buffer_bytes: 64,
        })
        .unwrap()
    }

    #[test]
    fn lends_until_exhausted_and_counts() {
        let pool = pool(2);
        let mut first = pool.take().unwrap();
        first[0] = 7;
        let second = pool.take().unwrap();
        assert!(pool.take().is_none());
        assert_eq!(second.len(), 64);
        let stats = pool.stats();
        assert_eq!(
            (stats.in_use, stats.in_use_high_water, stats.exhausted_count),
            (2, 2, 1)
        );
        drop(second);
        first.give_back();
        let stats = pool.stats();
        assert_eq!((stats.in_use, stats.in_use_high_water), (0, 2));
        assert!(pool.take().is_some());
    }

    #[test]
    fn rejects_bad_config() {
        let error = BufferPool::new(PoolConfig {
            buffers_count: 0,
            buffer_bytes: 64,
        })
        .unwrap_err();
        assert_eq!(error.field, "pool_buffers_count");
    }
}
