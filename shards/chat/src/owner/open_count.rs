//! [`OpenCount`]: how many conversations each customer and each tenant has open (not resolved) on this
//! owner, for `chat.customer_open_conversations_max` and `chat.tenant_open_conversations_max`.
//!
//! Before these quotas one customer opened 13,800 conversations a second, each queued for a human and
//! held in memory, until the shard's table was full and every other customer got `overloaded`.

use std::collections::HashMap;

use crate::config::ChatConfig;
use crate::conversation::{Conversation, ConversationState};

/// Open conversations by customer and by tenant; entries at zero are removed.
#[derive(Debug, Default)]
pub(super) struct OpenCount {
    customers: HashMap<(u64, u64), u64>,
    tenants: HashMap<u64, u64>,
}

impl OpenCount {
    /// Counts the open ones among recovered `conversations`.
    pub(super) fn of<'a>(conversations: impl Iterator<Item = &'a Conversation>) -> Self {
        let mut count = OpenCount::default();
        for conversation in conversations {
            if conversation.state != ConversationState::Resolved {
                count.opened(conversation.tenant, conversation.customer);
            }
        }
        count
    }

    /// Whether `customer` of `tenant` may open (or re-open) one more.
    pub(super) fn allows(&self, tenant: u64, customer: u64, config: &ChatConfig) -> bool {
        let customer_open = self
            .customers
            .get(&(tenant, customer))
            .copied()
            .unwrap_or(0);
        let tenant_open = self.tenants.get(&tenant).copied().unwrap_or(0);
        customer_open < config.customer_open_conversations_max
            && tenant_open < config.tenant_open_conversations_max
    }

    /// A conversation of `customer` in `tenant` opened or re-opened.
    pub(super) fn opened(&mut self, tenant: u64, customer: u64) {
        *self.customers.entry((tenant, customer)).or_default() += 1;
        *self.tenants.entry(tenant).or_default() += 1;
    }

    /// A conversation of `customer` in `tenant` was resolved.
    pub(super) fn resolved(&mut self, tenant: u64, customer: u64) {
        decrement(&mut self.customers, (tenant, customer));
        decrement(&mut self.tenants, tenant);
    }

    /// Follows a state change from `before` to `after` of a conversation of `customer` in `tenant`.
    pub(super) fn changed(
        &mut self,
        tenant: u64,
        customer: u64,
        before: ConversationState,
        after: ConversationState,
    ) {
        let resolved = ConversationState::Resolved;
        match (before == resolved, after == resolved) {
            (false, true) => self.resolved(tenant, customer),
            (true, false) => self.opened(tenant, customer),
            _ => {}
        }
    }
}

fn decrement<K: std::hash::Hash + Eq>(map: &mut HashMap<K, u64>, key: K) {
    if let Some(count) = map.get_mut(&key) {
        *count -= 1;
        if *count == 0 {
            map.remove(&key);
        }
    } else {
        debug_assert!(false, "resolved a conversation that was not counted open");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_resolution_and_reopening() {
        let config = ChatConfig {
            customer_open_conversations_max: 2,
            tenant_open_conversations_max: 3,
            ..ChatConfig::default()
        };
        let mut count = OpenCount::default();
        count.opened(1, 10);
        count.opened(1, 10);
        assert!(!count.allows(1, 10, &config), "customer at its bound");
        assert!(count.allows(1, 11, &config));
        count.opened(1, 11);
        assert!(!count.allows(1, 12, &config), "tenant at its bound");
        assert!(
            count.allows(2, 10, &config),
            "other tenants are not affected"
        );
        let (open, resolved) = (ConversationState::Queued, ConversationState::Resolved);
        count.changed(1, 10, open, resolved);
        assert!(count.allows(1, 10, &config));
        count.changed(1, 10, resolved, ConversationState::Bot);
        assert!(!count.allows(1, 10, &config));
        count.changed(1, 10, open, ConversationState::Assigned);
        assert!(
            !count.allows(1, 10, &config),
            "open to open changes nothing"
        );
    }
}
