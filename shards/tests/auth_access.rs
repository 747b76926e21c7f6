//! Every access rule of `authorize`, including cross-tenant denial for every role.

use switchboard_protocol::app::ErrorCode;
use switchboard_shards::auth::{authorize, Action, Claims, ConversationFacts, Denied, Role};

const ACTIONS: [Action; 3] = [Action::Read, Action::Write, Action::Manage];

fn principal(role: Role, user: u64, groups: &[u32]) -> Claims {
    Claims {
        key_id: "k".into(),
        tenant: 7,
        user,
        role,
        groups: groups.to_vec(),
        value_percent: None,
        issued_at_s: 0,
        expires_at_s: 100,
    }
}

fn conversation() -> ConversationFacts {
    ConversationFacts {
        tenant: 7,
        customer: 100,
        assigned_agent: Some(200),
        group: Some(5),
    }
}

#[test]
fn customer_reads_and_writes_only_its_own_conversation() {
    let own = principal(Role::Customer, 100, &[]);
    let other = principal(Role::Customer, 101, &[]);
    for action in [Action::Read, Action::Write] {
        assert_eq!(authorize(&own, action, &conversation()), Ok(()));
        assert_eq!(
            authorize(&other, action, &conversation()),
            Err(Denied::NotOwnConversation)
        );
    }
    assert_eq!(
        authorize(&own, Action::Manage, &conversation()),
        Err(Denied::CustomerCannotManage)
    );
}

#[test]
fn agent_sees_conversations_assigned_to_it_or_its_groups() {
    let assigned = principal(Role::Agent, 200, &[]);
    let in_group = principal(Role::Agent, 201, &[4, 5]);
    let outsider = principal(Role::Agent, 202, &[4, 6]);
    let queued = ConversationFacts {
        assigned_agent: None,
        ..conversation()
    };
    let ungrouped = ConversationFacts {
        group: None,
        ..conversation()
    };
    for action in ACTIONS {
        assert_eq!(authorize(&assigned, action, &conversation()), Ok(()));
        assert_eq!(authorize(&assigned, action, &ungrouped), Ok(()));
        assert_eq!(authorize(&in_group, action, &conversation()), Ok(()));
        assert_eq!(authorize(&in_group, action, &queued), Ok(()));
        assert_eq!(
            authorize(&in_group, action, &ungrouped),
            Err(Denied::NotAssigned)
        );
        assert_eq!(
            authorize(&outsider, action, &conversation()),
            Err(Denied::NotAssigned)
        );
        assert_eq!(
            authorize(&assigned, action, &queued),
            Err(Denied::NotAssigned)
        );
    }
}

#[test]
fn bot_and_admin_see_everything_in_their_tenant() {
    for role in [Role::Bot, Role::Admin] {
        let who = principal(role, 1, &[]);
        for action in ACTIONS {
            assert_eq!(authorize(&who, action, &conversation()), Ok(()));
        }
    }
}

#[test]
fn tenants_never_see_each_other_whatever_the_role() {
    let foreign = ConversationFacts {
        tenant: 8,
        ..conversation()
    };
    for role in Role::ALL {
        // Even the very user the foreign conversation names, assigned and in its group.
        let user = if role == Role::Customer { 100 } else { 200 };
        let who = principal(role, user, if role == Role::Agent { &[5] } else { &[] });
        for action in ACTIONS {
            assert_eq!(
                authorize(&who, action, &foreign),
                Err(Denied::OtherTenant),
                "{role}"
            );
        }
    }
}

#[test]
fn every_refusal_maps_to_forbidden() {
    for denied in [
        Denied::OtherTenant,
        Denied::NotOwnConversation,
        Denied::NotAssigned,
        Denied::CustomerCannotManage,
    ] {
        assert_eq!(denied.error_code(), ErrorCode::FORBIDDEN);
        assert!(!denied.label().is_empty());
    }
}
