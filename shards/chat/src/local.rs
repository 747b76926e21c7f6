//! [`LocalIndex`]: which of this shard's connections follow which conversations, and which connections
//! belong to which user.
//!
//! A follower is `live` (gets deliveries) or `replaying` (a `resume` is on its way to the owner: deliveries
//! that arrive meanwhile are already part of the replay, so they are skipped; the owner's reply, which
//! comes after them on the same FIFO ring, makes the follower live). A delivery also reaches the
//! conversation's participants (its customer, its agent) on this shard even before they follow it, and
//! makes them follow: that is how a second device and a newly assigned agent start receiving.

use std::collections::HashMap;

use switchboard_core::engine::ConnId;

use super::messages::Delivery;

/// One connection following a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Follower {
    conn: ConnId,
    live: bool,
}

/// The shard's follower and user indexes.
#[derive(Debug, Default)]
pub struct LocalIndex {
    followers: HashMap<u64, Vec<Follower>>,
    users: HashMap<(u64, u64), Vec<ConnId>>,
}

impl LocalIndex {
    /// Registers an authenticated connection of `user` in `tenant`.
    pub fn add_user(&mut self, tenant: u64, user: u64, conn: ConnId) {
        let conns = self.users.entry((tenant, user)).or_default();
        if !conns.contains(&conn) {
            conns.push(conn);
        }
    }

    /// The connections of `user` in `tenant` on this shard.
    pub fn user_connections(&self, tenant: u64, user: u64) -> impl Iterator<Item = ConnId> + '_ {
        self.users
            .get(&(tenant, user))
            .into_iter()
            .flatten()
            .copied()
    }

    /// Forgets a connection of `user`; returns how many connections the user still has here.
    pub fn remove_user(&mut self, tenant: u64, user: u64, conn: ConnId) -> usize {
        let Some(conns) = self.users.get_mut(&(tenant, user)) else {
            return 0;
        };
        conns.retain(|&c| c != conn);
        let left = conns.len();
        if left == 0 {
            self.users.remove(&(tenant, user));
        }
        left
    }

    /// Makes `conn` follow `conversation`: live at once, or replaying until [`LocalIndex::set_live`].
    /// A connection already following keeps a replaying state until its replay arrives.
    pub fn follow(&mut self, conversation: u64, conn: ConnId, live: bool) {
        let followers = self.followers.entry(conversation).or_default();
        match followers.iter_mut().find(|f| f.conn == conn) {
            Some(follower) => follower.live &= live,
            None => followers.push(Follower { conn, live }),
        }
    }

    /// The replay for `conn` arrived: it gets live deliveries from now on.
    pub fn set_live(&mut self, conversation: u64, conn: ConnId) {
        if let Some(follower) = self
            .followers
            .get_mut(&conversation)
            .and_then(|followers| followers.iter_mut().find(|f| f.conn == conn))
        {
            follower.live = true;
        }
    }

    /// Stops `conn` following `conversation`. Returns `true` when no connection here follows it any more.
    pub fn unfollow(&mut self, conversation: u64, conn: ConnId) -> bool {
        let Some(followers) = self.followers.get_mut(&conversation) else {
            return false;
        };
        followers.retain(|f| f.conn != conn);
        if followers.is_empty() {
            self.followers.remove(&conversation);
            return true;
        }
        false
    }

    /// Whether any connection here follows `conversation`.
    pub fn is_followed(&self, conversation: u64) -> bool {
        self.followers.contains_key(&conversation)
    }

    /// The connections that get `delivery`, appended to `out`; participants not yet following start to,
    /// and are appended to `joined` as well (their sessions must learn they follow the conversation).
    pub fn targets(
        &mut self,
        delivery: &Delivery,
        shard: usize,
        out: &mut Vec<ConnId>,
        joined: &mut Vec<ConnId>,
    ) {
        let origin = delivery
            .origin
            .filter(|origin| origin.shard == shard)
            .map(|origin| origin.conn);
        let participants = [Some(delivery.customer), delivery.agent];
        for user in participants.into_iter().flatten() {
            if let Some(conns) = self.users.get(&(delivery.tenant, user)) {
                let followers = self.followers.entry(delivery.conversation).or_default();
                for &conn in conns {
                    if !followers.iter().any(|f| f.conn == conn) {
                        followers.push(Follower { conn, live: true });
                        joined.push(conn);
                    }
                }
            }
        }
        // A follower whose replay is still on its way gets no `deliver` (the replay carries it, in
        // order), but gets everything that is not replayed: typing, receipts, handoffs, tickets, state.
        let sequenced = matches!(
            delivery.frame.message,
            switchboard_protocol::app::Message::Deliver(_)
        );
        if let Some(followers) = self.followers.get(&delivery.conversation) {
            out.extend(
                followers
                    .iter()
                    .filter(|f| (f.live || !sequenced) && Some(f.conn) != origin)
                    .map(|f| f.conn),
            );
        }
    }

    /// Conversations followed here (metrics).
    pub fn conversations_followed(&self) -> usize {
        self.followers.len()
    }
}

#[cfg(test)]
mod tests {
    use switchboard_core::engine::ConnId;
    use switchboard_protocol::app::{Deliver, Message, OwnedFrame, Typing};

    use super::*;
    use crate::messages::Audience;

    fn delivery(message: Message) -> Delivery {
        Delivery {
            tenant: 1,
            conversation: 9,
            customer: 7,
            agent: None,
            group: None,
            frame: OwnedFrame::new(message),
            origin: None,
            received_us: 0,
            audience: Audience::All,
            interest_epoch: 0,
            queue_lane: None,
        }
    }

    /// A console that sent `resume` (a replay on its way) still sees the other side typing; the
    /// replay, not the live path, brings it the messages.
    #[test]
    fn a_replaying_follower_gets_ephemeral_frames_but_no_deliver() {
        let mut index = LocalIndex::default();
        let conn = ConnId::new(4, 0);
        index.follow(9, conn, false);
        let (mut out, mut joined) = (Vec::new(), Vec::new());
        let typing = delivery(Message::Typing(Typing {
            conversation_id: 9,
            user_id: 7,
            active: true,
        }));
        index.targets(&typing, 0, &mut out, &mut joined);
        assert_eq!(out, vec![conn]);
        out.clear();
        let deliver = delivery(Message::Deliver(Deliver::default()));
        index.targets(&deliver, 0, &mut out, &mut joined);
        assert!(out.is_empty());
        index.set_live(9, conn);
        index.targets(&deliver, 0, &mut out, &mut joined);
        assert_eq!(out, vec![conn]);
    }
}
