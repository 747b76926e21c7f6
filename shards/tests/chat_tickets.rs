//! Tickets end to end over real sockets (issue 16 finding 4): the bot opens a ticket, the agents of its
//! group get it on the urgent lane, an agent works it with `ticket` frames, the customer is told what
//! concerns it, and ids are never reused across a restart.

mod chat_support;

use chat_support::{data_dir, message_id, run, start, stop, token, until, Client};
use switchboard_protocol::app::{ErrorCode, Inbox, Lane, Message, Ticket, TicketStatus};
use switchboard_shards::auth::Role;
use switchboard_shards::config::ServeConfig;
use switchboard_shards::routing::shard::{RoutingShard, RoutingShardConfig};

const TENANT: u64 = 41;
const AGENT: u64 = 6161;
const OTHER_AGENT: u64 = 6262;

fn routed_config(dir: &std::path::Path) -> ServeConfig {
    chat_support::routed_config(1, dir).0
}

/// The id of the group that works `skill`, and one that does not.
fn groups_for(skill: &str) -> (u32, u32) {
    let shard = RoutingShard::new(RoutingShardConfig::default()).unwrap();
    let works = shard
        .groups()
        .iter()
        .find(|g| g.skills.iter().any(|s| s == skill))
        .expect("a group for the skill")
        .id;
    let other = shard
        .groups()
        .iter()
        .find(|g| g.id != works)
        .expect("another group")
        .id;
    (works, other)
}

async fn ticket(client: &mut Client) -> (Lane, Ticket) {
    for _ in 0..40 {
        let frame = client.next().await;
        if let Message::Ticket(ticket) = frame.message {
            return (frame.lane, ticket);
        }
    }
    panic!("no ticket frame");
}

async fn error_code(client: &mut Client) -> ErrorCode {
    until(client, |m| match m {
        Message::Error(e) => Some(e.code),
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

fn change(id: u64, conversation: u64, status: TicketStatus, note: &str) -> Message {
    Message::Ticket(Ticket {
        ticket_id: id,
        conversation_id: conversation,
        status,
        note: note.into(),
        ..Ticket::default()
    })
}

/// A refund request that the bot turns into a ticket; returns the conversation.
async fn ask_refund(customer: &mut Client, first_id: u64) -> u64 {
    customer
        .send(0, message_id(first_id), "我要退款,昨天买错了课程")
        .await;
    let Message::Ack(ack) = customer
        .take(|m| matches!(m, Message::Ack(_)))
        .await
        .message
    else {
        unreachable!()
    };
    let conversation = ack.conversation_id;
    customer
        .send(conversation, message_id(first_id + 1), "202403150001234567")
        .await;
    conversation
}

#[test]
fn tickets_reach_their_group_are_worked_by_agents_and_keep_their_ids_across_a_restart() {
    let dir = data_dir("tickets");
    let (billing, other_group) = groups_for("billing");
    let config = routed_config(&dir);
    let server = start(&config);
    let addr = server.local_addr();
    let (first_id, conversation) = run(async move {
        let mut agent = Client::connect(addr, &token(TENANT, AGENT, Role::Agent, &[billing])).await;
        let mut outsider = Client::connect(
            addr,
            &token(TENANT, OTHER_AGENT, Role::Agent, &[other_group]),
        )
        .await;
        inbox(&mut agent).await;
        let mut customer = Client::connect(addr, &token(TENANT, 1, Role::Customer, &[])).await;
        let conversation = ask_refund(&mut customer, 1).await;

        // The agent of the ticket's group gets it on the urgent lane; the customer is told in its words.
        let (lane, opened) = ticket(&mut agent).await;
        assert_eq!(lane, Lane::Urgent);
        assert_eq!(opened.status, TicketStatus::OPENED);
        assert_eq!(opened.subject, "refund");
        assert_eq!(opened.agent_group, billing.to_string());
        assert_eq!(opened.conversation_id, conversation);
        let (_, told) = ticket(&mut customer).await;
        assert_eq!(told.ticket_id, opened.ticket_id);
        assert!(told.note.contains("工单"), "{}", told.note);

        // Working it: take it, then resolve it. The customer hears about the resolution only.
        agent
            .send_frame(change(
                opened.ticket_id,
                conversation,
                TicketStatus::ASSIGNED,
                "on it",
            ))
            .await;
        let (_, taken) = ticket(&mut agent).await;
        assert_eq!(
            (taken.status, taken.agent_id),
            (TicketStatus::ASSIGNED, AGENT)
        );
        agent
            .send_frame(change(
                opened.ticket_id,
                conversation,
                TicketStatus::RESOLVED,
                "refunded",
            ))
            .await;
        let resolved = until(&mut agent, |m| match m {
            Message::Ticket(t) if t.status == TicketStatus::RESOLVED => Some(t),
            _ => None,
        })
        .await;
        assert_eq!(resolved.note, "refunded");
        let (_, told) = ticket(&mut customer).await;
        assert_eq!(told.status, TicketStatus::RESOLVED);

        // Refusals: the customer, an agent of another group, an unknown ticket, a bad status.
        customer
            .send_frame(change(
                opened.ticket_id,
                conversation,
                TicketStatus::CLOSED,
                "",
            ))
            .await;
        assert_eq!(error_code(&mut customer).await, ErrorCode::FORBIDDEN);
        outsider
            .send_frame(change(
                opened.ticket_id,
                conversation,
                TicketStatus::CLOSED,
                "",
            ))
            .await;
        assert_eq!(error_code(&mut outsider).await, ErrorCode::FORBIDDEN);
        agent
            .send_frame(change(
                opened.ticket_id + 1,
                conversation,
                TicketStatus::CLOSED,
                "",
            ))
            .await;
        assert_eq!(error_code(&mut agent).await, ErrorCode::NOT_FOUND);
        agent
            .send_frame(change(
                opened.ticket_id,
                conversation,
                TicketStatus::OPENED,
                "",
            ))
            .await;
        assert_eq!(error_code(&mut agent).await, ErrorCode::INVALID_STATE);
        (opened.ticket_id, conversation)
    });
    stop(server);

    // After a restart the ticket is still there, in the agent's inbox, and a new one gets a new id.
    let server = start(&config);
    let addr = server.local_addr();
    run(async move {
        let mut agent = Client::connect(addr, &token(TENANT, AGENT, Role::Agent, &[billing])).await;
        let after = inbox(&mut agent).await;
        let kept: Vec<_> = after
            .tickets
            .iter()
            .map(|t| (t.ticket_id, t.status))
            .collect();
        assert_eq!(kept, vec![(first_id, TicketStatus::RESOLVED)]);
        agent
            .send_frame(change(first_id, conversation, TicketStatus::CLOSED, "done"))
            .await;
        until(&mut agent, |m| match m {
            Message::Ticket(t) if t.status == TicketStatus::CLOSED => Some(()),
            _ => None,
        })
        .await;
        agent
            .send_frame(change(first_id, conversation, TicketStatus::PENDING, ""))
            .await;
        assert_eq!(error_code(&mut agent).await, ErrorCode::INVALID_STATE);
        agent.send_frame(Message::Inbox(Inbox::default())).await;
        assert!(
            inbox(&mut agent).await.tickets.is_empty(),
            "closed tickets leave the inbox"
        );

        let mut customer = Client::connect(addr, &token(TENANT, 2, Role::Customer, &[])).await;
        ask_refund(&mut customer, 10).await;
        let (_, second) = ticket(&mut agent).await;
        assert_ne!(second.ticket_id, first_id);
        assert!(second.ticket_id > first_id, "ids only grow");
    });
    stop(server);
    let _ = std::fs::remove_dir_all(dir);
}
