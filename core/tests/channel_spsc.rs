//! SPSC rings, the mesh and eventfd wake-ups.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use switchboard_core::channel::{channel, Full, Mesh, MeshConfig, WakeSignal};

#[test]
fn full_ring_hands_the_item_back() {
    let (mut producer, mut consumer) = channel::<u32>(4, None).unwrap();
    for item in 0..4 {
        producer.push(item).unwrap();
    }
    assert_eq!(producer.push(99), Err(Full(99)));
    assert_eq!(consumer.pop(), Some(0));
    producer.push(4).unwrap();
    let mut taken = Vec::new();
    assert_eq!(consumer.pop_batch(usize::MAX, |item| taken.push(item)), 4);
    assert_eq!(taken, vec![1, 2, 3, 4]);
    assert_eq!(consumer.pop(), None);
}

#[test]
fn capacity_must_be_a_power_of_two() {
    assert!(channel::<u8>(3, None).is_err());
    assert!(channel::<u8>(0, None).is_err());
    assert!(channel::<u8>(2, None).is_ok());
}

#[test]
fn items_left_in_the_ring_are_dropped_once() {
    let marker = Arc::new(());
    let (mut producer, mut consumer) = channel(8, None).unwrap();
    for _ in 0..5 {
        producer.push(Arc::clone(&marker)).unwrap();
    }
    drop(consumer.pop());
    drop(producer);
    drop(consumer);
    assert_eq!(Arc::strong_count(&marker), 1);
}

#[test]
fn two_threads_one_million_items_in_order() {
    const ITEMS: u64 = 1_000_000;
    let (mut producer, mut consumer) = channel::<u64>(1024, None).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let sender = thread::spawn(move || {
        let mut next = 0;
        while next < ITEMS {
            match producer.push(next) {
                Ok(()) => next += 1,
                Err(Full(_)) if Instant::now() < deadline => thread::yield_now(),
                Err(Full(_)) => panic!("consumer stalled"),
            }
        }
    });
    let mut expected = 0;
    while expected < ITEMS {
        assert!(Instant::now() < deadline, "producer stalled at {expected}");
        let taken = consumer.pop_batch(256, |item| {
            assert_eq!(item, expected, "lost, duplicated or reordered item");
            expected += 1;
        });
        if taken == 0 {
            thread::yield_now();
        }
    }
    sender.join().unwrap();
    assert_eq!(consumer.pop(), None);
}

/// Blocks in poll(2) on `fd` for at most `timeout_ms`; returns whether it became readable.
fn wait_readable(fd: i32, timeout_ms: i32) -> bool {
    let mut poll_fd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `poll_fd` is a valid, writable pollfd array of length 1 for the duration of the call.
    let ready = unsafe { libc::poll(&mut poll_fd, 1, timeout_ms) };
    assert!(ready >= 0, "poll failed");
    ready == 1
}

#[test]
fn sleeping_consumer_is_always_woken() {
    const ROUNDS: u64 = 2_000;
    let mut mesh: Mesh<u64> = Mesh::new(MeshConfig {
        shards_count: 1,
        ring_capacity: 64,
    })
    .unwrap();
    let routing_id = mesh.routing_id();
    let mut consumer = mesh.shards.pop().unwrap();
    let mut producer = mesh.routing;
    let stop = Arc::new(AtomicBool::new(false));
    let stop_sender = Arc::clone(&stop);
    let sender = thread::spawn(move || {
        for item in 0..ROUNDS {
            while producer.outboxes.push(0, item).is_err() {
                assert!(!stop_sender.load(Ordering::Relaxed), "receiver gave up");
                thread::yield_now();
            }
            // Vary the spacing so pushes land before, during and after the receiver's sleep.
            if item % 3 == 0 {
                thread::sleep(Duration::from_micros(item % 50));
            }
        }
    });
    let mut expected = 0;
    while expected < ROUNDS {
        consumer.inbox.drain(64, |from, item| {
            assert_eq!((from, item), (routing_id, expected));
            expected += 1;
        });
        if expected < ROUNDS && consumer.inbox.prepare_to_sleep() {
            // A lost wake-up would block here until the timeout; 10 s is far beyond any scheduling delay.
            let woken = wait_readable(consumer.inbox.wake_fd(), 10_000);
            if !woken {
                stop.store(true, Ordering::Relaxed);
            }
            assert!(
                woken,
                "lost wake-up: item {expected} pending but no eventfd write"
            );
            consumer.inbox.drain_wake();
        }
    }
    sender.join().unwrap();
}

#[test]
fn busy_consumer_costs_no_eventfd_write() {
    let wake = Arc::new(WakeSignal::new().unwrap());
    let (mut producer, mut consumer) = channel::<u8>(8, Some(Arc::clone(&wake))).unwrap();
    producer.push(1).unwrap();
    assert!(
        !wait_readable(wake.raw_fd(), 0),
        "consumer never announced a sleep"
    );
    assert_eq!(consumer.pop(), Some(1));
    wake.announce_sleep();
    producer.push(2).unwrap();
    assert!(wait_readable(wake.raw_fd(), 0));
    wake.drain();
    assert!(
        !wait_readable(wake.raw_fd(), 0),
        "drain must reset the eventfd"
    );
}

#[test]
fn mesh_connects_every_pair_and_routing() {
    let mesh: Mesh<(usize, usize)> = Mesh::new(MeshConfig {
        shards_count: 3,
        ring_capacity: 4,
    })
    .unwrap();
    let routing_id = mesh.routing_id();
    let mut endpoints = mesh.shards;
    endpoints.push(mesh.routing);
    for endpoint in &mut endpoints {
        let peers: Vec<usize> = endpoint.outboxes.peers().collect();
        let expected: Vec<usize> = (0..=routing_id)
            .filter(|peer| *peer != endpoint.id)
            .collect();
        assert_eq!(peers, expected);
        for to in peers {
            endpoint.outboxes.push(to, (endpoint.id, to)).unwrap();
        }
    }
    for endpoint in &mut endpoints {
        let mut received = Vec::new();
        endpoint
            .inbox
            .drain(16, |from, item| received.push((from, item)));
        assert_eq!(received.len(), routing_id);
        for (from, (sender, receiver)) in received {
            assert_eq!((from, receiver), (sender, endpoint.id));
        }
        assert!(endpoint.inbox.is_empty());
    }
}

#[test]
fn mesh_config_is_validated() {
    let error = Mesh::<u8>::new(MeshConfig {
        shards_count: 2,
        ring_capacity: 100,
    })
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "config field `ring_capacity` = 100 is out of range: allowed a power of two in 2..=1048576"
    );
}
