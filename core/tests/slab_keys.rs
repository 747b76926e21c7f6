//! Connection slab: capacity, generations and iteration.

use switchboard_core::slab::{Key, Slab};

#[test]
fn stale_key_never_reaches_the_new_value() {
    let mut slab = Slab::with_capacity(1);
    let old = slab.insert("first").unwrap();
    assert_eq!(slab.remove(old), Some("first"));
    let new = slab.insert("second").unwrap();
    assert_eq!(old.index(), new.index(), "the slot is reused");
    assert_ne!(old, new);
    assert_eq!(slab.get(old), None);
    assert_eq!(slab.get_mut(old), None);
    assert_eq!(slab.remove(old), None);
    assert_eq!(slab.get(new), Some(&"second"));
    slab.invariants();
}

#[test]
fn full_slab_refuses_and_gives_value_back() {
    let mut slab = Slab::with_capacity(2);
    slab.insert(1).unwrap();
    slab.insert(2).unwrap();
    assert!(slab.is_full());
    assert_eq!(slab.insert(3), None);
    assert_eq!(slab.try_insert(4), Err(4));
    assert_eq!(slab.len(), 2);
    slab.invariants();
}

#[test]
fn iteration_yields_live_keys() {
    let mut slab = Slab::with_capacity(8);
    let keys: Vec<Key> = (0..5).map(|value| slab.insert(value).unwrap()).collect();
    slab.remove(keys[1]);
    slab.remove(keys[3]);
    for (_, value) in slab.iter_mut() {
        *value *= 10;
    }
    let live: Vec<(Key, i32)> = slab.iter().map(|(key, value)| (key, *value)).collect();
    assert_eq!(live, vec![(keys[0], 0), (keys[2], 20), (keys[4], 40)]);
    slab.invariants();
}

#[test]
fn keys_round_trip_through_u64() {
    let mut slab = Slab::with_capacity(4);
    let first = slab.insert(()).unwrap();
    slab.remove(first);
    let key = slab.insert(()).unwrap();
    assert_eq!(Key::from_u64(key.to_u64()), key);
    assert_eq!(key.generation(), 1);
}

#[test]
fn random_churn_keeps_the_free_list_consistent() {
    let mut slab = Slab::with_capacity(16);
    let mut live: Vec<(Key, u64)> = Vec::new();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for step in 0..10_000u64 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        if state % 3 == 0 && !live.is_empty() {
            let (key, value) = live.swap_remove((state as usize / 3) % live.len());
            assert_eq!(slab.remove(key), Some(value));
            assert_eq!(slab.get(key), None);
        } else if let Some(key) = slab.insert(step) {
            live.push((key, step));
        } else {
            assert_eq!(live.len(), 16);
        }
        if step % 512 == 0 {
            slab.invariants();
        }
    }
    for (key, value) in live {
        assert_eq!(slab.get(key), Some(&value));
    }
}
