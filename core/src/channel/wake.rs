//! Wake-ups between shards: one eventfd per consumer shard and a "sleeping" flag.
//!
//! # Protocol
//!
//! A busy consumer never blocks, so producers must not pay a `write(2)` per message. The consumer
//! therefore announces when it is about to block, and producers only write the eventfd then:
//!
//! - **Consumer**, before blocking: (C1) `sleeping.store(true)`; (C2) `fence(SeqCst)`; (C3) load
//!   every inbound ring's tail; if any ring is non-empty, clear `sleeping` and do not block;
//!   otherwise (C4) block until the eventfd is readable; (C5) after waking, [`WakeSignal::drain`]
//!   clears `sleeping` and reads the eventfd to reset it.
//! - **Producer**, after pushing: (P1) publish the item with `tail.store(Release)`;
//!   (P2) `fence(SeqCst)`; (P3) load `sleeping`; if it is set and this producer is the one whose
//!   `swap(false)` saw `true`, (P4) `write(2)` 1 to the eventfd.
//!
//! The race this avoids is the lost wake-up: the producer checks `sleeping` (still false), then the
//! consumer sets it, checks the ring (not yet seeing the item) and blocks forever. Each side stores
//! one variable and then loads the other's ("store buffering"); with only release/acquire both loads
//! may see the old values. The two `SeqCst` fences are totally ordered: if the consumer's fence comes
//! first, the producer's P3 sees `sleeping == true` and writes the eventfd; if the producer's comes
//! first, the consumer's C3 sees the new tail and does not block. An eventfd keeps its counter until
//! read, so a write that lands before the consumer actually blocks still wakes it.
//!
//! The `swap(false)` lets only one of several producers pay the syscall per sleep. A consumer that
//! cancels its sleep after a producer already wrote leaves the eventfd readable: the next block
//! returns at once (a spurious wake-up, harmless), and `drain` resets it.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{fence, AtomicBool, Ordering};

use crate::channel::ChannelError;

/// A shard's wake-up signal: its eventfd and the flag saying it is about to sleep.
///
/// Shared (through `Arc`) by the consumer shard and every producer targeting it.
#[derive(Debug)]
pub struct WakeSignal {
    /// Non-blocking, close-on-exec eventfd the consumer's event loop watches.
    eventfd: OwnedFd,
    /// Set by the consumer just before it blocks, cleared when it wakes or by the waking producer.
    sleeping: AtomicBool,
}

impl WakeSignal {
    /// Creates the eventfd (`EFD_NONBLOCK | EFD_CLOEXEC`).
    ///
    /// # Errors
    ///
    /// [`ChannelError::EventFd`] when the kernel refuses (e.g. out of file descriptors).
    pub fn new() -> Result<Self, ChannelError> {
        // SAFETY: eventfd takes no pointers; any flags are memory-safe.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            let errno = io::Error::last_os_error().raw_os_error().unwrap_or(0);
            return Err(ChannelError::EventFd { errno });
        }
        // SAFETY: `fd` was just returned by eventfd, is valid and owned by nobody else.
        let eventfd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Self {
            eventfd,
            sleeping: AtomicBool::new(false),
        })
    }

    /// The eventfd for the engine to watch for readability. Valid as long as `self` lives.
    pub fn raw_fd(&self) -> RawFd {
        self.eventfd.as_raw_fd()
    }

    /// Consumer step C1–C2: says "about to block". The caller must then check its rings
    /// (C3) and call [`WakeSignal::cancel_sleep`] if any has items.
    pub fn announce_sleep(&self) {
        self.sleeping.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
    }

    /// Consumer: withdraws an announced sleep because there is work after all.
    pub fn cancel_sleep(&self) {
        self.sleeping.store(false, Ordering::Relaxed);
    }

    /// Consumer step C5: clears the sleeping flag and resets the eventfd after waking.
    pub fn drain(&self) {
        self.sleeping.store(false, Ordering::Relaxed);
        let mut counter: u64 = 0;
        // SAFETY: the fd is a live eventfd owned by `self`; the buffer is a valid, writable u64,
        // the 8 bytes eventfd reads require. EAGAIN (counter already zero) is the expected no-op.
        let _ = unsafe {
            libc::read(
                self.eventfd.as_raw_fd(),
                (&mut counter as *mut u64).cast(),
                std::mem::size_of::<u64>(),
            )
        };
    }

    /// Producer steps P2–P4, after the item was published: writes the eventfd only if the consumer
    /// announced a sleep. Returns whether this call made the syscall.
    pub fn notify_if_sleeping(&self) -> bool {
        fence(Ordering::SeqCst);
        if self.sleeping.load(Ordering::Relaxed) && self.sleeping.swap(false, Ordering::SeqCst) {
            self.notify();
            return true;
        }
        false
    }

    /// Blocks until the eventfd is readable or `timeout_ms` passed (for a consumer without an engine, such
    /// as the routing shard; call after [`WakeSignal::announce_sleep`] found nothing to do).
    pub fn wait(&self, timeout_ms: u64) {
        let mut poll_fd = libc::pollfd {
            fd: self.eventfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let timeout = i32::try_from(timeout_ms.max(1)).unwrap_or(i32::MAX);
        // SAFETY: `poll_fd` is a valid, exclusively borrowed array of one pollfd for the whole call, and
        // the fd is a live eventfd owned by `self`. Errors (EINTR) just end the wait early.
        unsafe {
            libc::poll(&mut poll_fd, 1, timeout);
        }
    }

    /// Writes the eventfd unconditionally (e.g. to wake a shard for shutdown).
    pub fn notify(&self) {
        let one: u64 = 1;
        // SAFETY: the fd is a live eventfd owned by `self`; the buffer is a valid u64, the 8 bytes
        // eventfd writes require. EAGAIN means the counter is saturated, i.e. already readable.
        let _ = unsafe {
            libc::write(
                self.eventfd.as_raw_fd(),
                (&one as *const u64).cast(),
                std::mem::size_of::<u64>(),
            )
        };
    }
}
