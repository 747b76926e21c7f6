//! A small xorshift generator for mask keys and handshake nonces.
//!
//! A load generator needs unpredictability only against accidental patterns, not against an attacker, so
//! a seeded xorshift64* is enough and costs a few cycles per frame.

use std::time::{SystemTime, UNIX_EPOCH};

/// xorshift64* state (never zero).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded from the clock and `stream` (e.g. the thread number), so threads differ.
    pub fn new(stream: u64) -> Rng {
        let clock = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Rng((clock ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A fresh WebSocket mask key.
    pub fn mask(&mut self) -> [u8; 4] {
        (self.next_u64() as u32).to_le_bytes()
    }

    /// A fresh `Sec-WebSocket-Key` nonce.
    pub fn nonce(&mut self) -> [u8; 16] {
        let mut nonce = [0u8; 16];
        nonce[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        nonce[8..].copy_from_slice(&self.next_u64().to_le_bytes());
        nonce
    }
}
