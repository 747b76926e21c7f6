//! How each key is compared, whether the server depends on it, and what a gap costs.
//!
//! A profile gives a value; this table says what "good enough" means for the current value. A higher
//! `fs.file-max` than recommended is fine (`AtLeast`), a lower `tcp_fin_timeout` is fine (`AtMost`), a
//! wider `ip_local_port_range` is fine (`RangeCovers`), `tcp_mem` must meet every field (`EachFieldAtLeast`),
//! and switches such as `tcp_autocorking` must match (`Exact`).
//!
//! **Required** keys are the ones whose shortfall breaks what the server's own configuration asks for
//! (its connection count or listen backlog): `tune check` exits 1 when one is short. Every other key is
//! **advisory**: reported, never fatal.

use crate::sysctl_file::SysctlValue;

/// How a current value is judged against a recommended one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// One integer; current ≥ recommended is fine.
    AtLeast,
    /// One integer; current ≤ recommended is fine.
    AtMost,
    /// Every field equal (integers compared as numbers, anything else as text).
    Exact,
    /// Same number of integer fields, each current field ≥ the recommended one (`tcp_mem`).
    EachFieldAtLeast,
    /// Two integers `low high`; the current range must contain the recommended one.
    RangeCovers,
}

/// Why two values could not be compared. The current value (local system) or the table (our bug) is at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompareError {
    /// A numeric comparison met a field that is not an integer.
    #[error("not a number")]
    NotNumeric,
    /// The two values have different field counts for a per-field or range comparison.
    #[error("expected {expected} fields, found {found}")]
    FieldCount {
        /// Fields the comparison needs.
        expected: usize,
        /// Fields the current value has.
        found: usize,
    },
}

impl Comparison {
    /// Whether `current` satisfies `recommended` under this comparison.
    pub fn is_met(
        self,
        current: &SysctlValue,
        recommended: &SysctlValue,
    ) -> Result<bool, CompareError> {
        if self == Comparison::Exact {
            return Ok(exact_match(current, recommended));
        }
        let current = current.numbers().ok_or(CompareError::NotNumeric)?;
        let recommended = recommended.numbers().ok_or(CompareError::NotNumeric)?;
        let expected = match self {
            Comparison::AtLeast | Comparison::AtMost => 1,
            Comparison::RangeCovers => 2,
            Comparison::EachFieldAtLeast | Comparison::Exact => recommended.len(),
        };
        for fields in [&current, &recommended] {
            if fields.len() != expected {
                return Err(CompareError::FieldCount {
                    expected,
                    found: fields.len(),
                });
            }
        }
        Ok(match self {
            Comparison::AtLeast => current[0] >= recommended[0],
            Comparison::AtMost => current[0] <= recommended[0],
            Comparison::RangeCovers => current[0] <= recommended[0] && current[1] >= recommended[1],
            Comparison::EachFieldAtLeast => current
                .iter()
                .zip(&recommended)
                .all(|(now, wanted)| now >= wanted),
            Comparison::Exact => current == recommended,
        })
    }

    /// A short word for tables: `>=`, `<=`, `==`, `each>=`, `covers`.
    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::AtLeast => ">=",
            Comparison::AtMost => "<=",
            Comparison::Exact => "==",
            Comparison::EachFieldAtLeast => "each>=",
            Comparison::RangeCovers => "covers",
        }
    }
}

fn exact_match(current: &SysctlValue, recommended: &SysctlValue) -> bool {
    let current: Vec<&str> = current.fields().collect();
    let recommended: Vec<&str> = recommended.fields().collect();
    current.len() == recommended.len()
        && current.iter().zip(&recommended).all(|(now, wanted)| {
            match (now.parse::<i64>(), wanted.parse::<i64>()) {
                (Ok(now), Ok(wanted)) => now == wanted,
                _ => now == wanted,
            }
        })
}

/// Whether a shortfall on a key fails `tune check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Importance {
    /// The server's configuration depends on it: a shortfall exits 1.
    Required,
    /// A recommendation: a shortfall is reported only.
    Advisory,
}

impl Importance {
    /// `required` or `advisory`.
    pub fn name(self) -> &'static str {
        match self {
            Importance::Required => "required",
            Importance::Advisory => "advisory",
        }
    }
}

/// The comparison, importance and consequence of one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// The dotted sysctl key.
    pub key: &'static str,
    /// How the current value is judged.
    pub comparison: Comparison,
    /// Whether a shortfall fails `tune check`.
    pub importance: Importance,
    /// What goes wrong when the current value falls short, in a few words.
    pub consequence: &'static str,
    /// What it means when the key does not exist under `/proc/sys`.
    pub absent_meaning: &'static str,
}

const NO_KEY: &str = "kernel lacks this setting; nothing to tune";
const NO_CONNTRACK: &str = "nf_conntrack not loaded: connections are not tracked, nothing to size";

use Comparison::{AtLeast, AtMost, EachFieldAtLeast, Exact, RangeCovers};
use Importance::{Advisory, Required};

const fn rule(
    key: &'static str,
    comparison: Comparison,
    importance: Importance,
    consequence: &'static str,
) -> Rule {
    Rule {
        key,
        comparison,
        importance,
        consequence,
        absent_meaning: NO_KEY,
    }
}

/// Every key a shipped profile sets (a test checks this), plus keys the server's needs add.
pub const RULES: &[Rule] = &[
    rule("fs.file-max", AtLeast, Required, "new sockets fail with ENFILE host-wide once all file objects are used"),
    rule("fs.nr_open", AtLeast, Required, "RLIMIT_NOFILE cannot be raised past it: epoll engine capped at this many connections"),
    rule("net.core.somaxconn", AtLeast, Required, "listen backlog silently capped: SYNs dropped in reconnect storms, clients retry after 1-3 s"),
    rule("net.ipv4.tcp_max_syn_backlog", AtLeast, Advisory, "half-open connections dropped or SYN cookies used during reconnect storms"),
    rule("net.ipv4.ip_local_port_range", RangeCovers, Advisory, "outgoing connections (loadgen, NATS) run out of ephemeral ports (EADDRNOTAVAIL)"),
    rule("net.ipv4.tcp_mem", EachFieldAtLeast, Required, "TCP memory pressure at scale: windows shrink and packets drop for every connection"),
    rule("net.ipv4.tcp_rmem", Exact, Advisory, "idle or slow sockets hold more (or less) receive buffer than intended"),
    rule("net.ipv4.tcp_wmem", Exact, Advisory, "idle or slow sockets hold more (or less) send buffer than intended"),
    rule("net.ipv4.tcp_keepalive_time", AtMost, Advisory, "vanished clients (NAT timeouts) hold a connection slot for up to 2 h"),
    rule("net.ipv4.tcp_keepalive_intvl", AtMost, Advisory, "dead peers detected later"),
    rule("net.ipv4.tcp_keepalive_probes", AtMost, Advisory, "dead peers detected later"),
    rule("net.ipv4.tcp_fin_timeout", AtMost, Advisory, "orphaned connections linger after mass disconnects"),
    rule("net.ipv4.tcp_tw_reuse", Exact, Advisory, "outgoing connection churn exhausts ports stuck in TIME_WAIT"),
    rule("net.ipv4.tcp_max_tw_buckets", AtLeast, Advisory, "TIME_WAIT sockets destroyed early during a drain (logged as overflow)"),
    rule("net.ipv4.tcp_max_orphans", AtLeast, Advisory, "mass closes hit \"too many orphaned sockets\" and are reset"),
    rule("net.ipv4.tcp_slow_start_after_idle", Exact, Advisory, "every burst after an idle period restarts slow start (extra RTTs)"),
    Rule {
        absent_meaning: NO_CONNTRACK,
        ..rule("net.netfilter.nf_conntrack_max", AtLeast, Required, "new connections dropped when the conntrack table is full")
    },
    Rule {
        absent_meaning: NO_CONNTRACK,
        ..rule("net.netfilter.nf_conntrack_buckets", AtLeast, Advisory, "long conntrack hash chains: more CPU per packet")
    },
    Rule {
        absent_meaning: NO_CONNTRACK,
        ..rule("net.netfilter.nf_conntrack_tcp_timeout_established", AtMost, Advisory, "entries of vanished clients fill the conntrack table")
    },
    rule("net.core.netdev_max_backlog", AtLeast, Advisory, "packets dropped between NIC and stack during bursts"),
    rule("net.core.busy_poll", Exact, Advisory, "interrupt and wakeup latency on every poll (tens of microseconds)"),
    rule("net.core.busy_read", Exact, Advisory, "interrupt and wakeup latency on every read"),
    rule("net.ipv4.tcp_autocorking", Exact, Advisory, "small writes delayed or not merged, against the profile's aim"),
    rule("net.ipv4.tcp_notsent_lowat", AtMost, Advisory, "kernel queues data ahead of the priority lanes: urgent messages wait"),
    rule("vm.stat_interval", AtLeast, Advisory, "more periodic kernel work interrupting shard threads"),
    rule("kernel.numa_balancing", Exact, Advisory, "page migration stalls pinned shard threads"),
    rule("net.core.rmem_max", AtLeast, Advisory, "receive buffers capped: per-connection throughput limited on long paths"),
    rule("net.core.wmem_max", AtLeast, Advisory, "send buffers capped: per-connection throughput limited on long paths"),
    rule("net.core.netdev_budget", AtLeast, Advisory, "smaller NAPI batches: more softirq rounds per packet"),
    rule("net.core.netdev_budget_usecs", AtLeast, Advisory, "NAPI rounds cut short: more softirq rounds per packet"),
    rule("net.core.default_qdisc", Exact, Advisory, "no pacing for BBR, no per-flow fairness"),
    Rule {
        absent_meaning: NO_KEY,
        ..rule("net.ipv4.tcp_congestion_control", Exact, Advisory, "CUBIC backs off on lossy mobile paths: lower throughput")
    },
    Rule {
        absent_meaning: "kernel older than 6.6: io_uring cannot be disabled by sysctl",
        ..rule("kernel.io_uring_disabled", AtMost, Required, "io_uring disabled or restricted to kernel.io_uring_group: the server falls back to epoll")
    },
    rule("net.ipv4.tcp_mtu_probing", Exact, Advisory, "large segments black-holed behind firewalls that drop ICMP"),
];

/// The rule for `key`, if the table has one.
pub fn find(key: &str) -> Option<&'static Rule> {
    RULES.iter().find(|rule| rule.key == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> SysctlValue {
        SysctlValue::new(text)
    }

    #[test]
    fn comparisons_follow_their_direction() {
        assert_eq!(AtLeast.is_met(&value("10"), &value("5")), Ok(true));
        assert_eq!(AtLeast.is_met(&value("4"), &value("5")), Ok(false));
        assert_eq!(AtMost.is_met(&value("4"), &value("5")), Ok(true));
        assert_eq!(AtMost.is_met(&value("6"), &value("5")), Ok(false));
        assert_eq!(Exact.is_met(&value("fq"), &value("fq")), Ok(true));
        assert_eq!(Exact.is_met(&value("4096\t1"), &value("4096 1")), Ok(true));
        assert_eq!(Exact.is_met(&value("cubic"), &value("bbr")), Ok(false));
    }

    #[test]
    fn per_field_and_range_comparisons() {
        assert_eq!(
            EachFieldAtLeast.is_met(&value("5 6 7"), &value("5 6 7")),
            Ok(true)
        );
        assert_eq!(
            EachFieldAtLeast.is_met(&value("9 9 6"), &value("5 6 7")),
            Ok(false)
        );
        assert_eq!(
            RangeCovers.is_met(&value("1024 65535"), &value("2000 60000")),
            Ok(true)
        );
        assert_eq!(
            RangeCovers.is_met(&value("32768\t60999"), &value("1024 65535")),
            Ok(false)
        );
        assert_eq!(
            RangeCovers.is_met(&value("1"), &value("1024 65535")),
            Err(CompareError::FieldCount {
                expected: 2,
                found: 1
            })
        );
        assert_eq!(
            AtLeast.is_met(&value("x"), &value("1")),
            Err(CompareError::NotNumeric)
        );
    }

    #[test]
    fn keys_are_unique() {
        for (index, rule) in RULES.iter().enumerate() {
            assert!(
                RULES[index + 1..].iter().all(|other| other.key != rule.key),
                "{}",
                rule.key
            );
        }
    }
}
