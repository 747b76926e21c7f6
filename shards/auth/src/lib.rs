//! Identity and access: signed access tokens and the conversation access rules.
//!
//! Clients authenticate with a bearer token (WebSocket upgrade header, `?token=` or `hello.auth_token`,
//! docs/protocol.md). A token is minted by the platform that knows the user (or by `switchboard token`
//! for tests and demos) and verified here with a [`Keyring`]. Everything is pure: the current time is
//! an argument, there is no clock, no I/O and no global state, so a shard can verify tokens on its
//! own core and tests can pin the time.
//!
//! ## Layout
//!
//! - [`role`]: [`Role`] (customer, agent, bot, admin) and its wire byte.
//! - [`claims`]: [`Claims`], what a token says, and its binary payload encoding.
//! - [`key`]: [`KeyConfig`] / [`KeyringConfig`] (TOML, hex or base64 secrets) and [`Keyring`],
//!   which mints with the active key and verifies with any configured key.
//! - [`error`]: [`TokenError`] (verification, maps to `unauthorized`), [`MintError`] and
//!   [`KeyError`].
//! - [`access`]: [`authorize`], the access rules as a pure function, and [`Denied`] (maps to
//!   `forbidden`).
//! - [`cli`]: `switchboard token`, which prints a token.
//!
//! ## Token format (version 2)
//!
//! ```text
//! token   = base64url(payload) "." base64url(mac)        ; RFC 4648 §5 alphabet, no padding
//! mac     = HMAC-SHA256(key[key_id], payload)            ; 32 bytes, over the decoded payload bytes
//! payload = version:u8 (= 2)
//!           key_id_len:u8 (1..=32) key_id:key_id_len bytes ([A-Za-z0-9._-])
//!           role:u8 (0 customer, 1 agent, 2 bot, 3 admin)
//!           tenant_id:u64 user_id:u64 issued_at_s:u64 expires_at_s:u64   ; big-endian, unix seconds
//!           group_count:u8 (0..=32; 0 unless role = agent) group_id:u32 × group_count (big-endian)
//!           customer_value:u8 (0..=100 percent; 255 = unrated, the only value for other roles)
//! ```
//!
//! Version 1 tokens (the same without `customer_value`) are still verified; their customers are unrated.
//!
//! Verification order, so every failure has one well-defined answer: size limit, split at the one
//! `.`, base64 of both parts, MAC length, version, key id, **MAC** (constant time, `verify_slice`),
//! then the rest of the payload, then time (`issued_at_s` not after `now + clock_skew_s`, `now` before
//! `expires_at_s + clock_skew_s`), then the expected tenant. Nothing after the key id is interpreted
//! before the MAC has been checked. Every [`TokenError`] becomes an `error` frame with code
//! `unauthorized`; the variant is for logs and counters, never sent to the client.
//!
//! ## Decisions
//!
//! - A compact binary payload rather than JSON (JWT): a token is parsed on every connect, the parser is
//!   small and bounded, and there is no algorithm field to confuse (the only algorithm is HMAC-SHA256).
//! - The key id travels in clear inside the payload (it is MAC-covered too), so rotation is: add the
//!   new key, make it active, remove the old one once tokens minted with it have expired.
//! - Numeric tenant, user and group ids match the protocol (`sender_id: ulong`) and the routing
//!   module (`GroupId = u32`), so access checks compare integers and never allocate.

#![forbid(unsafe_code)]

pub mod access;
pub mod claims;
pub mod cli;
pub mod dev_key;
pub mod error;
pub mod key;
pub mod role;

pub use access::{authorize, Action, ConversationFacts, Denied};
pub use claims::{Claims, TOKEN_VERSION};
pub use error::{KeyError, MintError, TokenError};
pub use key::{KeyConfig, Keyring, KeyringConfig, VerifyOptions};
pub use role::Role;
