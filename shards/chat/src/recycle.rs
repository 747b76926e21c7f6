//! [`Recycler`]: shared values (`Arc<T>`) reused once every other holder has dropped its reference,
//! so that a message's text and its delivery cost no allocation per message in steady state, even when
//! they cross to another shard and are dropped there.
//!
//! The reference count is the way back: the recycler keeps a clone of what it handed out, and an item
//! whose count fell back to one (only the recycler holds it) is free to refill in place
//! ([`Arc::get_mut`]), keeping its buffers' capacity. No message travels back over the rings and no
//! lock is taken. Items are handed out and freed roughly in order (rings are FIFO), so only the oldest
//! few kept items are looked at; when none is free a new item is made, and kept while the recycler
//! holds fewer than its bound (beyond it, it is simply dropped by its last holder).

use std::collections::VecDeque;
use std::sync::Arc;

/// Kept items looked at for a free one before a new item is made.
pub const RECYCLE_PROBES_MAX: usize = 4;
/// The largest text buffer kept for reuse, bytes: a longer message's buffer is dropped after use, so a
/// recycler of texts holds at most its bound times this.
pub const RECYCLED_TEXT_BYTES_MAX: usize = 4_096;

/// Hands out `Arc<T>`s to fill and share, and takes back those nobody else holds any more.
#[derive(Debug)]
pub struct Recycler<T> {
    /// Items handed out (or free), oldest first.
    kept: VecDeque<Arc<T>>,
    /// The most items kept (the recycler's memory bound).
    kept_max: usize,
}

impl<T> Recycler<T> {
    /// A recycler keeping at most `kept_max` items (none is made before it is needed).
    pub fn new(kept_max: usize) -> Self {
        Recycler {
            kept: VecDeque::new(),
            kept_max,
        }
    }

    /// A kept item nobody else holds, taken out to be refilled in place (`Arc::get_mut` succeeds on
    /// it), or `None` when the oldest few are all still held elsewhere. Give it to [`Self::keep`] once
    /// filled, as a new one.
    pub fn take(&mut self) -> Option<Arc<T>> {
        for _ in 0..RECYCLE_PROBES_MAX.min(self.kept.len()) {
            let mut item = self.kept.pop_front()?;
            if Arc::get_mut(&mut item).is_some() {
                return Some(item);
            }
            self.kept.push_back(item);
        }
        None
    }

    /// Keeps a clone of `item` (filled, about to be shared) while fewer than the bound are kept, so
    /// that it can be reused once its other holders drop it.
    pub fn keep(&mut self, item: &Arc<T>) {
        if self.kept.len() < self.kept_max {
            self.kept.push_back(Arc::clone(item));
        }
    }

    /// Items kept (handed out or free).
    pub fn len(&self) -> usize {
        self.kept.len()
    }

    /// Whether no item is kept.
    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }
}

impl Recycler<String> {
    /// `text` in a shared buffer: a free kept one when there is one (no allocation when it is large
    /// enough), else a new one, kept unless longer than [`RECYCLED_TEXT_BYTES_MAX`].
    pub fn text(&mut self, text: &str) -> Arc<String> {
        let shared = match self.take() {
            Some(mut free) => {
                let buffer = Arc::get_mut(&mut free).expect("taken out: held only here");
                buffer.clear();
                buffer.push_str(text);
                free
            }
            None => Arc::new(text.to_owned()),
        };
        if shared.capacity() <= RECYCLED_TEXT_BYTES_MAX {
            self.keep(&shared);
        }
        shared
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_item_is_handed_out_again_and_a_held_one_is_not() {
        let mut texts: Recycler<String> = Recycler::new(2);
        assert!(texts.take().is_none());
        let first = Arc::new(String::from("first"));
        texts.keep(&first);
        assert!(texts.take().is_none(), "still held");
        let address = Arc::as_ptr(&first);
        drop(first);
        let mut again = texts.take().expect("free again");
        assert_eq!(Arc::as_ptr(&again), address);
        let text =
            Arc::get_mut(&mut again).expect("taken out: the caller holds the only reference");
        text.clear();
        text.push_str("second");
        texts.keep(&again);
        assert_eq!(texts.len(), 1);
        assert!(texts.take().is_none(), "held by the caller");
    }

    #[test]
    fn a_text_reuses_a_free_buffer_and_a_long_one_is_not_kept() {
        let mut texts: Recycler<String> = Recycler::new(4);
        let first = texts.text("hello there");
        let address = Arc::as_ptr(&first);
        drop(first);
        let second = texts.text("hi");
        assert_eq!((Arc::as_ptr(&second), second.as_str()), (address, "hi"));
        let long = texts.text(&"x".repeat(RECYCLED_TEXT_BYTES_MAX + 1));
        assert_eq!(texts.len(), 1, "only the short one is kept");
        drop((second, long));
    }

    #[test]
    fn beyond_the_bound_items_are_not_kept() {
        let mut texts: Recycler<String> = Recycler::new(1);
        let held: Vec<Arc<String>> = (0..3).map(|n| Arc::new(n.to_string())).collect();
        held.iter().for_each(|item| texts.keep(item));
        assert_eq!(texts.len(), 1);
    }

    #[test]
    fn a_free_item_behind_held_ones_is_found_within_the_probes() {
        let mut texts: Recycler<String> = Recycler::new(8);
        let held: Vec<Arc<String>> = (0..3).map(|n| Arc::new(n.to_string())).collect();
        held.iter().for_each(|item| texts.keep(item));
        let free = Arc::new(String::new());
        texts.keep(&free);
        let address = Arc::as_ptr(&free);
        drop(free);
        assert_eq!(texts.take().map(|item| Arc::as_ptr(&item)), Some(address));
    }
}
