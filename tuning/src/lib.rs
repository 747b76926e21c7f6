//! # switchboard-tuning
//!
//! Sysctl tuning profiles and the checks behind `switchboard tune`.
