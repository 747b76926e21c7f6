//! XOR masking of payload bytes (RFC 6455 5.3), word at a time in safe Rust.
//!
//! Masking is an involution, so the same function masks and unmasks. The `offset` parameter says how many
//! payload bytes of this frame were already processed, so a payload that arrives in pieces can be
//! unmasked piece by piece.

/// Rotates `key` so that index 0 is the key byte for payload position `offset`.
fn rotated_key(key: [u8; 4], offset: usize) -> [u8; 4] {
    let mut rotated = key;
    rotated.rotate_left(offset % 4);
    rotated
}

/// XORs `buf` with `key`, where `buf[0]` is payload byte number `offset` of the frame.
///
/// Processes eight bytes at a time with `u64` loads (`chunks_exact_mut` + `u64::from_ne_bytes`), which the
/// compiler turns into wide loads without any `unsafe`.
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let key = rotated_key(key, offset);
    let key_word = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let word = u64::from_ne_bytes([
            chunk[0], chunk[1], chunk[2], chunk[3], chunk[4], chunk[5], chunk[6], chunk[7],
        ]) ^ key_word;
        chunk.copy_from_slice(&word.to_ne_bytes());
    }
    // Each full chunk is a multiple of 4 bytes, so the tail starts at key index 0 again.
    for (index, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= key[index % 4];
    }
}

/// Writes `src` XORed with `key` into `dst` (same length), where `src[0]` is payload byte number `offset`
/// of the frame: the copy and the unmasking in one pass, so a payload is read from the receive buffer
/// once instead of copied and then read again (a 16 KiB echo spent about a tenth of its CPU on that copy).
///
/// # Panics
///
/// If `dst` and `src` differ in length (a caller bug).
pub fn copy_masked(dst: &mut [u8], src: &[u8], key: [u8; 4], offset: usize) {
    assert_eq!(dst.len(), src.len(), "copy_masked needs equal lengths");
    let key = rotated_key(key, offset);
    let key_word = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut out = dst.chunks_exact_mut(8);
    let mut inp = src.chunks_exact(8);
    for (o, i) in (&mut out).zip(&mut inp) {
        let word = u64::from_ne_bytes([i[0], i[1], i[2], i[3], i[4], i[5], i[6], i[7]]) ^ key_word;
        o.copy_from_slice(&word.to_ne_bytes());
    }
    // Each full chunk is a multiple of 4 bytes, so the tail starts at key index 0 again.
    for (index, (o, i)) in out
        .into_remainder()
        .iter_mut()
        .zip(inp.remainder())
        .enumerate()
    {
        *o = *i ^ key[index % 4];
    }
}

/// Bytes per chunk [`for_each_masked_chunk`] hands out: a stack buffer that stays in L1 cache.
pub const MASKED_CHUNK_BYTES: usize = 512;

/// Unmasks `src` (payload byte number `offset` first) in chunks of up to [`MASKED_CHUNK_BYTES`] and hands each
/// to `sink` in order: how a payload is appended to a growable buffer without zeroing its room first. Zeroing
/// then overwriting cost a 16 KiB echo about 8% of its CPU in `memset` (issue 19); appending masked chunks
/// writes the destination once, from a buffer that is already in cache.
pub fn for_each_masked_chunk(src: &[u8], key: [u8; 4], offset: usize, mut sink: impl FnMut(&[u8])) {
    let mut chunk = [0u8; MASKED_CHUNK_BYTES];
    let mut done = 0;
    for piece in src.chunks(MASKED_CHUNK_BYTES) {
        let out = &mut chunk[..piece.len()];
        copy_masked(out, piece, key, offset + done);
        sink(out);
        done += piece.len();
    }
}

/// The plain byte-loop reference for [`apply_mask`]; kept public for tests and benchmarks.
pub fn apply_mask_bytewise(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (index, byte) in buf.iter_mut().enumerate() {
        *byte ^= key[(offset + index) % 4];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_path_matches_byte_loop_for_every_length_and_offset() {
        let key = [0x12, 0x34, 0x56, 0x78];
        for len in 0..=256usize {
            for offset in 0..4 {
                let original: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
                let mut fast = original.clone();
                let mut slow = original.clone();
                apply_mask(&mut fast, key, offset);
                apply_mask_bytewise(&mut slow, key, offset);
                assert_eq!(fast, slow, "len {len} offset {offset}");
            }
        }
    }

    #[test]
    fn copy_masked_equals_copy_then_mask_for_every_length_and_offset() {
        let key = [0x9a, 0x01, 0xff, 0x42];
        for len in 0..=80usize {
            for offset in 0..8 {
                let src: Vec<u8> = (0..len).map(|i| (i * 13 + 5) as u8).collect();
                let mut expected = src.clone();
                apply_mask_bytewise(&mut expected, key, offset);
                let mut dst = vec![0; len];
                copy_masked(&mut dst, &src, key, offset);
                assert_eq!(dst, expected, "len {len} offset {offset}");
            }
        }
    }

    #[test]
    fn masked_chunks_concatenate_to_the_masked_payload_for_any_length_and_offset() {
        let key = [0x9a, 0x01, 0xff, 0x42];
        for len in [0usize, 1, 7, 8, 511, 512, 513, 1024, 1500, 4099] {
            for offset in 0..4 {
                let src: Vec<u8> = (0..len).map(|i| (i * 13 + 5) as u8).collect();
                let mut expected = src.clone();
                apply_mask_bytewise(&mut expected, key, offset);
                let mut out = Vec::new();
                let mut chunks = 0;
                for_each_masked_chunk(&src, key, offset, |chunk| {
                    assert!(chunk.len() <= MASKED_CHUNK_BYTES);
                    chunks += 1;
                    out.extend_from_slice(chunk);
                });
                assert_eq!(out, expected, "len {len} offset {offset}");
                assert_eq!(chunks, len.div_ceil(MASKED_CHUNK_BYTES), "len {len}");
            }
        }
    }

    #[test]
    fn resuming_mid_payload_equals_masking_in_one_go() {
        let key = [1, 2, 3, 250];
        let original: Vec<u8> = (0..100u8).collect();
        let mut whole = original.clone();
        apply_mask(&mut whole, key, 0);
        for split in 0..=original.len() {
            let mut pieces = original.clone();
            let (head, tail) = pieces.split_at_mut(split);
            apply_mask(head, key, 0);
            apply_mask(tail, key, split);
            assert_eq!(pieces, whole, "split {split}");
        }
    }

    #[test]
    fn rfc_6455_example() {
        // RFC 6455 5.7: "Hello" masked with 37 fa 21 3d.
        let mut payload = *b"Hello";
        apply_mask(&mut payload, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(payload, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    }
}
