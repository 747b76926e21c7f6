//! The routing shard's configuration, its bounds and its answers to inconsistent input.

use switchboard_core::engine::ConnId;
use switchboard_shards::routing::agents::Presence;
use switchboard_shards::routing::events::TransferTarget;
use switchboard_shards::routing::hybrid::AnyBrain;
use switchboard_shards::routing::kb::KnowledgeBase;
use switchboard_shards::routing::ngram::{NgramBrain, TrainConfig};
use switchboard_shards::routing::router::RouterError;
use switchboard_shards::routing::shard::ConsoleRef;
use switchboard_shards::routing::shard::{
    RoutingInput, RoutingShard, RoutingShardConfig, RoutingShardError,
};

/// Trains once per test binary; each shard gets a clone.
fn shard(config: RoutingShardConfig) -> RoutingShard {
    static TRAINED: std::sync::OnceLock<(KnowledgeBase, NgramBrain)> = std::sync::OnceLock::new();
    let (kb, brain) = TRAINED
        .get_or_init(|| {
            let kb = KnowledgeBase::builtin().expect("KB");
            let brain = NgramBrain::train(&kb, &TrainConfig::default()).expect("train");
            (kb, brain)
        })
        .clone();
    RoutingShard::with_brain(config, kb, AnyBrain::Ngram(brain)).expect("valid config")
}

#[test]
fn the_tenant_count_is_bounded() {
    let mut config = RoutingShardConfig::default();
    config.limits.tenants_max = 1;
    let mut s = shard(config);
    let first = RoutingInput::CustomerMessage {
        tenant: 1,
        conversation: 1,
        customer: 1,
        sequence: 1,
        text: "转人工".into(),
        customer_value: 0.5,
        raw: None,
    };
    s.handle(0, first).expect("first tenant accepted");
    let input = RoutingInput::CustomerMessage {
        tenant: 2,
        conversation: 2,
        customer: 2,
        sequence: 1,
        text: "转人工".into(),
        customer_value: 0.5,
        raw: None,
    };
    assert_eq!(
        s.handle(0, input),
        Err(RoutingShardError::TooManyTenants { tenant: 2, max: 1 })
    );
    let general = s.default_group();
    let agent = RoutingInput::AgentOnline {
        tenant: 3,
        agent: 1,
        groups: vec![general],
        shard: 0,
        console: ConsoleRef {
            shard: 0,
            conn: ConnId::new(0, 0),
        },
    };
    assert!(matches!(
        s.handle(0, agent),
        Err(RoutingShardError::TooManyTenants { .. })
    ));
    assert_eq!(s.tenants(), 1);
    assert_eq!(s.counters().inputs_refused, 2);
    s.invariants();
}

#[test]
fn inconsistent_inputs_are_refused_or_ignored_never_panic() {
    let mut s = shard(RoutingShardConfig::default());
    let inputs = [
        RoutingInput::AgentOffline {
            tenant: 9,
            agent: 1,
            shard: 0,
        },
        RoutingInput::ConversationResolved {
            tenant: 9,
            conversation: 1,
        },
        RoutingInput::AgentSetPresence {
            tenant: 9,
            agent: 1,
            presence: Presence::Away,
        },
        RoutingInput::AgentReplied {
            tenant: 9,
            agent: 1,
            conversation: 1,
        },
        RoutingInput::Transfer {
            tenant: 9,
            conversation: 1,
            target: TransferTarget::Agent(3),
        },
        RoutingInput::AgentOnline {
            tenant: 9,
            agent: 1,
            groups: vec![999],
            shard: 0,
            console: ConsoleRef {
                shard: 0,
                conn: ConnId::new(0, 0),
            },
        },
        RoutingInput::CustomerMessage {
            tenant: 9,
            conversation: 1,
            customer: 1,
            sequence: 0,
            text: String::new(),
            customer_value: f32::NAN,
            raw: None,
        },
        RoutingInput::CustomerMessage {
            tenant: 9,
            conversation: 2,
            customer: 1,
            sequence: 0,
            text: "退款".repeat(10_000),
            customer_value: 7.0,
            raw: None,
        },
        RoutingInput::Tick,
        // Tenant 9 now exists (conversation 1 was handed over), conversation 77 still does not.
        RoutingInput::Transfer {
            tenant: 9,
            conversation: 77,
            target: TransferTarget::Group(1),
        },
        RoutingInput::AgentReplied {
            tenant: 9,
            agent: 1,
            conversation: 1,
        },
    ];
    let mut errors = Vec::new();
    for input in inputs {
        if let Err(e) = s.handle(5, input) {
            errors.push(e);
        }
        s.invariants();
    }
    assert!(errors.contains(&RoutingShardError::UnknownAgent {
        tenant: 9,
        agent: 1
    }));
    assert!(errors.contains(&RoutingShardError::NoKnownGroup { agent: 1 }));
    assert!(errors.contains(&RoutingShardError::UnknownTenant(9)));
    assert!(errors.contains(&RoutingShardError::Router {
        tenant: 9,
        error: RouterError::UnknownConversation(77)
    }));
    assert!(errors.contains(&RoutingShardError::Router {
        tenant: 9,
        error: RouterError::NotAssigned {
            agent: 1,
            conversation: 1
        }
    }));
    assert!(s.is_with_humans(1));
    assert_eq!(s.counters().inputs_refused, errors.len() as u64);
    assert_eq!(s.counters().inputs_ignored, 2);
    assert_eq!(s.counters().agent_groups_unknown, 1);
}

#[test]
fn config_parses_with_defaults_and_names_bad_fields() {
    let config = RoutingShardConfig::from_toml("").expect("empty is fine");
    assert_eq!(config, RoutingShardConfig::default());
    assert_eq!(config.dialogue.confidence_threshold, None);
    assert!(RoutingShardConfig::from_toml("bogus = 1").is_err());
    assert!(RoutingShardConfig::from_toml("[router]\nsed = 1").is_err());
    let config = RoutingShardConfig::from_toml("[agents]\ncapacity = 0").expect("parses");
    assert_eq!(
        config.validate(),
        Err(RoutingShardError::Config {
            field: "agents.capacity",
            allowed: "in 1..=1000"
        })
    );
    let config = RoutingShardConfig::from_toml("default_group = 99").expect("parses");
    let (kb, brain) = (
        KnowledgeBase::builtin().expect("KB"),
        NgramBrain::train(
            &KnowledgeBase::builtin().expect("KB"),
            &TrainConfig::default(),
        )
        .expect("train"),
    );
    assert!(matches!(
        RoutingShard::with_brain(config, kb, brain),
        Err(RoutingShardError::Config {
            field: "default_group",
            ..
        })
    ));
    // The example is a `[routing]` section of the server's configuration, loadable as written.
    let example = include_str!("../routing.example.toml");
    let serve = switchboard_shards::config::ServeConfig::from_toml_str(example)
        .expect("the example loads as a server configuration");
    let config = serve.routing;
    config.validate().expect("example is valid");
    assert_eq!(config.default_group, Some(6));
    let s = shard(config);
    assert!(s.groups().iter().any(|g| g.skills.len() > 1));
}

#[test]
fn default_groups_cover_every_knowledge_base_skill() {
    let s = shard(RoutingShardConfig::default());
    let kb = KnowledgeBase::builtin().expect("KB");
    for intent in &kb.intents {
        assert!(
            s.groups().iter().any(|g| g.skills.contains(&intent.skill)),
            "{}",
            intent.skill
        );
    }
    let general = s
        .groups()
        .iter()
        .find(|g| g.id == s.default_group())
        .expect("default group");
    assert_eq!(general.skills, ["general"]);
}
