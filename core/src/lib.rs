//! # switchboard-core
//!
//! The per-core I/O engine: the only home of `unsafe` in Switchboard.
