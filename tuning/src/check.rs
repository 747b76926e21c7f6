//! `tune check`: compare a profile and the server's needs with the current system.

use crate::limits::ProcessLimits;
use crate::needs::{Engine, ServerNeeds};
use crate::rules::{self, Comparison, Importance};
use crate::sysctl_file::{SysctlSetting, SysctlValue};
use crate::tree::SysctlTree;

/// One value to check: a key, the value wanted, and how to judge it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The dotted sysctl key.
    pub key: String,
    /// The recommended value (the profile's, raised to what the server needs).
    pub value: SysctlValue,
    /// How the current value is judged.
    pub comparison: Comparison,
    /// Whether a shortfall fails the check.
    pub importance: Importance,
    /// What the server's configuration needs, when known: a required key fails the check only below
    /// this (a gap to a stricter profile value is then reported but not fatal).
    pub needed: Option<(Comparison, SysctlValue)>,
    /// What a shortfall costs.
    pub consequence: String,
    /// What it means when the key does not exist.
    pub absent_meaning: String,
}

/// The verdict on one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// The current value satisfies the requirement.
    Ok,
    /// The current value falls short.
    Short,
    /// The key does not exist here; the text says what that means.
    Absent(String),
    /// The key exists but could not be read or compared; the text says why.
    Unknown(String),
}

impl Status {
    /// A one-word form for tables.
    pub fn word(&self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Short => "short",
            Status::Absent(_) => "absent",
            Status::Unknown(_) => "unknown",
        }
    }
}

/// One row of the check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The sysctl key, or `RLIMIT_NOFILE` / `RLIMIT_MEMLOCK`.
    pub key: String,
    /// The current value as shown, `None` when absent or unreadable.
    pub current: Option<String>,
    /// The recommendation as shown, with its comparison (e.g. `>= 65535`).
    pub recommended: String,
    /// The verdict.
    pub status: Status,
    /// Whether a shortfall fails the check.
    pub importance: Importance,
    /// Whether the current value meets the server's own need (`None`: need unknown or not comparable).
    pub need_met: Option<bool>,
    /// What a shortfall costs, or what absence means.
    pub consequence: String,
    /// How to raise it.
    pub remedy: String,
}

impl Finding {
    /// Whether this row makes `tune check` exit 1.
    pub fn fails_check(&self) -> bool {
        let short = match self.need_met {
            Some(met) => !met,
            None => self.status == Status::Short,
        };
        short && self.importance == Importance::Required
    }
}

/// The requirements of a profile, raised to `needs` when given; keys the needs add are appended.
pub fn requirements(settings: &[SysctlSetting], needs: Option<&ServerNeeds>) -> Vec<Requirement> {
    let mut list: Vec<Requirement> = settings
        .iter()
        .map(|s| requirement(&s.key, s.value.clone()))
        .collect();
    for (key, comparison, needed) in needs.map(ServerNeeds::sysctl_needs).unwrap_or_default() {
        let wanted = SysctlValue::from_numbers(&[needed]);
        match list.iter_mut().find(|requirement| requirement.key == key) {
            Some(existing) => {
                let profile_value = existing.value.numbers().and_then(|n| n.first().copied());
                // Keep the profile's value when it is already stricter than what the server needs.
                let keep = profile_value.is_some_and(|value| match comparison {
                    Comparison::AtMost => value <= needed,
                    _ => value >= needed,
                });
                if !keep {
                    existing.value = wanted.clone();
                    existing.comparison = comparison;
                }
                existing.importance = Importance::Required;
                existing.needed = Some((comparison, wanted));
            }
            None => list.push(Requirement {
                comparison,
                importance: Importance::Required,
                needed: Some((comparison, wanted.clone())),
                ..requirement(key, wanted)
            }),
        }
    }
    list
}

fn requirement(key: &str, value: SysctlValue) -> Requirement {
    match rules::find(key) {
        Some(rule) => Requirement {
            key: key.to_string(),
            value,
            comparison: rule.comparison,
            importance: rule.importance,
            needed: None,
            consequence: rule.consequence.to_string(),
            absent_meaning: rule.absent_meaning.to_string(),
        },
        None => Requirement {
            key: key.to_string(),
            value,
            comparison: Comparison::Exact,
            importance: Importance::Advisory,
            needed: None,
            consequence: "differs from the profile".to_string(),
            absent_meaning: "kernel lacks this setting".to_string(),
        },
    }
}

/// Evaluates every requirement against `tree`. Absent and unreadable keys are rows, not errors.
pub fn evaluate(requirements: &[Requirement], tree: &dyn SysctlTree) -> Vec<Finding> {
    requirements
        .iter()
        .map(|requirement| evaluate_one(requirement, tree))
        .collect()
}

fn evaluate_one(requirement: &Requirement, tree: &dyn SysctlTree) -> Finding {
    let (current, status, need_met) = match tree.read(&requirement.key) {
        Ok(None) => (
            None,
            Status::Absent(requirement.absent_meaning.clone()),
            None,
        ),
        Err(error) => (None, Status::Unknown(error.to_string()), None),
        Ok(Some(raw)) => {
            let value = SysctlValue::new(&raw);
            let status = match requirement.comparison.is_met(&value, &requirement.value) {
                Ok(true) => Status::Ok,
                Ok(false) => Status::Short,
                Err(error) => Status::Unknown(format!("cannot compare: {error}")),
            };
            let need_met = requirement
                .needed
                .as_ref()
                .and_then(|(comparison, needed)| comparison.is_met(&value, needed).ok());
            (Some(value.display()), status, need_met)
        }
    };
    let mut recommended = format!("{} {}", requirement.comparison.symbol(), requirement.value);
    if let Some((comparison, needed)) = requirement
        .needed
        .as_ref()
        .filter(|(_, n)| *n != requirement.value)
    {
        recommended.push_str(&format!(" (need {} {needed})", comparison.symbol()));
    }
    let consequence = match &status {
        Status::Absent(meaning) | Status::Unknown(meaning) => meaning.clone(),
        Status::Ok | Status::Short => requirement.consequence.clone(),
    };
    Finding {
        key: requirement.key.clone(),
        current,
        recommended,
        status,
        importance: requirement.importance,
        need_met,
        consequence,
        remedy: format!(
            "sysctl -w {}=\"{}\" (persist in /etc/sysctl.d/)",
            requirement.key, requirement.value
        ),
    }
}

/// Rows for `RLIMIT_NOFILE` and `RLIMIT_MEMLOCK` against what `needs` asks.
pub fn limit_findings(needs: &ServerNeeds, limits: &ProcessLimits) -> Vec<Finding> {
    let nofile_needed = needs.nofile_needed();
    let nofile_consequence = match needs.engine {
        Engine::IoUring => format!(
            "the io_uring engine is not limited by it in total (direct descriptors), but each shard's table \
             ({} connections) must fit under it; the epoll fallback would stop accepting (EMFILE) at it",
            needs.connections_per_shard()
        ),
        Engine::Epoll => "the epoll engine holds one fd per connection: accept fails with EMFILE at the limit \
                          (the io_uring engine would not be limited by it)"
            .to_string(),
    };
    let mut rows = vec![Finding {
        key: "RLIMIT_NOFILE".to_string(),
        current: Some(limits.nofile.to_string()),
        recommended: format!("soft >= {nofile_needed}"),
        status: if limits.nofile.soft_allows(nofile_needed) {
            Status::Ok
        } else {
            Status::Short
        },
        importance: Importance::Required,
        need_met: None,
        consequence: nofile_consequence,
        remedy: nofile_remedy(needs.engine).to_string(),
    }];
    if needs.memlock_bytes > 0 {
        rows.push(Finding {
            key: "RLIMIT_MEMLOCK".to_string(),
            current: Some(limits.memlock.to_string()),
            recommended: format!("soft >= {}", needs.memlock_bytes),
            status: if limits.memlock.soft_allows(needs.memlock_bytes) { Status::Ok } else { Status::Short },
            importance: Importance::Required,
            need_met: None,
            consequence: "registering io_uring buffer rings / registered buffers fails (ENOMEM): the io_uring engine cannot start"
                .to_string(),
            remedy: "LimitMEMLOCK= in switchboard.service or `ulimit -l` (or grant CAP_IPC_LOCK)".to_string(),
        });
    }
    rows
}

fn nofile_remedy(engine: Engine) -> &'static str {
    match engine {
        Engine::IoUring => {
            "LimitNOFILE= in switchboard.service or `ulimit -n` (hard limit <= fs.nr_open); if it cannot be \
             raised, add shards or lower limits.connections_per_shard_max so one shard's table fits"
        }
        Engine::Epoll => {
            "LimitNOFILE= in switchboard.service or `ulimit -n` (hard limit <= fs.nr_open); if it cannot be \
             raised, run the io_uring engine, whose direct descriptors do not count against it"
        }
    }
}

/// Whether any row fails the check.
pub fn any_failing(findings: &[Finding]) -> bool {
    findings.iter().any(Finding::fails_check)
}
