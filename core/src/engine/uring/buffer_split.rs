//! How a shard's provided receive buffers are split over its io_uring rings: how many each ring gets and
//! how large they are.

use crate::engine::config::EngineConfig;

/// Fewest provided buffers a ring gets when the shard's buffers are split over many rings. 16
/// buffers of 64 KiB (1 MiB, consumed incrementally) take one tick's reads of thousands of small
/// frames; a ring that runs out re-arms its receive once buffers come back (`ENOBUFS`), it loses
/// nothing. Buffers become resident once traffic cycles through them, so this floor times the ring
/// count is a fixed cost of a shard sized for 100,000s of connections.
const BUFFERS_PER_RING_MIN: u32 = 16;

/// Largest provided buffer of an extra ring (`recv_buffer_bytes` if smaller). The buffers are consumed
/// incrementally, so every byte received cycles through all of a ring's buffers and makes them resident:
/// with the server's 256 KiB buffers, the extra rings of a shard holding a million connections (50 rings of
/// 20,000) kept 100 MB of receive buffers resident for handshakes and pongs, 100 bytes per connection
/// (issue 19, C1M). At 16 KiB they keep at most `BUFFERS_PER_RING_MIN` × 16 KiB = 256 KiB each. Extra rings
/// exist only past one table's worth of connections, where connections are mostly idle; a busy connection
/// on one reads a large message in more, smaller pieces.
const EXTRA_RING_BUFFER_BYTES_MAX: u32 = 16 * 1024;

/// Bytes of each provided buffer of ring `ring` (see `EXTRA_RING_BUFFER_BYTES_MAX`).
pub(super) fn buffer_bytes_for_ring(config: &EngineConfig, ring: u32) -> u32 {
    match ring {
        0 => config.recv_buffer_bytes,
        _ => config.recv_buffer_bytes.min(EXTRA_RING_BUFFER_BYTES_MAX),
    }
}

/// The largest power of two at most `n` (1 for 0).
fn pow2_floor(n: u32) -> u32 {
    1 << (31 - n.max(1).leading_zeros())
}

/// Provided buffers of ring `ring` when the shard's `total` are split over `rings` (a power of two
/// each, so the buffer ring can mask indices; at least `BUFFERS_PER_RING_MIN`, or `total` if
/// smaller). Rings fill in order (see `UringEngine::rearm_accepts`), so the primary ring carries
/// every connection of a shard below one table's worth and gets half of the buffers; the extra
/// rings, which only a shard past that uses, share the other half.
pub(super) fn buffers_for_ring(total: u32, rings: u32, ring: u32) -> u32 {
    let floor = BUFFERS_PER_RING_MIN.min(total.max(1));
    if rings <= 1 {
        return pow2_floor(total).max(floor);
    }
    let primary = pow2_floor(total / 2).max(floor);
    if ring == 0 {
        return primary;
    }
    pow2_floor(total.saturating_sub(primary) / (rings - 1)).max(floor)
}

#[cfg(test)]
mod tests {
    use super::buffers_for_ring;

    #[test]
    fn the_primary_ring_gets_half_of_the_buffers_in_powers_of_two() {
        assert_eq!(buffers_for_ring(1024, 1, 0), 1024);
        assert_eq!(buffers_for_ring(1000, 1, 0), 512);
        assert_eq!(buffers_for_ring(1024, 4, 0), 512);
        assert_eq!(buffers_for_ring(1024, 4, 3), 128);
        assert_eq!(buffers_for_ring(1024, 3, 1), 256);
        // The server's 256 over 3 rings (50,000 connections) and 11 rings (200,000).
        assert_eq!(buffers_for_ring(256, 3, 0), 128);
        assert_eq!(buffers_for_ring(256, 3, 2), 64);
        assert_eq!(buffers_for_ring(256, 11, 0), 128);
        assert_eq!(buffers_for_ring(256, 11, 10), 16);
        // Never below the floor, nor above a small total.
        assert_eq!(buffers_for_ring(1024, 64, 63), 16);
        assert_eq!(buffers_for_ring(8, 1, 0), 8);
        assert_eq!(buffers_for_ring(8, 4, 0), 8);
        assert_eq!(buffers_for_ring(8, 4, 3), 8);
        assert_eq!(buffers_for_ring(1, 2, 1), 1);
    }
}
