//! [`SimConfig`]: the size of a simulated node and how often each fault happens.

/// What one simulated run does. Probabilities are per mille, per step (and per client where they are
/// about a client).
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Connection shards (the routing shard comes on top).
    pub shards: usize,
    /// Customers (each with up to two devices over the run).
    pub customers: usize,
    /// Agents (every one in every group, so that any online agent may take any conversation).
    pub agents: usize,
    /// Steps with traffic and faults, then the quiet phase.
    pub steps: u64,
    /// Steps of the quiet phase: no faults, every client connected, until everything settled.
    pub settle_steps: u64,
    /// Virtual milliseconds per step.
    pub step_ms: u64,
    /// Ring capacity between two shards (small, so that overflow and `overloaded` paths run).
    pub ring_capacity: usize,
    /// A ring item is delivered after 0..=`ring_delay_steps_max` steps (FIFO per ring).
    pub ring_delay_steps_max: u64,
    /// A log write or sync completes after 0..=`io_delay_steps_max` steps.
    pub io_delay_steps_max: u64,
    /// A connected customer sends a new message.
    pub send_per_mille: u32,
    /// A connected agent replies in one of its conversations.
    pub reply_per_mille: u32,
    /// A client drops its connection (and reconnects later, resending what was not acked).
    pub disconnect_per_mille: u32,
    /// A disconnected client reconnects.
    pub reconnect_per_mille: u32,
    /// A connected customer re-sends its last acknowledged message (same id: must not be stored twice).
    pub duplicate_per_mille: u32,
    /// An agent chooses away (and online again later).
    pub away_per_mille: u32,
    /// The whole node crashes (every shard, the routing shard, unsynced log bytes cut at random) and
    /// restarts from its logs.
    pub crash_per_mille: u32,
    /// Messages a customer sends over the run at most.
    pub messages_per_customer_max: u32,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            shards: 2,
            customers: 6,
            agents: 3,
            steps: 600,
            settle_steps: 4_000,
            step_ms: 5,
            ring_capacity: 16,
            ring_delay_steps_max: 3,
            io_delay_steps_max: 2,
            send_per_mille: 40,
            reply_per_mille: 60,
            disconnect_per_mille: 4,
            reconnect_per_mille: 60,
            duplicate_per_mille: 5,
            away_per_mille: 3,
            crash_per_mille: 1,
            messages_per_customer_max: 12,
        }
    }
}
