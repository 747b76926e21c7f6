//! A bounded lock-free single-producer/single-consumer ring.
//!
//! Indices are free-running counters (wrapping `usize`); the slot of index `i` is `i & mask`.
//! The producer owns `tail`, the consumer owns `head`, each on its own cache line. Each side caches
//! the other's index and reloads it only when the ring looks full (producer) or empty (consumer), so
//! a steady stream touches the shared line of the peer rarely.
//!
//! Ordering: the producer writes the slot, then `tail.store(Release)`; the consumer
//! `tail.load(Acquire)` before reading the slot, so the write happens-before the read. Symmetrically
//! the consumer reads the slot before `head.store(Release)`, and the producer `head.load(Acquire)`s
//! before reusing it.

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::channel::{ChannelError, WakeSignal};
use crate::config::check_power_of_two;

/// The largest ring capacity accepted (slots).
pub const RING_CAPACITY_MAX: usize = 1 << 20;

/// The item could not be pushed because the ring is full: backpressure, the item is handed back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("ring is full")]
pub struct Full<T>(pub T);

/// Aligns its content to 128 bytes (two 64-byte lines: adjacent-line prefetch) to avoid false
/// sharing between the producer's and the consumer's index.
#[derive(Debug)]
#[repr(align(128))]
struct CachePadded<T>(T);

/// The shared ring.
struct Ring<T> {
    /// Next index to read; written only by the consumer.
    head: CachePadded<AtomicUsize>,
    /// Next index to write; written only by the producer.
    tail: CachePadded<AtomicUsize>,
    /// `capacity` slots; those in `[head, tail)` hold initialised items.
    slots: Box<[UnsafeCell<MaybeUninit<T>>]>,
    /// `capacity - 1`, capacity being a power of two.
    mask: usize,
}

// SAFETY: a slot is accessed by one side at a time: the producer only writes slots outside
// `[head, tail)` and the consumer only reads slots inside it, with Release/Acquire on the indices
// ordering the accesses. Items move between threads, hence `T: Send`.
unsafe impl<T: Send> Sync for Ring<T> {}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        let head = *self.head.0.get_mut();
        let tail = *self.tail.0.get_mut();
        let mut index = head;
        while index != tail {
            let slot = self.slots[index & self.mask].get_mut();
            // SAFETY: slots in `[head, tail)` are initialised and, with both halves gone (we hold the
            // last reference), nobody else can read them; each is dropped once.
            unsafe { slot.assume_init_drop() };
            index = index.wrapping_add(1);
        }
    }
}

/// The sending half. `Send` but not `Clone`: there is exactly one producer.
pub struct Producer<T> {
    /// The shared ring.
    ring: Arc<Ring<T>>,
    /// Local copy of `ring.tail` (we are its only writer).
    tail: usize,
    /// Last observed `ring.head`; reloaded only when the ring looks full.
    head_cache: usize,
    /// The consumer's wake-up signal, if it sleeps.
    wake: Option<Arc<WakeSignal>>,
    /// Whether items were pushed with `push_deferred` since the last wake check.
    wake_pending: bool,
}

/// The receiving half. `Send` but not `Clone`: there is exactly one consumer.
pub struct Consumer<T> {
    /// The shared ring.
    ring: Arc<Ring<T>>,
    /// Local copy of `ring.head` (we are its only writer).
    head: usize,
    /// Last observed `ring.tail`; reloaded only when the ring looks empty.
    tail_cache: usize,
}

/// Creates a ring of `capacity` slots (a power of two in `2..=RING_CAPACITY_MAX`) and its two
/// halves. If `wake` is given, pushes notify it per the protocol in [`crate::channel::wake`].
///
/// # Errors
///
/// [`ChannelError::Config`] when `capacity` is not allowed.
pub fn channel<T>(
    capacity: usize,
    wake: Option<Arc<WakeSignal>>,
) -> Result<(Producer<T>, Consumer<T>), ChannelError> {
    check_power_of_two("ring_capacity", capacity, 2..=RING_CAPACITY_MAX)?;
    let slots = (0..capacity)
        .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
        .collect();
    let ring = Arc::new(Ring {
        head: CachePadded(AtomicUsize::new(0)),
        tail: CachePadded(AtomicUsize::new(0)),
        slots,
        mask: capacity - 1,
    });
    let producer = Producer {
        ring: Arc::clone(&ring),
        tail: 0,
        head_cache: 0,
        wake,
        wake_pending: false,
    };
    let consumer = Consumer {
        ring,
        head: 0,
        tail_cache: 0,
    };
    Ok((producer, consumer))
}

impl<T> Producer<T> {
    /// The ring's capacity in items.
    pub fn capacity(&self) -> usize {
        self.ring.mask + 1
    }

    /// Items in the ring now, as seen from the producer: `0..=capacity`.
    ///
    /// Lock-free and racy by nature: the consumer may take items while this runs, so the answer can be
    /// higher than the truth by what it took since (never lower, as only this side adds items, and never
    /// out of range, as the consumer's published `head` never passes the `tail` this side published).
    pub fn len(&self) -> usize {
        // Acquire pairs with the consumer's Release store of `head`, like the full-ring reload.
        let head = self.ring.head.0.load(Ordering::Acquire);
        let len = self.tail.wrapping_sub(head);
        debug_assert!(
            len <= self.capacity(),
            "head {head} passed tail {}",
            self.tail
        );
        len.min(self.capacity())
    }

    /// Whether the ring holds no item now (see [`Producer::len`] for how current the answer is).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Pushes `item` and wakes the consumer if it announced a sleep.
    ///
    /// # Errors
    ///
    /// [`Full`] with the item when the ring is full.
    pub fn push(&mut self, item: T) -> Result<(), Full<T>> {
        self.push_deferred(item)?;
        self.wake_consumer();
        Ok(())
    }

    /// Pushes `item` without checking whether the consumer sleeps. The caller must call
    /// [`Producer::wake_consumer`] after its batch, or the consumer may sleep with items queued.
    ///
    /// # Errors
    ///
    /// [`Full`] with the item when the ring is full.
    pub fn push_deferred(&mut self, item: T) -> Result<(), Full<T>> {
        if self.tail.wrapping_sub(self.head_cache) == self.capacity() {
            self.head_cache = self.ring.head.0.load(Ordering::Acquire);
            if self.tail.wrapping_sub(self.head_cache) == self.capacity() {
                return Err(Full(item));
            }
        }
        let slot = &self.ring.slots[self.tail & self.ring.mask];
        // SAFETY: `tail - head < capacity`, so this slot is outside `[head, tail)`: the consumer
        // neither reads it now nor will until we publish `tail + 1`, and the Acquire load of `head`
        // ordered its last read of the slot before this write. We are the only producer.
        unsafe { (*slot.get()).write(item) };
        self.tail = self.tail.wrapping_add(1);
        self.ring.tail.0.store(self.tail, Ordering::Release);
        self.wake_pending = true;
        Ok(())
    }

    /// Wakes the consumer if items were pushed since the last check and it announced a sleep.
    /// Without a wake signal this does nothing. Costs a fence, and a syscall only if it sleeps.
    pub fn wake_consumer(&mut self) {
        if !self.wake_pending {
            return;
        }
        self.wake_pending = false;
        if let Some(wake) = &self.wake {
            wake.notify_if_sleeping();
        }
    }
}

impl<T> Consumer<T> {
    /// The ring's capacity in items.
    pub fn capacity(&self) -> usize {
        self.ring.mask + 1
    }

    /// Whether the ring currently holds no item (reloads the producer's index).
    pub fn is_empty(&self) -> bool {
        self.ring.tail.0.load(Ordering::Acquire) == self.head
    }

    /// Items in the ring now, as seen from the consumer: `0..=capacity`. Racy like [`Producer::len`]:
    /// the producer may add items meanwhile, so the answer can be lower than the truth, never out of
    /// range.
    pub fn len(&self) -> usize {
        let tail = self.ring.tail.0.load(Ordering::Acquire);
        let len = tail.wrapping_sub(self.head);
        debug_assert!(
            len <= self.capacity(),
            "tail {tail} ran past head {}",
            self.head
        );
        len.min(self.capacity())
    }

    /// Takes the oldest item, or `None` if the ring is empty.
    pub fn pop(&mut self) -> Option<T> {
        if self.available() == 0 {
            return None;
        }
        let item = self.read_next();
        self.ring.head.0.store(self.head, Ordering::Release);
        Some(item)
    }

    /// Takes up to `max` items in order, calling `handle` for each, and releases their slots to
    /// the producer once at the end. Returns how many were taken.
    pub fn pop_batch(&mut self, max: usize, mut handle: impl FnMut(T)) -> usize {
        // One Acquire load per batch sees everything published so far.
        self.tail_cache = self.ring.tail.0.load(Ordering::Acquire);
        let count = self.tail_cache.wrapping_sub(self.head).min(max);
        for _ in 0..count {
            let item = self.read_next();
            handle(item);
        }
        if count > 0 {
            self.ring.head.0.store(self.head, Ordering::Release);
        }
        count
    }

    /// How many items can be read without reloading `tail` more than once.
    fn available(&mut self) -> usize {
        if self.tail_cache == self.head {
            self.tail_cache = self.ring.tail.0.load(Ordering::Acquire);
        }
        self.tail_cache.wrapping_sub(self.head)
    }

    /// Moves the item at `head` out and advances the local `head` (not yet published).
    fn read_next(&mut self) -> T {
        debug_assert!(
            self.tail_cache.wrapping_sub(self.head) > 0,
            "read from an empty ring"
        );
        let slot = &self.ring.slots[self.head & self.ring.mask];
        // SAFETY: `head < tail_cache`, a tail loaded with Acquire, so the producer's write of this
        // slot happened-before; it will not overwrite it until we publish a head past it. The local
        // head advances right away so the item is never read twice (see `Drop`).
        let item = unsafe { (*slot.get()).assume_init_read() };
        self.head = self.head.wrapping_add(1);
        item
    }
}

impl<T> Drop for Consumer<T> {
    fn drop(&mut self) {
        // Publish items already moved out (e.g. if a `pop_batch` handler panicked), so the ring's
        // own drop does not drop them a second time.
        self.ring.head.0.store(self.head, Ordering::Release);
    }
}

impl<T> std::fmt::Debug for Producer<T> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Producer")
            .field("capacity", &self.capacity())
            .field("tail", &self.tail)
            .finish()
    }
}

impl<T> std::fmt::Debug for Consumer<T> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Consumer")
            .field("capacity", &self.capacity())
            .field("head", &self.head)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn len_follows_pushes_and_pops() {
        let (mut producer, mut consumer) = channel::<u32>(4, None).unwrap();
        assert_eq!((producer.len(), consumer.len()), (0, 0));
        assert!(producer.is_empty());
        for item in 0..4 {
            producer.push(item).unwrap();
            assert_eq!(producer.len(), item as usize + 1);
            assert_eq!(consumer.len(), item as usize + 1);
        }
        assert_eq!(producer.push(9), Err(Full(9)));
        assert_eq!(producer.len(), producer.capacity());
        assert_eq!(consumer.pop(), Some(0));
        assert_eq!((producer.len(), consumer.len()), (3, 3));
        assert_eq!(consumer.pop_batch(8, drop), 3);
        assert!(producer.is_empty());
        assert_eq!(consumer.len(), 0);
    }

    #[test]
    fn len_is_right_across_index_wrap_around() {
        let (mut producer, mut consumer) = channel::<u8>(2, None).unwrap();
        // Start both indices just below usize::MAX so the counters wrap during the test.
        let start = usize::MAX - 2;
        producer.tail = start;
        producer.head_cache = start;
        producer.ring.tail.0.store(start, Ordering::Relaxed);
        producer.ring.head.0.store(start, Ordering::Relaxed);
        consumer.head = start;
        consumer.tail_cache = start;
        for round in 0..6u8 {
            producer.push(round).unwrap();
            producer.push(round).unwrap();
            assert_eq!(producer.len(), 2);
            assert_eq!(consumer.pop(), Some(round));
            assert_eq!((producer.len(), consumer.len()), (1, 1));
            assert_eq!(consumer.pop(), Some(round));
            assert_eq!(producer.len(), 0);
        }
    }

    #[test]
    fn len_never_leaves_its_range_while_both_sides_run() {
        const ITEMS: u32 = 20_000;
        let (mut producer, mut consumer) = channel::<u32>(64, None).unwrap();
        let reader = std::thread::spawn(move || {
            let mut expected = 0;
            while expected < ITEMS {
                assert!(consumer.len() <= consumer.capacity());
                match consumer.pop() {
                    Some(item) => {
                        assert_eq!(item, expected);
                        expected += 1;
                    }
                    None => std::thread::yield_now(),
                }
            }
        });
        let mut next = 0;
        while next < ITEMS {
            let len = producer.len();
            assert!(len <= producer.capacity(), "len {len}");
            match producer.push(next) {
                Ok(()) => next += 1,
                Err(_) => std::thread::yield_now(),
            }
        }
        reader.join().unwrap();
        assert!(producer.is_empty());
    }
}
