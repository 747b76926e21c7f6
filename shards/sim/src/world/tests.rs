//! Unit tests of the world's pieces: regressions found by the simulator, pinned on one shard.

use std::sync::Arc;

use switchboard_chat::ids::owner_of;
use switchboard_chat::messages::{Audience, Delivery, ShardMsg};
use switchboard_protocol::app::{Deliver, Message, MessageId, Resume, ResumePosition, SenderRole};

use super::*;

/// A conversation id owned by shard `owner` of `shards`.
fn owned_by(owner: usize, shards: usize) -> u64 {
    (1_000u64..)
        .find(|&id| owner_of(id, shards) == owner)
        .unwrap()
}

/// Found by the simulator (seed 94): a `resume` refused because the owner's ring was full left the
/// connection following the conversation as "replaying", so it skipped every live delivery of it
/// until it resumed again.
#[test]
fn a_resume_refused_for_a_full_ring_does_not_leave_the_connection_replaying() {
    let mut world = World::new(SimConfig::default(), 1).unwrap();
    let customer = &world.clients[0];
    let (user, token) = (customer.user, customer.token.clone());
    let conversation = owned_by(1, world.config.shards);
    // Rings of capacity zero: every push to another shard is refused.
    let mut full = Net::new(world.config.shards + 1, 0, 0);
    let mut rng = Rng::new(1);
    let node = &mut world.nodes[0];
    let conn = node.connect(Encoding::Json);
    let hello = format!(r#"{{"kind":"hello","protocol_version":1,"auth_token":"{token}"}}"#);
    node.client_message(conn, hello.as_bytes(), &mut full, &mut rng);
    let mut resume = Vec::new();
    encode_json(
        &OwnedFrame::new(Message::Resume(Resume {
            resume_token: String::new(),
            positions: vec![ResumePosition {
                conversation_id: conversation,
                last_sequence: 0,
            }],
        })),
        &mut resume,
    );
    node.client_message(conn, &resume, &mut full, &mut rng);
    let delivery = Delivery {
        tenant: TENANT,
        conversation,
        customer: user,
        agent: None,
        group: None,
        frame: OwnedFrame::new(Message::Deliver(Deliver {
            conversation_id: conversation,
            sequence: 1,
            message_id: MessageId([7; 16]),
            sender_id: 9,
            sender_role: SenderRole::AI,
            sent_at_ms: WALL_EPOCH_MS,
            text: "hello".into(),
        })),
        origin: None,
        received_us: 0,
        audience: Audience::All,
        interest_epoch: 1,
        queue_lane: None,
    };
    node.begin_step(1, 5, &mut full, &mut rng);
    let mut rings = full.sender(0, 1, &mut rng);
    node.core.ring_message(
        ShardMsg::Deliver(Arc::new(delivery)),
        &mut node.host,
        &mut rings,
    );
    let mut kinds = Vec::new();
    let c = node.host.conns.get_mut(&conn).unwrap();
    while let Some((_, bytes)) = c.take(&mut rng) {
        kinds.push(decode(&bytes, true).unwrap()[0].message.kind());
    }
    assert!(
        kinds.contains(&switchboard_protocol::app::Kind::Deliver),
        "the live delivery reaches the customer after the refused resume: {kinds:?}"
    );
    assert!(
        kinds.contains(&switchboard_protocol::app::Kind::Error),
        "{kinds:?}"
    );
}
