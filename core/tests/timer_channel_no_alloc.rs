//! Proves the hot paths allocate nothing once built: timer insert/reset/cancel/advance, SPSC
//! push/pop, mesh push/drain, slab insert/remove, pool take/return, metrics recording.

use switchboard_core::alloc_count::{count_allocations, CountingAllocator};
use switchboard_core::channel::{channel, Mesh, MeshConfig};
use switchboard_core::metrics::{Counter, Histogram};
use switchboard_core::pool::{BufferPool, PoolConfig};
use switchboard_core::slab::Slab;
use switchboard_core::timer::{TimerConfig, TimerWheel};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

#[test]
fn allocator_counts_allocations() {
    let (boxed, allocations) = count_allocations(|| Box::new(5u64));
    assert_eq!(*boxed, 5);
    assert!(allocations >= 1);
}

#[test]
fn timer_wheel_hot_path_does_not_allocate() {
    let mut wheel = TimerWheel::new(
        TimerConfig {
            tick_ms: 1,
            timers_max: 4_096,
        },
        0,
    )
    .unwrap();
    let ((), allocations) = count_allocations(|| {
        let mut fired = 0u64;
        for round in 0..20u64 {
            let now = round * 50_000;
            let mut handles = [None; 64];
            for (index, handle) in handles.iter_mut().enumerate() {
                let deadline = now + (index as u64 * 7_919) % 40_000_000;
                *handle = Some(wheel.insert(deadline, index as u64).unwrap());
            }
            for handle in handles.iter().step_by(3).flatten() {
                wheel.reset(*handle, now + 10);
            }
            for handle in handles.iter().step_by(5).flatten() {
                wheel.cancel(*handle);
            }
            wheel.advance(now + 49_999, |token| fired += token);
            let _ = wheel.next_deadline();
        }
        wheel.advance(u64::MAX / 2, |token| fired += token);
        assert!(fired > 0);
    });
    assert_eq!(allocations, 0);
    assert!(wheel.is_empty());
}

#[test]
fn spsc_and_mesh_hot_path_do_not_allocate() {
    let (mut producer, mut consumer) = channel::<u64>(256, None).unwrap();
    let mut mesh: Mesh<u64> = Mesh::new(MeshConfig {
        shards_count: 2,
        ring_capacity: 256,
    })
    .unwrap();
    let ((), allocations) = count_allocations(|| {
        let mut sum = 0;
        for item in 0..10_000u64 {
            producer.push(item).unwrap();
            mesh.shards[0].outboxes.push(1, item).unwrap();
            mesh.shards[0].outboxes.push_deferred(2, item).unwrap();
            if item % 100 == 99 {
                mesh.shards[0].outboxes.wake_peers();
                consumer.pop_batch(usize::MAX, |value| sum += value);
                mesh.shards[1]
                    .inbox
                    .drain(usize::MAX, |_, value| sum += value);
                mesh.routing
                    .inbox
                    .drain(usize::MAX, |_, value| sum += value);
                if mesh.shards[1].inbox.prepare_to_sleep() {
                    mesh.shards[1].inbox.drain_wake();
                }
            }
        }
        assert_eq!(consumer.pop(), None);
        assert!(sum > 0);
    });
    assert_eq!(allocations, 0);
}

#[test]
fn slab_pool_and_metrics_hot_path_do_not_allocate() {
    let mut slab = Slab::with_capacity(128);
    let pool = BufferPool::new(PoolConfig {
        buffers_count: 16,
        buffer_bytes: 4_096,
    })
    .unwrap();
    let mut counter = Counter::new();
    let mut histogram = Histogram::new();
    let ((), allocations) = count_allocations(|| {
        for round in 0..1_000u64 {
            let key = slab.insert(round).unwrap();
            let mut buffer = pool.take().unwrap();
            buffer[0] = round as u8;
            counter.increment();
            histogram.record(round * 37);
            drop(buffer);
            assert_eq!(slab.remove(key), Some(round));
        }
    });
    assert_eq!(allocations, 0);
    assert_eq!(pool.stats().in_use, 0);
}
