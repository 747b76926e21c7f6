//! The access rules, as one pure function over a verified identity and the facts of a conversation.
//!
//! | role | may read / write | may manage (assign, transfer, resolve) |
//! |---|---|---|
//! | customer | its own conversations (it is the conversation's customer) | never |
//! | agent | conversations assigned to it, or queued/assigned to one of its groups | the same |
//! | bot, admin | every conversation of its tenant | the same |
//!
//! Tenants never see each other: the tenant check comes first and no role overrides it.

use switchboard_protocol::app::ErrorCode;

use super::claims::Claims;
use super::role::Role;

/// What the principal wants to do with a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read messages: subscribe, resume, history.
    Read,
    /// Post a message, a read receipt or a typing indicator.
    Write,
    /// Change the conversation itself: assign, transfer, resolve.
    Manage,
}

/// What the owner shard knows about a conversation, as far as access is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConversationFacts {
    /// The tenant the conversation belongs to.
    pub tenant: u64,
    /// The customer who opened it.
    pub customer: u64,
    /// The agent it is assigned to, if any.
    pub assigned_agent: Option<u64>,
    /// The agent group it is queued to or assigned through, if any.
    pub group: Option<u32>,
}

/// Why an authenticated principal was refused. The peer's fault; becomes an `error` frame with code
/// `forbidden` ([`Denied::error_code`]) and the connection stays open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// The conversation belongs to another tenant (whatever the role).
    #[error("conversation belongs to another tenant")]
    OtherTenant,
    /// A customer asked for a conversation of another customer.
    #[error("not this customer's conversation")]
    NotOwnConversation,
    /// An agent asked for a conversation assigned neither to it nor to one of its groups.
    #[error("conversation not assigned to this agent or its groups")]
    NotAssigned,
    /// A customer tried to assign, transfer or resolve.
    #[error("customers cannot manage conversations")]
    CustomerCannotManage,
}

impl Denied {
    /// The protocol error code sent for this refusal: always `forbidden`.
    pub fn error_code(self) -> ErrorCode {
        ErrorCode::FORBIDDEN
    }

    /// A short, stable label for counters and logs, e.g. `"other_tenant"`.
    pub fn label(self) -> &'static str {
        match self {
            Denied::OtherTenant => "other_tenant",
            Denied::NotOwnConversation => "not_own_conversation",
            Denied::NotAssigned => "not_assigned",
            Denied::CustomerCannotManage => "customer_cannot_manage",
        }
    }
}

/// Decides whether `principal` may do `action` on the conversation described by `facts`.
///
/// # Errors
///
/// The [`Denied`] reason; the tenant check is made first.
pub fn authorize(
    principal: &Claims,
    action: Action,
    facts: &ConversationFacts,
) -> Result<(), Denied> {
    if principal.tenant != facts.tenant {
        return Err(Denied::OtherTenant);
    }
    match principal.role {
        Role::Customer => {
            if facts.customer != principal.user {
                Err(Denied::NotOwnConversation)
            } else if action == Action::Manage {
                Err(Denied::CustomerCannotManage)
            } else {
                Ok(())
            }
        }
        Role::Agent => {
            let assigned = facts.assigned_agent == Some(principal.user);
            let in_group = facts
                .group
                .is_some_and(|group| principal.groups.contains(&group));
            if assigned || in_group {
                Ok(())
            } else {
                Err(Denied::NotAssigned)
            }
        }
        Role::Bot | Role::Admin => Ok(()),
    }
}
