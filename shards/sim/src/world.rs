//! [`World`]: one simulated node (connection shards, the routing shard, the rings between them) and its
//! clients, stepped in virtual time. Everything random comes from the seed, so a run replays exactly.
//!
//! A step: faults (a node crash), every shard takes what its rings delivered, the routing shard decides,
//! every client reads some of what is queued for it (lanes in a seeded order) and acts, then every shard
//! commits its log and releases what the commit covers. After `steps`, the quiet phase: no faults, every
//! client reconnects once and resumes, agents come back online, until nothing moves; then the final
//! checks ([`crate::check`]).

use std::collections::VecDeque;
use std::sync::Arc;

use switchboard_auth::Role;
use switchboard_chat::messages::ShardMsg;
use switchboard_chat::shard::{route_output, Rings};
use switchboard_chat::{ChatConfig, Encoding};
use switchboard_log::{LogConfig, MemoryStorage};
use switchboard_protocol::app::encode::Encoder;
use switchboard_protocol::app::json::encode_json;
use switchboard_protocol::app::OwnedFrame;
use switchboard_routing::ngram::NgramBrain;
use switchboard_routing::shard::{RoutingOutput, RoutingShard, RoutingShardConfig};

use crate::client::{Client, Kind};
use crate::host::WALL_EPOCH_MS;
use crate::ledger::Ledger;
use crate::net::Net;
use crate::node::{Node, NodeSetup};
use crate::rng::Rng;
use crate::setup::{sim_keyring, trained_brain};
use crate::wire::{decode, mix};
use crate::{SimConfig, SimError, Violation};

/// The simulated tenant.
const TENANT: u64 = 1;
/// User ids: customers from here, agents from [`AGENT_USER_BASE`].
const CUSTOMER_USER_BASE: u64 = 1_000;
const AGENT_USER_BASE: u64 = 2_000;
/// How often the routing shard's timers run, virtual milliseconds (as the routing thread's tick).
const ROUTING_TICK_MS: u64 = 1_000;
/// Routing inputs taken per ring per step.
const ROUTING_BATCH: usize = 256;
/// Frames a client reads per step at most.
const READS_PER_STEP_MAX: u64 = 8;
/// Steps a presence change may take to reach the routing shard (ring delays, full rings) before an
/// assignment that ignores it is a violation.
const PRESENCE_SLACK_STEPS: u64 = 40;
/// Steps without anything moving that end the quiet phase.
const QUIET_STEPS: u64 = 100;
/// `routing.router.disconnect_grace_ms` in the simulation (short, so re-queueing happens in a run).
const DISCONNECT_GRACE_MS: u64 = 400;
/// `routing.router.reply_timeout_ms` in the simulation.
const REPLY_TIMEOUT_MS: u64 = 3_000;
/// What happened in a run (for the report and the determinism check).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Report {
    /// Steps run, quiet phase included.
    pub steps: u64,
    /// Messages acknowledged to clients.
    pub acked: usize,
    /// Conversations opened.
    pub conversations: usize,
    /// Node crashes.
    pub crashes: u32,
    /// Client disconnects (client or server side).
    pub disconnects: u64,
    /// Assignments of conversations to agents.
    pub assignments: u64,
    /// Tickets customers or agents were told about.
    pub tickets: usize,
    /// A hash of every frame the clients read, in order: equal for equal seeds.
    pub trace: u64,
}

/// The simulated node and its clients.
pub struct World {
    pub(crate) config: SimConfig,
    pub(crate) seed: u64,
    rng: Rng,
    pub(crate) step: u64,
    setup: NodeSetup,
    pub(crate) nodes: Vec<Node>,
    storages: Vec<MemoryStorage>,
    routing: RoutingShard<NgramBrain>,
    routing_config: RoutingShardConfig,
    routing_overflow: Vec<VecDeque<ShardMsg>>,
    next_routing_tick_ms: u64,
    net: Net,
    pub(crate) clients: Vec<Client>,
    pub(crate) ledger: Ledger,
    encoder: Encoder,
    pub(crate) report: Report,
    quiet: bool,
    /// `SWITCHBOARD_SIM_TRACE=1`: print every frame a client sends and reads (to replay a failure).
    verbose: bool,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("seed", &self.seed)
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

impl World {
    /// A node of `config.shards` shards with fresh logs and its clients, for `seed`.
    ///
    /// # Errors
    ///
    /// A setting the chat layer refuses.
    pub fn new(config: SimConfig, seed: u64) -> Result<World, SimError> {
        let keyring = sim_keyring();
        let mut chat = ChatConfig {
            routing_enabled: true,
            ..ChatConfig::default()
        };
        chat.lift_client_quotas();
        let log = LogConfig {
            // Small segments, so runs roll them and recovery reads several.
            segment_bytes_max: 256 << 10,
            payload_bytes_max: 16 << 10,
            ..LogConfig::default()
        };
        let setup = NodeSetup {
            shards: config.shards,
            keyring: Arc::new(keyring),
            chat,
            log,
        };
        let mut routing_config = RoutingShardConfig::default();
        routing_config.router.seed = seed;
        routing_config.router.disconnect_grace_ms = DISCONNECT_GRACE_MS;
        routing_config.router.reply_timeout_ms = REPLY_TIMEOUT_MS;
        let (kb, model) = trained_brain().clone();
        let routing = RoutingShard::with_brain(routing_config.clone(), kb, model)
            .map_err(|e| SimError::Setup(format!("routing shard: {e}")))?;
        let groups: Vec<u32> = routing.groups().iter().map(|g| g.id).collect();
        let storages: Vec<MemoryStorage> =
            (0..config.shards).map(|_| MemoryStorage::new()).collect();
        let nodes = (0..config.shards)
            .map(|id| Node::open(id, &setup, storages[id].clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let mut rng = Rng::new(seed);
        let issued_s = WALL_EPOCH_MS / 1_000 - 5;
        let ttl_s = 30 * 24 * 3_600;
        let mint = |user: u64, role: Role, groups: &[u32]| {
            setup
                .keyring
                .mint(TENANT, user, role, groups, issued_s, ttl_s)
                .map_err(|e| SimError::Setup(format!("token: {e}")))
        };
        let mut clients = Vec::new();
        for c in 0..config.customers {
            let user = CUSTOMER_USER_BASE + c as u64;
            let token = mint(user, Role::Customer, &[])?;
            let json = rng.chance(500);
            clients.push(Client::new(
                clients.len(),
                user,
                Kind::Customer,
                token,
                json,
            ));
            // Every third customer has a second device.
            if c % 3 == 0 {
                let token = mint(user, Role::Customer, &[])?;
                clients.push(Client::new(
                    clients.len(),
                    user,
                    Kind::Customer,
                    token,
                    !json,
                ));
            }
        }
        for a in 0..config.agents {
            let user = AGENT_USER_BASE + a as u64;
            let token = mint(user, Role::Agent, &groups)?;
            let json = rng.chance(500);
            clients.push(Client::new(clients.len(), user, Kind::Agent, token, json));
        }
        let peers = config.shards + 1;
        let net = Net::new(peers, config.ring_capacity, config.ring_delay_steps_max);
        let mut world = World {
            seed,
            rng,
            step: 0,
            setup,
            nodes,
            storages,
            routing,
            routing_config,
            routing_overflow: (0..config.shards).map(|_| VecDeque::new()).collect(),
            next_routing_tick_ms: ROUTING_TICK_MS,
            net,
            clients,
            ledger: Ledger::default(),
            encoder: Encoder::new(),
            report: Report::default(),
            quiet: false,
            verbose: std::env::var_os("SWITCHBOARD_SIM_TRACE").is_some(),
            config,
        };
        world.announce_recovered();
        Ok(world)
    }

    fn announce_recovered(&mut self) {
        for node in &mut self.nodes {
            let mut rings = self.net.sender(node.core.id(), self.step, &mut self.rng);
            node.core.announce_recovered(&mut rings);
        }
    }

    /// Runs the traffic phase and the quiet phase, then checks the end state.
    ///
    /// # Errors
    ///
    /// The first [`Violation`] of the contract, with the seed and step.
    pub fn run(mut self) -> Result<Report, SimError> {
        let steps = self.config.steps;
        while self.step < steps {
            self.step_once().map_err(|v| self.fail(v))?;
        }
        self.begin_quiet();
        let mut still = 0;
        let end = steps + self.config.settle_steps;
        while self.step < end && still < QUIET_STEPS {
            let before = self.report.trace;
            self.step_once().map_err(|v| self.fail(v))?;
            if before == self.report.trace && self.settled() {
                still += 1;
            } else {
                still = 0;
            }
        }
        if still < QUIET_STEPS {
            return Err(self.fail(Violation::new(format!(
                "did not settle within {} quiet steps: {}",
                self.config.settle_steps,
                self.unsettled()
            ))));
        }
        crate::check::end_state(&self).map_err(|v| self.fail(v))?;
        self.report.steps = self.step;
        self.report.acked = self.ledger.acked.len();
        self.report.tickets = self.ledger.tickets_told.len();
        self.report.conversations = self
            .ledger
            .acked
            .keys()
            .map(|&(c, _)| c)
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        Ok(self.report)
    }

    fn fail(&self, violation: Violation) -> SimError {
        let (c, d) = (&self.config, SimConfig::default());
        let mut flags = String::new();
        for (name, value, default) in [
            ("shards", c.shards as u64, d.shards as u64),
            ("customers", c.customers as u64, d.customers as u64),
            ("agents", c.agents as u64, d.agents as u64),
            ("steps", c.steps, d.steps),
            (
                "crash-per-mille",
                u64::from(c.crash_per_mille),
                u64::from(d.crash_per_mille),
            ),
        ] {
            if value != default {
                flags.push_str(&format!(" --{name} {value}"));
            }
        }
        SimError::Violation {
            seed: self.seed,
            flags,
            step: self.step,
            violation,
        }
    }

    /// The quiet phase: every client reconnects once (and so resumes everything it shows), agents come
    /// back online, nothing fails any more.
    fn begin_quiet(&mut self) {
        self.quiet = true;
        for index in 0..self.clients.len() {
            self.drop_link(index);
            self.clients[index].wants_away = false;
            self.clients[index].away_since = None;
        }
    }

    fn settled(&self) -> bool {
        self.net.in_flight() == 0
            && self.routing_overflow.iter().all(VecDeque::is_empty)
            && self.nodes.iter().all(Node::settled)
            && self
                .clients
                .iter()
                .all(|c| c.ready() && c.unacked_len() == 0)
            && self
                .nodes
                .iter()
                .all(|n| n.host.conns.values().all(|c| c.drained()))
    }

    fn unsettled(&self) -> String {
        let waiting: Vec<String> = self
            .clients
            .iter()
            .filter(|c| !c.ready() || c.unacked_len() > 0)
            .map(|c| {
                format!(
                    "client {} (ready {}, unacked {})",
                    c.index,
                    c.ready(),
                    c.unacked_len()
                )
            })
            .collect();
        format!(
            "ring items in flight {}, clients waiting [{}]",
            self.net.in_flight(),
            waiting.join(", ")
        )
    }

    fn step_once(&mut self) -> Result<(), Violation> {
        let step = self.step;
        if !self.quiet && self.rng.chance(self.config.crash_per_mille) {
            self.crash();
        }
        for node in &mut self.nodes {
            node.begin_step(step, self.config.step_ms, &mut self.net, &mut self.rng);
        }
        self.routing_step()?;
        for index in 0..self.clients.len() {
            self.client_step(index)?;
        }
        for node in &mut self.nodes {
            node.end_step(
                step,
                (&mut self.net, &mut self.rng),
                self.config.io_delay_steps_max,
            )
            .map_err(|e| Violation::new(e.to_string()))?;
        }
        self.step += 1;
        Ok(())
    }

    /// The routing shard: inputs, timers, decisions to the owners (a full ring holds them back).
    fn routing_step(&mut self) -> Result<(), Violation> {
        let now = self.step * self.config.step_ms;
        let id = self.config.shards;
        for message in self
            .net
            .receive(id, self.step, ROUTING_BATCH, &mut self.rng)
        {
            if let ShardMsg::ToRouting(input) = message {
                // A refused input is the routing shard's answer (counted); the owner falls back.
                let _ = self.routing.handle(now, input);
            }
        }
        if now >= self.next_routing_tick_ms {
            self.routing.tick(now);
            self.next_routing_tick_ms = now + ROUTING_TICK_MS;
        }
        while let Some(output) = self.routing.poll_output() {
            if self.verbose {
                eprintln!("{} routing: {output:?}", self.step);
            }
            if let RoutingOutput::Assigned { agent, .. } = &output {
                self.check_assignment(u64::from(*agent))?;
            }
            let overflow = &mut self.routing_overflow;
            route_output(output, self.config.shards, |to, m| {
                overflow[to].push_back(m)
            });
        }
        let mut rings = self.net.sender(id, self.step, &mut self.rng);
        for (to, queue) in self.routing_overflow.iter_mut().enumerate() {
            while let Some(message) = queue.pop_front() {
                if let Err(message) = rings.push(to, message) {
                    queue.push_front(message);
                    break;
                }
            }
        }
        Ok(())
    }

    /// No conversation goes to an agent that is offline (no console) or chose away, once the routing
    /// shard could know it.
    fn check_assignment(&mut self, agent: u64) -> Result<(), Violation> {
        self.report.assignments += 1;
        let step = self.step;
        let consoles: Vec<&Client> = self.clients.iter().filter(|c| c.user == agent).collect();
        let offline = consoles.iter().all(|c| {
            c.offline_since
                .is_some_and(|s| step > s + PRESENCE_SLACK_STEPS)
        });
        let away = consoles.iter().any(|c| {
            c.away_since
                .is_some_and(|s| step > s + PRESENCE_SLACK_STEPS)
        });
        if offline || away {
            return Err(Violation::new(format!(
                "conversation assigned to agent {agent}, which is {}",
                if offline {
                    "offline"
                } else {
                    "away by its own choice"
                }
            )));
        }
        Ok(())
    }

    /// One client: what is queued for it, what it does, whether it leaves or comes back.
    fn client_step(&mut self, index: usize) -> Result<(), Violation> {
        let step = self.step;
        if let Some(link) = self.clients[index].link.clone() {
            let reads = self.rng.below(READS_PER_STEP_MAX + 1);
            for _ in 0..reads {
                let conn = self.nodes[link.shard].host.conns.get_mut(&link.conn);
                let Some(conn) = conn else { break };
                let Some((lane, bytes)) = conn.take(&mut self.rng) else {
                    break;
                };
                self.report.trace = mix(self.report.trace, &bytes);
                let json = self.clients[index].json;
                for frame in decode(&bytes, json)? {
                    if self.verbose {
                        eprintln!("{step} client {index} <- [{lane:?}] {:?}", frame.message);
                    }
                    let answers =
                        self.clients[index].on_frame((lane, frame), step, &mut self.ledger)?;
                    self.send(index, &answers);
                }
            }
            let closed = self.nodes[link.shard]
                .host
                .conns
                .get(&link.conn)
                .is_none_or(|c| c.closing.is_some() && c.drained());
            if closed {
                self.drop_link(index);
                return Ok(());
            }
            if !self.quiet && self.rng.chance(self.config.disconnect_per_mille) {
                self.drop_link(index);
                return Ok(());
            }
            let frames = if self.quiet {
                self.clients[index].act_quietly(step)
            } else {
                self.clients[index].act(&mut self.rng, step, &self.config)
            };
            self.send(index, &frames);
        } else if self.quiet || self.rng.chance(self.config.reconnect_per_mille) {
            let shard = self.rng.below(self.config.shards as u64) as usize;
            let encoding = if self.clients[index].json {
                Encoding::Json
            } else {
                Encoding::Binary
            };
            let conn = self.nodes[shard].connect(encoding);
            let hello = self.clients[index].connected(shard, conn);
            self.send(index, &[hello]);
        }
        Ok(())
    }

    /// Encodes `frames` the client's way and hands each to its shard as one WebSocket message.
    fn send(&mut self, index: usize, frames: &[OwnedFrame]) {
        let Some(link) = self.clients[index].link.clone() else {
            return;
        };
        for frame in frames {
            if self.verbose {
                eprintln!("{} client {index} -> {:?}", self.step, frame.message);
            }
            let mut bytes = Vec::new();
            if self.clients[index].json {
                encode_json(frame, &mut bytes);
            } else {
                self.encoder.encode(frame, &mut bytes);
            }
            self.nodes[link.shard].client_message(link.conn, &bytes, &mut self.net, &mut self.rng);
        }
    }

    /// The client's connection ends (its side or the server's).
    fn drop_link(&mut self, index: usize) {
        if let Some(link) = self.clients[index].link.clone() {
            if self.verbose {
                eprintln!("{} client {index} disconnects", self.step);
            }
            self.nodes[link.shard].disconnect(link.conn, &mut self.net, &mut self.rng);
            self.clients[index].disconnected(self.step);
            self.report.disconnects += 1;
        }
    }

    /// The whole process dies: unsynced log bytes are cut at random, rings and memory are lost, every
    /// client is disconnected; the node restarts from its logs.
    fn crash(&mut self) {
        self.report.crashes += 1;
        for storage in &self.storages {
            let rng = &mut self.rng;
            storage.crash(|_, synced, len| synced + rng.below(len - synced + 1));
        }
        self.net.clear();
        self.routing_overflow.iter_mut().for_each(VecDeque::clear);
        for client in &mut self.clients {
            if client.link.is_some() {
                client.disconnected(self.step);
                self.report.disconnects += 1;
            }
        }
        self.nodes = (0..self.config.shards)
            .map(|id| Node::open(id, &self.setup, self.storages[id].clone()))
            .collect::<Result<Vec<_>, _>>()
            .expect("a node recovers from what its logs hold");
        let (kb, model) = trained_brain().clone();
        self.routing = RoutingShard::with_brain(self.routing_config.clone(), kb, model)
            .expect("the routing shard restarts");
        self.next_routing_tick_ms = self.step * self.config.step_ms + ROUTING_TICK_MS;
        self.announce_recovered();
    }
}

#[cfg(test)]
mod tests;
