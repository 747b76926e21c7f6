//! Agent presence and the agent console's state over real sockets (issue 16 findings 2, 3 and 7): presence
//! follows the agent's connections, an agent chooses online or away with a `presence` frame and is told
//! its presence, a console gets its inbox right after `welcome` and on request, and customers get
//! customer-facing handoff text while agents get the bot's scores.

mod chat_support;

use chat_support::{data_dir, message_id, run, start, stop, token, until, Client};
use switchboard_protocol::app::{
    ConversationState, ErrorCode, Inbox, Message, Presence, PresenceState,
};
use switchboard_shards::auth::Role;
use switchboard_shards::server::Server;

const TENANT: u64 = 31;
const AGENT: u64 = 5151;

/// A 1-shard chat server with the routing shard on (one shard: the agent's close and a customer's
/// later message reach the routing shard in order over the same ring), and every group's id.
fn routed_server(dir: &std::path::Path) -> (Server, Vec<u32>) {
    let (config, groups) = chat_support::routed_config(1, dir);
    (start(&config), groups)
}

async fn presence(client: &mut Client) -> Presence {
    until(client, |m| match m {
        Message::Presence(p) => Some(p),
        _ => None,
    })
    .await
}

async fn inbox(client: &mut Client) -> Inbox {
    until(client, |m| match m {
        Message::Inbox(i) => Some(i),
        _ => None,
    })
    .await
}

/// The customer's first handoff: (agent id, reason).
async fn handoff(client: &mut Client) -> (u64, String) {
    until(client, |m| match m {
        Message::Handoff(h) => Some((h.agent_id, h.reason)),
        _ => None,
    })
    .await
}

#[test]
fn a_console_is_told_its_presence_and_inbox_and_a_closed_console_is_not_assigned() {
    let dir = data_dir("presence-close");
    let (server, groups) = routed_server(&dir);
    let addr = server.local_addr();
    run(async move {
        let agent_token = token(TENANT, AGENT, Role::Agent, &groups);
        let mut agent = Client::connect(addr, &agent_token).await;
        let told = presence(&mut agent).await;
        assert_eq!(
            (told.user_id, told.presence, told.reason.as_str()),
            (AGENT, PresenceState::ONLINE, "connected")
        );
        let empty = inbox(&mut agent).await;
        assert_eq!(empty.agent_id, AGENT);
        assert!(empty.assigned.is_empty() && empty.queued.is_empty());
        // The console closes. Before the fix the agent stayed online and was assigned what came next.
        agent.close().await;

        let mut customer = Client::connect(addr, &token(TENANT, 1, Role::Customer, &[])).await;
        customer.send(0, message_id(1), "转人工").await;
        let (agent_id, reason) = handoff(&mut customer).await;
        assert_eq!(agent_id, 0, "queued, not given to the agent who left");
        // Customer-facing text, in the customer's language, never the bot's scores.
        assert!(
            !reason.contains("intent") && !reason.contains("sentiment"),
            "{reason}"
        );
        assert!(reason.contains("人工"), "{reason}");
        assert!(
            reason.contains("第 1 位"),
            "the customer is told its place in the queue: {reason}"
        );

        // The agent comes back: its inbox lists the waiting conversation, then it is assigned.
        let mut agent = Client::connect(addr, &agent_token).await;
        assert_eq!(presence(&mut agent).await.presence, PresenceState::ONLINE);
        let after = inbox(&mut agent).await;
        let (agent_id, summary) = handoff(&mut agent).await;
        assert_eq!(agent_id, AGENT);
        assert!(
            summary.contains("intent"),
            "agents get the summary: {summary}"
        );
        let waiting: Vec<_> = after.queued.iter().chain(&after.assigned).collect();
        assert_eq!(waiting.len(), 1, "{after:?}");
        assert_eq!(waiting[0].customer_id, 1);
        assert!(waiting[0].last_sequence >= 1 && waiting[0].unread >= 1);
        assert_eq!(handoff(&mut customer).await.0, AGENT);

        // Asked again, the inbox shows it assigned.
        agent.send_frame(Message::Inbox(Inbox::default())).await;
        let now = inbox(&mut agent).await;
        assert_eq!(now.assigned.len(), 1);
        assert_eq!(now.assigned[0].state, ConversationState::ASSIGNED);
        assert_eq!(now.assigned[0].position, 0);
    });
    stop(server);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_agent_away_is_not_assigned_until_it_chooses_online() {
    let dir = data_dir("presence-away");
    let (server, groups) = routed_server(&dir);
    let addr = server.local_addr();
    run(async move {
        let mut agent = Client::connect(addr, &token(TENANT, AGENT, Role::Agent, &groups)).await;
        presence(&mut agent).await;
        agent
            .send_frame(Message::Presence(Presence {
                presence: PresenceState::AWAY,
                ..Presence::default()
            }))
            .await;
        let told = presence(&mut agent).await;
        assert_eq!(
            (told.presence, told.reason.as_str()),
            (PresenceState::AWAY, "chosen")
        );
        let mut customer = Client::connect(addr, &token(TENANT, 2, Role::Customer, &[])).await;
        customer.send(0, message_id(2), "转人工").await;
        assert_eq!(
            handoff(&mut customer).await.0,
            0,
            "away agents take nothing new"
        );
        agent
            .send_frame(Message::Presence(Presence {
                presence: PresenceState::ONLINE,
                ..Presence::default()
            }))
            .await;
        assert_eq!(handoff(&mut agent).await.0, AGENT);
        assert_eq!(handoff(&mut customer).await.0, AGENT);
        // Unknown presence values are refused; customers have no presence and no inbox.
        agent
            .send_frame(Message::Presence(Presence {
                presence: PresenceState(9),
                ..Presence::default()
            }))
            .await;
        let code = until(&mut agent, |m| match m {
            Message::Error(e) => Some(e.code),
            _ => None,
        })
        .await;
        assert_eq!(code, ErrorCode::INVALID_STATE);
        for message in [
            Message::Presence(Presence::default()),
            Message::Inbox(Inbox::default()),
        ] {
            customer.send_frame(message).await;
            let code = until(&mut customer, |m| match m {
                Message::Error(e) => Some(e.code),
                _ => None,
            })
            .await;
            assert_eq!(code, ErrorCode::FORBIDDEN);
        }
    });
    stop(server);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_agent_of_unknown_groups_is_told_why_it_gets_nothing() {
    let dir = data_dir("presence-groups");
    let (server, _) = routed_server(&dir);
    let addr = server.local_addr();
    run(async move {
        let mut agent = Client::connect(addr, &token(TENANT, AGENT, Role::Agent, &[999])).await;
        let message = until(&mut agent, |m| match m {
            Message::Error(e) if e.code == ErrorCode::INVALID_STATE => Some(e.message),
            _ => None,
        })
        .await;
        assert!(
            message.contains("999") && message.contains("known groups"),
            "{message}"
        );
    });
    stop(server);
    let _ = std::fs::remove_dir_all(dir);
}
