//! Start-up checks: what the server's own configuration needs and the host does not give.

use std::fmt;
use std::path::Path;

use crate::check::{self, Finding};
use crate::limits::ProcessLimits;
use crate::needs::ServerNeeds;
use crate::tree::ProcSysTree;

/// One thing the host is short of, for a start-up log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shortfall {
    /// The sysctl key or `RLIMIT_*` name.
    pub key: String,
    /// The current value as shown.
    pub current: String,
    /// What is needed, with its comparison (e.g. `>= 1065536`).
    pub needed: String,
    /// What goes wrong because of it.
    pub consequence: String,
    /// How to raise it.
    pub remedy: String,
}

impl Shortfall {
    /// The one-line message: what is short, the consequence, and how to raise it.
    pub fn message(&self) -> String {
        self.to_string()
    }

    fn from_finding(finding: &Finding) -> Self {
        Self {
            key: finding.key.clone(),
            current: finding.current.clone().unwrap_or_default(),
            needed: finding.recommended.clone(),
            consequence: finding.consequence.clone(),
            remedy: finding.remedy.clone(),
        }
    }
}

impl fmt::Display for Shortfall {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{} is {}, needs {}: {}; raise it with {}",
            self.key, self.current, self.needed, self.consequence, self.remedy
        )
    }
}

/// What the host is short of for `needs`, reading sysctls under `proc_root` and this process's limits.
///
/// Only what the configuration depends on is checked (file limits, backlog, conntrack, `RLIMIT_*`), not a
/// whole profile. Absent keys (e.g. no nf_conntrack) are not shortfalls. If the limits cannot be read the
/// limit rows are skipped: start-up should not fail over a diagnostic.
pub fn startup_shortfalls(needs: &ServerNeeds, proc_root: &Path) -> Vec<Shortfall> {
    shortfalls_with_limits(needs, proc_root, ProcessLimits::current().ok().as_ref())
}

/// [`startup_shortfalls`] with the process limits given, so tests can choose them.
pub fn shortfalls_with_limits(
    needs: &ServerNeeds,
    proc_root: &Path,
    limits: Option<&ProcessLimits>,
) -> Vec<Shortfall> {
    let tree = ProcSysTree::new(proc_root);
    let requirements = check::requirements(&[], Some(needs));
    let mut findings = check::evaluate(&requirements, &tree);
    if let Some(limits) = limits {
        findings.extend(check::limit_findings(needs, limits));
    }
    findings
        .iter()
        .filter(|finding| finding.fails_check())
        .map(Shortfall::from_finding)
        .collect()
}
