//! [`Heartbeat`]: the adaptive per-connection heartbeat, pure and driven by simulated time.
//!
//! The algorithm (also described in `docs/architecture.md`):
//!
//! - **RTT estimate.** Each pong that answers our outstanding ping gives an RTT sample, smoothed exactly
//!   like TCP's retransmission timer (RFC 6298): `SRTT ← 7/8·SRTT + 1/8·R`,
//!   `RTTVAR ← 3/4·RTTVAR + 1/4·|SRTT − R|`, the first sample setting `SRTT = R`, `RTTVAR = R/2`.
//!   Values are kept in eighths of a millisecond so loopback RTTs of 0 ms do not lose precision.
//! - **Pong deadline** = `SRTT + 4·RTTVAR` (TCP's RTO), clamped to `[pong_timeout_ms_min,
//!   pong_timeout_ms_max]`; before the first sample it is the max. Data received after the ping pushes the
//!   deadline to `last activity + deadline`: the peer is alive and its pong is queued behind its data.
//! - **Interval.** A steady path (jitter small against RTT) is pinged every `heartbeat_interval_ms_max`, which
//!   is chosen below NAT and load-balancer idle timers; the interval shrinks linearly with the jitter ratio
//!   `RTTVAR / max(SRTT, 100 ms)` down to `heartbeat_interval_ms_min` (at a ratio of 1), so a flaky path
//!   (mobile handover, congested Wi-Fi) is probed more often and a dead one is noticed sooner. The 100 ms
//!   floor keeps ordinary queueing jitter of a few ms — on a LAN, or the server's own batching of
//!   thousands of pings — from looking like a flaky path on a low-RTT connection. Before the
//!   first sample the interval is the min, to learn the RTT early.
//! - **Activity.** The next ping is due `interval` after the last received byte, so a connection that is
//!   receiving data is never pinged; only quiet connections cost pings.
//! - **Batching.** The due time is moved earlier onto a shard-wide grid of [`PING_BATCH_MS`] (never below
//!   `heartbeat_interval_ms_min` after the last byte), so the pings of many quiet connections fall on the
//!   same timer tick and go out together: one wakeup and one submit for hundreds of pings instead of one
//!   per millisecond tick, and their pongs come back in bursts that are reaped together.
//! - **Expiry.** A missed deadline makes [`Heartbeat::handle_timeout`] return
//!   [`HeartbeatAction::Expired`]; the connection is then dropped without a close handshake (see
//!   [the crate root](crate) for why), which the client observes as 1006.
//! - **Announcement.** The client is told [`Heartbeat::advertised_interval_ms`] (the max bound): the longest
//!   it can go without hearing from a quiet server while healthy, whatever the adaptation does.

use super::send_queue::PING_PAYLOAD_BYTES;
use crate::limits::Limits;

/// Smallest SRTT the jitter ratio divides by, in ms, so that on a low-RTT path (loopback, LAN, one data
/// centre) the few ms of queueing jitter that every busy host adds do not shorten the interval. With
/// 10 ms, 100,000 idle loopback connections pinged in batches measured RTTs of 0–20 ms, their
/// intervals fell from 30 s towards 5 s, and the heartbeat cost rose by a third.
const JITTER_SRTT_FLOOR_MS: u64 = 100;
/// Fixed-point scale of the RTT estimates: values are stored in eighths of a millisecond.
const RTT_SCALE: u64 = 8;
/// Grid (ms, on the connection's clock) that ping due times are moved back onto, so pings batch. Small
/// against the interval (5–30 s by default): a ping goes out at most this much early.
pub const PING_BATCH_MS: u64 = 100;

/// The bounds of the heartbeat, taken from [`Limits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeartbeatConfig {
    /// Shortest ping interval.
    pub interval_ms_min: u64,
    /// Longest ping interval, announced to the client.
    pub interval_ms_max: u64,
    /// Smallest pong deadline.
    pub pong_timeout_ms_min: u64,
    /// Largest pong deadline.
    pub pong_timeout_ms_max: u64,
}

impl HeartbeatConfig {
    /// The heartbeat fields of validated `limits`.
    pub fn from_limits(limits: &Limits) -> Self {
        Self {
            interval_ms_min: limits.heartbeat_interval_ms_min,
            interval_ms_max: limits.heartbeat_interval_ms_max,
            pong_timeout_ms_min: limits.pong_timeout_ms_min,
            pong_timeout_ms_max: limits.pong_timeout_ms_max,
        }
    }
}

/// What the connection must do when [`Heartbeat::handle_timeout`] fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeartbeatAction {
    /// Send a ping with this payload (an opaque token that the pong must echo).
    SendPing {
        /// The ping payload.
        payload: [u8; PING_PAYLOAD_BYTES],
    },
    /// The pong deadline passed: the peer is considered dead.
    Expired,
}

/// One connection's heartbeat state. Time is always passed in, in milliseconds on any monotonic clock.
///
/// Packed (it exists once per connection, a million of them per node): the bounds are not kept (every call
/// that needs them takes the shared [`HeartbeatConfig`], the one given to [`Heartbeat::new`]), the
/// outstanding ping's token is always `next_token - 1` so only its send time is kept, the RTT values
/// are 32-bit (eighths of a millisecond: up to 6 days, against pong deadlines of at most an hour), and the
/// optional values use flags.
#[derive(Debug, Clone)]
pub struct Heartbeat {
    /// When the last byte was received from the peer.
    last_activity_ms: u64,
    /// When the outstanding ping (token `next_token - 1`) was sent; meaningful while `outstanding`.
    ping_sent_ms: u64,
    /// Smoothed RTT, in eighths of a millisecond; meaningful once `has_rtt`.
    srtt: u32,
    /// RTT variation, in eighths of a millisecond; meaningful once `has_rtt`.
    rttvar: u32,
    /// Token of the next ping; increases so a late pong for an older ping is not mistaken for the current
    /// (it wraps after 2^32 pings, centuries at the shortest interval). Sent as 8 big-endian bytes.
    next_token: u32,
    /// The last RTT sample (ms, saturated) not yet taken by [`Heartbeat::take_sample_ms`], for metrics;
    /// meaningful while `has_sample`.
    sample_ms: u32,
    has_rtt: bool,
    outstanding: bool,
    has_sample: bool,
    expired: bool,
}

/// The smoothed RTT and its variation, in eighths of a millisecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RttEstimate {
    srtt: u64,
    rttvar: u64,
}

impl Heartbeat {
    /// A heartbeat for a connection that became open at `now_ms`. Every later call that takes a `config`
    /// must pass this one.
    pub fn new(config: &HeartbeatConfig, now_ms: u64) -> Self {
        assert!(
            config.interval_ms_min <= config.interval_ms_max,
            "validated by Limits"
        );
        assert!(
            config.pong_timeout_ms_min <= config.pong_timeout_ms_max,
            "validated by Limits"
        );
        Self {
            srtt: 0,
            rttvar: 0,
            last_activity_ms: now_ms,
            ping_sent_ms: 0,
            next_token: 1,
            sample_ms: 0,
            has_rtt: false,
            outstanding: false,
            has_sample: false,
            expired: false,
        }
    }

    fn rtt(&self) -> Option<RttEstimate> {
        self.has_rtt.then_some(RttEstimate {
            srtt: u64::from(self.srtt),
            rttvar: u64::from(self.rttvar),
        })
    }

    /// The payload of the ping with `token`: the token as 8 big-endian bytes.
    fn ping_payload(token: u32) -> [u8; PING_PAYLOAD_BYTES] {
        u64::from(token).to_be_bytes()
    }

    /// The interval to announce to the client: the longest a healthy quiet connection goes without a ping.
    pub fn advertised_interval_ms(&self, config: &HeartbeatConfig) -> u64 {
        config.interval_ms_max
    }

    /// The current ping interval, within `[interval_ms_min, interval_ms_max]`.
    pub fn interval_ms(&self, config: &HeartbeatConfig) -> u64 {
        let (min, max) = (config.interval_ms_min, config.interval_ms_max);
        let Some(rtt) = self.rtt() else {
            return min;
        };
        let divisor = rtt.srtt.max(JITTER_SRTT_FLOOR_MS * RTT_SCALE);
        let jitter = rtt.rttvar.min(divisor);
        max - (max - min) * jitter / divisor
    }

    /// The current pong deadline (a duration), within `[pong_timeout_ms_min, pong_timeout_ms_max]`.
    pub fn pong_timeout_ms(&self, config: &HeartbeatConfig) -> u64 {
        let (min, max) = (config.pong_timeout_ms_min, config.pong_timeout_ms_max);
        match self.rtt() {
            None => max,
            Some(rtt) => ((rtt.srtt + 4 * rtt.rttvar).div_ceil(RTT_SCALE)).clamp(min, max),
        }
    }

    /// The smoothed RTT in ms, once a pong has been measured.
    pub fn srtt_ms(&self) -> Option<u64> {
        self.rtt().map(|rtt| rtt.srtt / RTT_SCALE)
    }

    /// The RTT variation in ms, once a pong has been measured.
    pub fn rttvar_ms(&self) -> Option<u64> {
        self.rtt().map(|rtt| rtt.rttvar / RTT_SCALE)
    }

    /// Whether a ping is waiting for its pong.
    pub fn ping_outstanding(&self) -> bool {
        self.outstanding
    }

    /// Records that bytes were received from the peer at `now_ms`.
    pub fn on_activity(&mut self, now_ms: u64) {
        self.last_activity_ms = self.last_activity_ms.max(now_ms);
    }

    /// Records a pong received at `now_ms`. Returns whether it answered the outstanding ping (and so gave
    /// an RTT sample); an unsolicited or stale pong only counts as activity.
    pub fn on_pong(&mut self, payload: &[u8], now_ms: u64) -> bool {
        self.on_activity(now_ms);
        if !self.outstanding || payload != Self::ping_payload(self.next_token.wrapping_sub(1)) {
            return false;
        }
        self.outstanding = false;
        self.add_sample(now_ms.saturating_sub(self.ping_sent_ms));
        true
    }

    /// Takes the RTT sample (ms) measured by the last matching pong, if not taken yet. Changed by `on_pong`.
    pub fn take_sample_ms(&mut self) -> Option<u64> {
        let sample = self.has_sample.then_some(u64::from(self.sample_ms));
        self.has_sample = false;
        sample
    }

    fn add_sample(&mut self, rtt_ms: u64) {
        self.sample_ms = saturate(rtt_ms);
        self.has_sample = true;
        let sample = rtt_ms * RTT_SCALE;
        let estimate = match self.rtt() {
            None => RttEstimate {
                srtt: sample,
                rttvar: sample / 2,
            },
            Some(RttEstimate { srtt, rttvar }) => RttEstimate {
                rttvar: rttvar - rttvar / 4 + srtt.abs_diff(sample) / 4,
                srtt: srtt - srtt / 8 + sample / 8,
            },
        };
        self.srtt = saturate(estimate.srtt);
        self.rttvar = saturate(estimate.rttvar);
        self.has_rtt = true;
    }

    /// The instant (ms) at which [`Heartbeat::handle_timeout`] must next be called: the pong deadline while a
    /// ping is outstanding, otherwise the next ping. Changed by `on_activity`, `on_pong` and `handle_timeout`.
    pub fn poll_timeout(&self, config: &HeartbeatConfig) -> Option<u64> {
        if self.expired {
            return None;
        }
        Some(if self.outstanding {
            self.ping_sent_ms.max(self.last_activity_ms) + self.pong_timeout_ms(config)
        } else {
            self.ping_due_ms(config)
        })
    }

    /// When the next ping is due: `interval` after the last activity, moved back onto the
    /// [`PING_BATCH_MS`] grid, but never sooner than `interval_ms_min` after the last activity.
    fn ping_due_ms(&self, config: &HeartbeatConfig) -> u64 {
        let due = self.last_activity_ms + self.interval_ms(config);
        let on_grid = due - due % PING_BATCH_MS;
        on_grid.max(self.last_activity_ms + config.interval_ms_min)
    }

    /// Advances to `now_ms`: returns a ping to send when one is due, [`HeartbeatAction::Expired`] (once) when
    /// the pong deadline passed, or `None` when nothing is due yet.
    pub fn handle_timeout(
        &mut self,
        config: &HeartbeatConfig,
        now_ms: u64,
    ) -> Option<HeartbeatAction> {
        let due_ms = self.poll_timeout(config)?;
        if now_ms < due_ms {
            return None;
        }
        if self.outstanding {
            self.expired = true;
            return Some(HeartbeatAction::Expired);
        }
        let token = self.next_token;
        self.next_token = self.next_token.wrapping_add(1);
        self.outstanding = true;
        self.ping_sent_ms = now_ms;
        Some(HeartbeatAction::SendPing {
            payload: Self::ping_payload(token),
        })
    }
}

/// `value` in 32 bits, saturated: RTT samples are bounded by the pong deadline (at most an hour), so
/// saturation is only reached by a pong later than any deadline.
fn saturate(value: u64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: HeartbeatConfig = HeartbeatConfig {
        interval_ms_min: 5_000,
        interval_ms_max: 30_000,
        pong_timeout_ms_min: 200,
        pong_timeout_ms_max: 10_000,
    };

    /// Runs one ping/pong round with the given RTT at the moment the next ping is due.
    fn round_trip(heartbeat: &mut Heartbeat, config: &HeartbeatConfig, rtt_ms: u64) -> u64 {
        let due = heartbeat.poll_timeout(config).unwrap();
        let Some(HeartbeatAction::SendPing { payload }) = heartbeat.handle_timeout(config, due)
        else {
            panic!("a ping was due at {due}");
        };
        assert!(heartbeat.on_pong(&payload, due + rtt_ms));
        due + rtt_ms
    }

    #[test]
    fn quiet_connection_is_pinged_at_the_interval() {
        let mut hb = Heartbeat::new(&CONFIG, 1_000);
        assert_eq!(
            hb.poll_timeout(&CONFIG),
            Some(1_000 + CONFIG.interval_ms_min)
        );
        assert_eq!(hb.handle_timeout(&CONFIG, 5_999), None);
        let mut now = round_trip(&mut hb, &CONFIG, 20);
        for _ in 0..10 {
            // Steady 20 ms RTT: the jitter decays and the interval climbs towards the max. The ping is
            // due on the batching grid, at most one grid step before `now + interval`.
            let due = hb.poll_timeout(&CONFIG).unwrap();
            assert_eq!(due % PING_BATCH_MS, 0);
            assert!(
                due <= now + hb.interval_ms(&CONFIG)
                    && now + hb.interval_ms(&CONFIG) - due < PING_BATCH_MS
            );
            now = round_trip(&mut hb, &CONFIG, 20);
        }
        assert!(
            hb.interval_ms(&CONFIG) > 25_000,
            "steady path drifts to the max: {}",
            hb.interval_ms(&CONFIG)
        );
        assert!(hb.interval_ms(&CONFIG) <= CONFIG.interval_ms_max);
    }

    #[test]
    fn pings_of_connections_that_went_quiet_at_different_times_fall_on_one_tick() {
        let mut due = Vec::new();
        for quiet_since in [60_001, 60_020, 60_057, 60_099] {
            let mut hb = Heartbeat::new(&CONFIG, 0);
            round_trip(&mut hb, &CONFIG, 0);
            round_trip(&mut hb, &CONFIG, 0);
            assert_eq!(hb.interval_ms(&CONFIG), CONFIG.interval_ms_max);
            hb.on_activity(quiet_since);
            due.push(hb.poll_timeout(&CONFIG).unwrap());
        }
        assert_eq!(due, [90_000; 4], "one batch, never later than the interval");
    }

    #[test]
    fn the_grid_never_shortens_the_interval_below_the_min() {
        // Before the first RTT sample the interval is the min: a ping due off the grid stays where it is.
        let hb = Heartbeat::new(&CONFIG, 1_234);
        assert_eq!(
            hb.poll_timeout(&CONFIG),
            Some(1_234 + CONFIG.interval_ms_min)
        );
        // Min == max: nothing to give, no batching.
        static FIXED: HeartbeatConfig = HeartbeatConfig {
            interval_ms_min: 10_000,
            interval_ms_max: 10_000,
            ..CONFIG
        };
        let mut hb = Heartbeat::new(&FIXED, 0);
        round_trip(&mut hb, &FIXED, 0);
        hb.on_activity(20_050);
        assert_eq!(hb.poll_timeout(&FIXED), Some(30_050));
    }

    #[test]
    fn busy_connection_is_never_pinged() {
        let mut hb = Heartbeat::new(&CONFIG, 0);
        for now in (0..600_000).step_by(1_000) {
            hb.on_activity(now);
            assert_eq!(hb.handle_timeout(&CONFIG, now), None);
        }
        assert!(!hb.ping_outstanding());
    }

    #[test]
    fn rtt_growth_widens_the_deadline() {
        let mut hb = Heartbeat::new(&CONFIG, 0);
        round_trip(&mut hb, &CONFIG, 10);
        let narrow = hb.pong_timeout_ms(&CONFIG);
        assert_eq!(
            narrow, CONFIG.pong_timeout_ms_min,
            "10 ms RTT is clamped to the min"
        );
        for rtt in [100, 400, 900, 1_500] {
            round_trip(&mut hb, &CONFIG, rtt);
        }
        assert!(hb.pong_timeout_ms(&CONFIG) > narrow);
        assert!(hb.pong_timeout_ms(&CONFIG) >= hb.srtt_ms().unwrap());
    }

    #[test]
    fn missed_pong_expires_once() {
        let mut hb = Heartbeat::new(&CONFIG, 0);
        assert!(matches!(
            hb.handle_timeout(&CONFIG, 5_000),
            Some(HeartbeatAction::SendPing { .. })
        ));
        assert_eq!(
            hb.poll_timeout(&CONFIG),
            Some(5_000 + CONFIG.pong_timeout_ms_max)
        );
        assert_eq!(hb.handle_timeout(&CONFIG, 14_999), None);
        assert_eq!(
            hb.handle_timeout(&CONFIG, 15_000),
            Some(HeartbeatAction::Expired)
        );
        assert_eq!(hb.handle_timeout(&CONFIG, 100_000), None);
        assert_eq!(hb.poll_timeout(&CONFIG), None);
    }

    #[test]
    fn data_after_ping_extends_the_deadline_and_stale_pong_does_not_count() {
        let mut hb = Heartbeat::new(&CONFIG, 0);
        let Some(HeartbeatAction::SendPing { payload }) = hb.handle_timeout(&CONFIG, 5_000) else {
            panic!()
        };
        hb.on_activity(12_000);
        assert_eq!(
            hb.handle_timeout(&CONFIG, 15_000),
            None,
            "peer is alive, its pong is behind its data"
        );
        assert!(!hb.on_pong(&[0; 8], 16_000), "wrong token");
        assert!(hb.ping_outstanding());
        assert!(hb.on_pong(&payload, 16_500));
        assert_eq!(hb.srtt_ms(), Some(11_500));
    }

    #[test]
    fn jitter_shrinks_the_interval_and_bounds_hold() {
        let mut hb = Heartbeat::new(&CONFIG, 0);
        for rtt in [50, 900, 30, 1_200, 10, 2_000, 40, 3_000] {
            round_trip(&mut hb, &CONFIG, rtt);
            let interval = hb.interval_ms(&CONFIG);
            assert!((CONFIG.interval_ms_min..=CONFIG.interval_ms_max).contains(&interval));
            let deadline = hb.pong_timeout_ms(&CONFIG);
            assert!((CONFIG.pong_timeout_ms_min..=CONFIG.pong_timeout_ms_max).contains(&deadline));
        }
        assert!(
            hb.interval_ms(&CONFIG) < 15_000,
            "jittery path is probed more often: {}",
            hb.interval_ms(&CONFIG)
        );
        // Huge RTTs are clamped to the max deadline.
        for _ in 0..5 {
            round_trip(&mut hb, &CONFIG, 60_000);
        }
        assert_eq!(hb.pong_timeout_ms(&CONFIG), CONFIG.pong_timeout_ms_max);
        assert_eq!(hb.advertised_interval_ms(&CONFIG), CONFIG.interval_ms_max);
    }

    #[test]
    fn a_few_ms_of_queueing_jitter_keeps_a_low_rtt_path_near_the_max() {
        // What a busy host's batches of pings measure on loopback: 0–20 ms.
        let mut hb = Heartbeat::new(&CONFIG, 0);
        for rtt in [0, 20, 3, 17, 0, 20, 9, 14, 0, 20] {
            round_trip(&mut hb, &CONFIG, rtt);
        }
        assert!(
            hb.interval_ms(&CONFIG) >= 27_000,
            "queueing jitter is not a flaky path: {} ms",
            hb.interval_ms(&CONFIG)
        );
    }

    #[test]
    fn loopback_zero_rtt_is_steady() {
        let mut hb = Heartbeat::new(&CONFIG, 0);
        for _ in 0..3 {
            round_trip(&mut hb, &CONFIG, 0);
        }
        assert_eq!(hb.interval_ms(&CONFIG), CONFIG.interval_ms_max);
        assert_eq!(hb.pong_timeout_ms(&CONFIG), CONFIG.pong_timeout_ms_min);
    }
}
