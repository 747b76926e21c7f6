//! [`Actor`]: one logical chat client (a customer or an agent) that outlives its connections, and the
//! role layout of a thread's connections per scenario.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use switchboard_core::engine::ConnId;
use switchboard_protocol::app::{MessageId, Reassembler};

use super::ledger::FollowerTrack;
use crate::config::Scenario;

/// User ids of agent tokens start here (customers use `connection number + 1`).
pub const AGENT_USER_BASE: u64 = 1 << 40;
/// User ids of routed agents' tokens start here: the routing shard takes 32-bit agent ids.
pub const ROUTED_AGENT_USER_BASE: u64 = 1 << 31;
/// Questions a routed customer remembers while waiting for the bot's answers; more are not timed.
pub const AWAITING_BOT_MAX: usize = 4_096;

/// What a routed customer talks about (`routing = true`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomerKind {
    /// Knowledge-base questions: the bot answers (or asks a follow-up).
    BotQuestions,
    /// Questions the bot cannot answer: handed to a human at the first message.
    OutOfScope,
    /// Strongly negative messages: straight to a human.
    Angry,
}

impl CustomerKind {
    /// The kind of customer number `number` for the given shares (deterministic, spread evenly).
    pub fn of(number: u32, out_of_scope_share: f64, angry_share: f64) -> CustomerKind {
        // A golden-ratio sequence spreads every share evenly over any run of customers.
        let x = (f64::from(number) * 0.618_033_988_749_895).fract();
        if x < angry_share {
            CustomerKind::Angry
        } else if x < angry_share + out_of_scope_share {
            CustomerKind::OutOfScope
        } else {
            CustomerKind::BotQuestions
        }
    }
}

/// What an actor does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// Opens one conversation and sends on the open-loop schedule.
    Customer {
        /// Local indexes of the agents that follow this customer's conversation once it is open.
        followers: Vec<u32>,
    },
    /// An admin-role observer that resumes its customers' conversations and, if `replies`, answers.
    Agent {
        /// Whether it replies to customer messages.
        replies: bool,
    },
}

/// A `send` not yet acked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    /// Its message id (carries the intended time).
    pub id: MessageId,
    /// Its intended send time, nanoseconds since the epoch.
    pub intended_ns: u64,
    /// Its conversation (0: the customer's opening send, or a send waiting for it).
    pub conversation: u64,
    /// Whether it went out on the current or an earlier connection (a customer's sends wait for the
    /// opening `ack`, which names their conversation).
    pub sent: bool,
}

/// One logical client.
#[derive(Debug)]
pub struct Actor {
    /// Connection number within the run (the same on every reconnect).
    pub number: u32,
    /// What it does.
    pub role: Role,
    /// Its bearer token.
    pub token: String,
    /// Its current connection, if any.
    pub conn: Option<ConnId>,
    /// `welcome` received on the current connection.
    pub welcomed: bool,
    /// Churn: closing on purpose, to reconnect at once.
    pub reconnect: bool,
    /// A customer's conversation, once the opening send is acked.
    pub conversation: Option<u64>,
    /// Conversations it follows, with what it has seen.
    pub follows: BTreeMap<u64, FollowerTrack>,
    /// Sends not yet acked, oldest first.
    pub pending: Vec<Pending>,
    /// Agents: customer messages received (every n-th gets a reply).
    pub customer_messages: u64,
    /// Latest intended time used in a message id, so ids stay unique.
    pub last_intended_ns: u64,
    /// Routed customers: what they talk about.
    pub kind: Option<CustomerKind>,
    /// Routed customers: intended times of questions the bot has not answered yet, oldest first (the bot
    /// answers a conversation's messages in order, so each AI message answers the oldest).
    pub awaiting_bot: VecDeque<u64>,
    /// Routed customers: intended time of the first message (what hands an out-of-scope or angry
    /// customer to a human).
    pub first_intended_ns: Option<u64>,
    /// Routed customers: a `handoff` arrived; later messages go to the human, not the bot.
    pub handed_off: bool,
    /// Routed agents: conversations a `handoff` assigned to them.
    pub assigned: BTreeSet<u64>,
    /// Customers: the next schedule index when the last connection closed. The next connection starts
    /// there, so sends that fell due while disconnected go out after the reconnect stamped with their
    /// intended times (the downtime shows as latency, not as a lower send rate).
    pub schedule_index: Option<u64>,
    /// Pieces of `fragment`ed server frames (a large `history_result`, a long message), created at the
    /// first piece; dropped with the connection.
    pub reassembler: Option<Box<Reassembler>>,
}

impl Actor {
    /// A fresh actor.
    pub fn new(number: u32, role: Role, token: String) -> Actor {
        Actor {
            number,
            role,
            token,
            conn: None,
            welcomed: false,
            reconnect: false,
            conversation: None,
            follows: BTreeMap::new(),
            pending: Vec::new(),
            customer_messages: 0,
            last_intended_ns: 0,
            kind: None,
            awaiting_bot: VecDeque::new(),
            first_intended_ns: None,
            handed_off: false,
            assigned: BTreeSet::new(),
            schedule_index: None,
            reassembler: None,
        }
    }

    /// Whether it sends on the schedule.
    pub fn is_customer(&self) -> bool {
        matches!(self.role, Role::Customer { .. })
    }

    /// A unique intended time for its next message id, at or after `intended_ns`.
    pub fn next_intended(&mut self, intended_ns: u64) -> u64 {
        let ns = intended_ns.max(self.last_intended_ns + 1);
        self.last_intended_ns = ns;
        ns
    }
}

/// The role of local connection `k` of `owned` in `scenario`.
///
/// `fanout`: local 0 is the one sender, everyone else follows its conversation. Otherwise connections come
/// in groups of one agent followed by `customers_per_agent` customers.
pub fn role_of(
    scenario: Scenario,
    k: u32,
    owned: u32,
    customers_per_agent: u32,
    replies: bool,
) -> Role {
    if scenario == Scenario::Fanout {
        return match k {
            0 => Role::Customer {
                followers: (1..owned).collect(),
            },
            _ => Role::Agent { replies: false },
        };
    }
    let group = customers_per_agent + 1;
    match k % group {
        0 => Role::Agent { replies },
        p => Role::Customer {
            followers: vec![k - p],
        },
    }
}

/// Customers among `owned` local connections.
pub fn customers_of(scenario: Scenario, owned: u32, customers_per_agent: u32) -> u32 {
    (0..owned)
        .filter(|&k| {
            matches!(
                role_of(scenario, k, owned, customers_per_agent, false),
                Role::Customer { .. }
            )
        })
        .count() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_of_one_agent_and_customers() {
        assert_eq!(
            role_of(Scenario::Chat, 0, 10, 4, true),
            Role::Agent { replies: true }
        );
        assert_eq!(
            role_of(Scenario::Chat, 7, 10, 4, true),
            Role::Customer { followers: vec![5] }
        );
        assert_eq!(customers_of(Scenario::Chat, 10, 4), 8);
        assert_eq!(customers_of(Scenario::Fanout, 10, 4), 1);
    }

    #[test]
    fn customer_kinds_follow_the_shares() {
        let kinds: Vec<CustomerKind> = (0..1000).map(|n| CustomerKind::of(n, 0.15, 0.05)).collect();
        let count = |kind| kinds.iter().filter(|&&k| k == kind).count();
        assert!((140..=160).contains(&count(CustomerKind::OutOfScope)));
        assert!((40..=60).contains(&count(CustomerKind::Angry)));
        assert_eq!(CustomerKind::of(3, 0.0, 0.0), CustomerKind::BotQuestions);
    }
}
