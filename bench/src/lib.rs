//! # switchboard-bench
//!
//! Benchmarks and reports for Switchboard.
