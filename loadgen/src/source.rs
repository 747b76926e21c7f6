//! Source addresses with explicit ports, so one run is not limited by one address's ephemeral ports.
//!
//! Measured on the reference machine: with kernel-chosen ports, `connect()` slows ~100× past ~10K ports in
//! use per source address and fails at ~23.5K per (source, destination) pair. Binding each socket to an
//! explicit `(127.0.0.N, port)` with `SO_REUSEADDR` (the engine's `connect(dest, Some(source))`) avoids the
//! kernel's port search entirely. Connection `n` gets address `n % addresses` and port `n / addresses`
//! from the port range (skipping the destination's port), so every connection has a distinct 4-tuple and
//! threads never collide.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use crate::config::ConfigError;

/// Lowest source port used by default (below it are well-known and registered service ports).
pub const SOURCE_PORT_MIN: u16 = 10_000;
/// Highest source port used by default.
pub const SOURCE_PORT_MAX: u16 = 65_000;

/// A contiguous range of IPv4 source addresses and the ports to use on each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceAddrs {
    /// The first address.
    pub first: Ipv4Addr,
    /// How many consecutive addresses (at least 1).
    pub count: u32,
    /// Lowest port used on each address.
    pub port_min: u16,
    /// Highest port used on each address.
    pub port_max: u16,
}

impl SourceAddrs {
    /// Parses `A.B.C.D` or `A.B.C.D-A.B.C.E` (inclusive), with the default port range.
    pub fn parse(text: &str) -> Result<SourceAddrs, ConfigError> {
        let bad = || ConfigError::BadSourceAddrs(text.to_string());
        let (first, last) = match text.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (text.trim(), text.trim()),
        };
        let first: Ipv4Addr = first.parse().map_err(|_| bad())?;
        let last: Ipv4Addr = last.parse().map_err(|_| bad())?;
        let (low, high) = (u32::from(first), u32::from(last));
        if high < low {
            return Err(bad());
        }
        Ok(SourceAddrs {
            first,
            count: high - low + 1,
            port_min: SOURCE_PORT_MIN,
            port_max: SOURCE_PORT_MAX,
        })
    }

    /// Usable ports per address when connecting to `dest_port` (which is skipped).
    fn ports(&self, dest_port: u16) -> u32 {
        let all = u32::from(self.port_max - self.port_min) + 1;
        all - u32::from((self.port_min..=self.port_max).contains(&dest_port))
    }

    /// How many distinct sources the range offers for `dest_port`.
    pub fn capacity(&self, dest_port: u16) -> u64 {
        u64::from(self.count) * u64::from(self.ports(dest_port))
    }

    /// The source of connection number `n`; `None` past [`SourceAddrs::capacity`].
    pub fn source_of(&self, n: u32, dest_port: u16) -> Option<SocketAddr> {
        let address = n % self.count;
        let port_index = n / self.count;
        if port_index >= self.ports(dest_port) {
            return None;
        }
        let mut port = u32::from(self.port_min) + port_index;
        if port >= u32::from(dest_port) && (self.port_min..=self.port_max).contains(&dest_port) {
            port += 1;
        }
        let ip = Ipv4Addr::from(u32::from(self.first) + address);
        Some(SocketAddr::V4(SocketAddrV4::new(ip, port as u16)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_spreads_and_skips_destination_port() {
        let sources = SourceAddrs::parse("127.0.0.2-127.0.0.4").unwrap();
        assert_eq!(sources.count, 3);
        let dest_port = SOURCE_PORT_MIN + 1;
        assert_eq!(
            sources.source_of(0, dest_port),
            Some("127.0.0.2:10000".parse().unwrap())
        );
        assert_eq!(
            sources.source_of(4, dest_port),
            Some("127.0.0.3:10002".parse().unwrap())
        );
        let capacity = sources.capacity(dest_port);
        assert_eq!(capacity, 3 * 55_000);
        assert!(sources.source_of(capacity as u32 - 1, dest_port).is_some());
        assert!(sources.source_of(capacity as u32, dest_port).is_none());
    }

    #[test]
    fn rejects_bad_ranges() {
        assert!(SourceAddrs::parse("127.0.0.9-127.0.0.2").is_err());
        assert!(SourceAddrs::parse("localhost").is_err());
        assert_eq!(SourceAddrs::parse("127.0.0.5").unwrap().count, 1);
    }
}
