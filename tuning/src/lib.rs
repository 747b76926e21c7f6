//! # switchboard-tuning
//!
//! Sysctl tuning profiles and the checks behind `switchboard tune` and the server's start-up warnings.
//!
//! The profiles are plain sysctl files in `tuning/profiles/` (operators can drop them into
//! `/etc/sysctl.d/`); this crate embeds them, parses them, and compares them with a `/proc/sys` tree and
//! with the process's resource limits.
//!
//! ## Layout
//!
//! - [`sysctl_file`]: the `sysctl.conf` parser (`key = value`, comments, multi-value settings).
//! - [`profile`]: the shipped profiles `c1m`, `low-latency`, `throughput`.
//! - [`rules`]: per-key comparison (at least, at most, exact, per field, range), required vs advisory,
//!   and the consequence of a gap.
//! - [`tree`]: reading and writing a `/proc/sys`-shaped tree, with a read-only mode for tests.
//! - [`limits`]: `RLIMIT_NOFILE` and `RLIMIT_MEMLOCK` of the current process.
//! - [`needs`]: what the server's configuration asks of the host ([`ServerNeeds`]).
//! - [`check`]: requirements and findings (`tune check`).
//! - [`changes`]: `tune diff` / `apply` / `revert` and the saved-values state file.
//! - [`shortfall`]: [`startup_shortfalls`], one-line warnings for the server's start-up.
//! - [`report`]: the text tables.
//! - [`cli`]: [`TuneArgs`](cli::TuneArgs) and [`run`](cli::run), the only user of `anyhow`.
//!
//! ## Decisions
//!
//! - The `.conf` files are the source of truth, embedded with `include_str!`, so what an operator reads is
//!   exactly what `tune apply` writes.
//! - A host tuned beyond a profile is never lowered: each key has a direction (see [`rules`]).
//! - `RLIMIT_NOFILE` is judged by engine: io_uring direct descriptors do not count against it, except
//!   that the kernel caps each ring's registered table at it; the epoll fallback needs one fd per
//!   connection.
//! - The tree is behind a trait because tests run as root, where permissions cannot simulate a read-only
//!   `/proc/sys` (as in containers).

pub mod changes;
pub mod check;
pub mod cli;
pub mod limits;
pub mod needs;
pub mod profile;
pub mod report;
pub mod rules;
pub mod shortfall;
pub mod sysctl_file;
pub mod tree;

pub use needs::{Engine, ServerNeeds};
pub use profile::Profile;
pub use shortfall::{startup_shortfalls, Shortfall};
