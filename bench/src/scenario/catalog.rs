//! Which switchboard.v1 scenarios `compare --scenario` knows, and where their loadgen files are.

use std::path::{Path, PathBuf};

/// One switchboard.v1 scenario of `switchboard-loadgen`, run against `switchboard serve --mode chat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scenario {
    /// Customers and agents in conversations (`chat.toml`), routing off.
    Chat,
    /// Chat through the routing shard: bot answers, handoffs, assigned agents (`chat-routed.toml`).
    ChatRouted,
    /// One sender, every other connection following its conversation (`fanout.toml`).
    Fanout,
    /// Chat with a spike of several times the rate (`burst.toml`).
    Burst,
    /// Chat with connections closing and resuming (`churn.toml`).
    Churn,
}

impl Scenario {
    /// Every scenario in run order.
    pub const ALL: [Scenario; 5] = [
        Scenario::Chat,
        Scenario::ChatRouted,
        Scenario::Fanout,
        Scenario::Burst,
        Scenario::Churn,
    ];

    /// The name on the command line, in records and on the dashboard.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Chat => "chat",
            Scenario::ChatRouted => "chat-routed",
            Scenario::Fanout => "fanout",
            Scenario::Burst => "burst",
            Scenario::Churn => "churn",
        }
    }

    /// Parses [`Scenario::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The loadgen scenario file's name in the scenarios directory.
    pub fn file_name(self) -> String {
        format!("{}.toml", self.name())
    }

    /// The loadgen scenario file under `scenarios_dir`.
    pub fn file(self, scenarios_dir: &Path) -> PathBuf {
        scenarios_dir.join(self.file_name())
    }

    /// Whether the server runs its routing shard for this scenario: only where a routed scenario
    /// file drives it, so the others measure the plain messaging path.
    pub fn routing(self) -> bool {
        self == Scenario::ChatRouted
    }
}

/// Why a `--scenario` selection was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectionError {
    /// The user named a scenario this harness does not know (the user's fault).
    #[error("unknown scenario `{0}` (echo, all, chat, chat-routed, fanout, burst, churn)")]
    Unknown(String),
    /// The user named a scenario whose loadgen file is not in the scenarios directory.
    #[error("scenario `{name}` has no loadgen file at {path}")]
    MissingFile {
        /// The scenario.
        name: String,
        /// Where its file was looked for.
        path: String,
    },
    /// `echo` was mixed with switchboard.v1 scenarios (the user's fault: they run separately).
    #[error(
        "`echo` runs on its own: give `--scenario echo` or switchboard.v1 scenarios, not both"
    )]
    EchoMixed,
    /// `all` found no scenario file at all (the checkout lacks `loadgen/scenarios`).
    #[error("no scenario file found in {0}")]
    NoneFound(String),
}

/// Resolves the names of `--scenario` (comma-separated; `all` is every scenario whose file exists,
/// so `chat-routed` joins once its file is there) into scenarios in run order, without repeats.
///
/// # Errors
///
/// See [`SelectionError`]; `echo` alone is not a selection of this function (the caller handles it).
pub fn select(names: &[String], scenarios_dir: &Path) -> Result<Vec<Scenario>, SelectionError> {
    let mut selected = Vec::new();
    for name in names {
        match name.as_str() {
            "echo" => return Err(SelectionError::EchoMixed),
            "all" => selected.extend(
                Scenario::ALL
                    .into_iter()
                    .filter(|s| s.file(scenarios_dir).is_file()),
            ),
            other => {
                let scenario = Scenario::from_name(other)
                    .ok_or_else(|| SelectionError::Unknown(other.to_owned()))?;
                let path = scenario.file(scenarios_dir);
                if !path.is_file() {
                    return Err(SelectionError::MissingFile {
                        name: other.to_owned(),
                        path: path.display().to_string(),
                    });
                }
                selected.push(scenario);
            }
        }
    }
    selected.sort();
    selected.dedup();
    if selected.is_empty() {
        return Err(SelectionError::NoneFound(
            scenarios_dir.display().to_string(),
        ));
    }
    Ok(selected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[&str]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "sb-bench-catalog-{}-{}",
            std::process::id(),
            files.join("-")
        ));
        std::fs::create_dir_all(&dir).unwrap();
        for file in files {
            std::fs::write(dir.join(file), "").unwrap();
        }
        dir
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn names_round_trip() {
        for scenario in Scenario::ALL {
            assert_eq!(Scenario::from_name(scenario.name()), Some(scenario));
        }
        assert_eq!(Scenario::from_name("echo"), None);
        assert!(Scenario::ChatRouted.routing());
        assert!(!Scenario::Chat.routing());
    }

    #[test]
    fn all_takes_the_files_that_exist() {
        let dir = dir_with(&["chat.toml", "burst.toml", "fanout.toml", "churn.toml"]);
        let all = select(&names(&["all"]), &dir).unwrap();
        assert_eq!(
            all,
            [
                Scenario::Chat,
                Scenario::Fanout,
                Scenario::Burst,
                Scenario::Churn
            ]
        );
        std::fs::write(dir.join("chat-routed.toml"), "").unwrap();
        assert_eq!(select(&names(&["all"]), &dir).unwrap().len(), 5);
        let picked = select(&names(&["churn", "chat", "churn"]), &dir).unwrap();
        assert_eq!(picked, [Scenario::Chat, Scenario::Churn]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn refusals_name_the_problem() {
        let dir = dir_with(&["chat.toml"]);
        assert_eq!(
            select(&names(&["nope"]), &dir),
            Err(SelectionError::Unknown("nope".to_owned()))
        );
        assert!(matches!(
            select(&names(&["burst"]), &dir),
            Err(SelectionError::MissingFile { .. })
        ));
        assert_eq!(
            select(&names(&["chat", "echo"]), &dir),
            Err(SelectionError::EchoMixed)
        );
        let empty = dir_with(&[]);
        assert!(matches!(
            select(&names(&["all"]), &empty),
            Err(SelectionError::NoneFound(_))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
