//! [`apply_mask`]: RFC 6455 masking (XOR with the 4-byte key, an involution) with the widest vectors the
//! CPU offers, chosen at run time: AVX2 on x86-64 when present, else the word-at-a-time loop.
//!
//! `switchboard_protocol::ws::mask::apply_mask` is the portable version the protocol crate uses (it has no
//! `unsafe`, and a `target_feature` function can only be entered through `unsafe`). This one is for the
//! shard's receive buffers: echo unmasks every payload where the kernel put it, and at 16 KiB that unmasking
//! was 5% of the server's CPU with 16-byte vectors (issue 19; `bench/benches/ws.rs`, `ws_mask`). The loop
//! body is the same in both; here the compiler may use 32-byte registers for it.

/// XORs `buf` with `key`, where `buf[0]` is payload byte number `offset` of the frame. Same result as
/// `switchboard_protocol::ws::apply_mask`.
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: `apply_mask_avx2` requires only that the CPU supports AVX2, checked just above (the check
        // is cached by std after its first call).
        return unsafe { apply_mask_avx2(buf, key, offset) };
    }
    apply_mask_words(buf, key, offset);
}

/// [`apply_mask_words`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn apply_mask_avx2(buf: &mut [u8], key: [u8; 4], offset: usize) {
    apply_mask_words(buf, key, offset);
}

/// Eight bytes at a time with `u64` loads, which the compiler vectorizes to the width enabled where it is
/// inlined; the tail byte by byte.
#[inline(always)]
fn apply_mask_words(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let mut key = key;
    key.rotate_left(offset % 4);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn bytewise(buf: &mut [u8], key: [u8; 4], offset: usize) {
        for (index, byte) in buf.iter_mut().enumerate() {
            *byte ^= key[(offset + index) % 4];
        }
    }

    #[test]
    fn matches_the_byte_loop_for_every_length_offset_and_alignment() {
        let key = [0x12, 0x9a, 0xff, 0x01];
        let source: Vec<u8> = (0..600u32).map(|i| (i * 7 + 3) as u8).collect();
        for start in 0..8 {
            for len in (0..=300).chain([511, 512, 513, 592]) {
                for offset in 0..4 {
                    let Some(original) = source.get(start..start + len) else {
                        continue;
                    };
                    let mut fast = source.clone();
                    apply_mask(&mut fast[start..start + len], key, offset);
                    let mut slow = original.to_vec();
                    bytewise(&mut slow, key, offset);
                    assert_eq!(
                        &fast[start..start + len],
                        &slow[..],
                        "start {start} len {len} offset {offset}"
                    );
                    assert_eq!(
                        &fast[..start],
                        &source[..start],
                        "nothing before is touched"
                    );
                    assert_eq!(
                        &fast[start + len..],
                        &source[start + len..],
                        "nothing after is touched"
                    );
                }
            }
        }
    }

    #[test]
    fn masking_twice_gives_the_input_back() {
        let original: Vec<u8> = (0..16_384u32).map(|i| (i % 251) as u8).collect();
        let mut buf = original.clone();
        apply_mask(&mut buf, [1, 2, 3, 4], 3);
        assert_ne!(buf, original);
        apply_mask(&mut buf, [1, 2, 3, 4], 3);
        assert_eq!(buf, original);
    }
}
