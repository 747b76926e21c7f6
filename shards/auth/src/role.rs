//! The roles a token can carry.

use std::fmt;
use std::str::FromStr;

/// Who a connected user is, as far as access rules are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// A customer (web widget, app): sees only its own conversations.
    Customer,
    /// A human agent (console): sees conversations assigned to it or to one of its groups.
    Agent,
    /// The bot (routing/AI shard): sees every conversation of its tenant.
    Bot,
    /// A tenant administrator: sees every conversation of its tenant.
    Admin,
}

impl Role {
    /// Every role, in wire-byte order.
    pub const ALL: [Role; 4] = [Role::Customer, Role::Agent, Role::Bot, Role::Admin];

    /// The byte that encodes this role in a token payload.
    pub fn wire_byte(self) -> u8 {
        match self {
            Role::Customer => 0,
            Role::Agent => 1,
            Role::Bot => 2,
            Role::Admin => 3,
        }
    }

    /// The role encoded by `byte`, `None` for an unknown byte.
    pub fn from_wire_byte(byte: u8) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.wire_byte() == byte)
    }

    /// The lower-case name used on the command line and in logs.
    pub fn name(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Agent => "agent",
            Role::Bot => "bot",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// The text was not one of `customer`, `agent`, `bot`, `admin`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role `{0}`: expected customer, agent, bot or admin")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(text: &str) -> Result<Role, UnknownRole> {
        Role::ALL
            .into_iter()
            .find(|role| role.name() == text)
            .ok_or_else(|| UnknownRole(text.to_owned()))
    }
}
