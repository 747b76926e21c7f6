//! `tune diff`, `tune apply` and `tune revert`: planned changes, the saved-values state file, writes.
//!
//! Apply only touches keys that fall short, and only ever moves them to the recommendation, so a host
//! already tuned beyond a profile is never lowered. Before the first write, the current value of every key
//! about to change is saved to a state file in sysctl.conf format (so an operator can also read it, or
//! `sysctl -p` it by hand). Running apply twice keeps the values saved the first time: revert restores the
//! state from before any tuning, then deletes the state file.

use std::path::{Path, PathBuf};

use crate::check::{Finding, Requirement, Status};
use crate::sysctl_file::{self, ParseError, SysctlSetting};
use crate::tree::{SysctlTree, TreeError};

/// The default state file for saved values.
pub const STATE_FILE_DEFAULT: &str = "/var/lib/switchboard/tune-saved.conf";

/// One key apply would change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The dotted key.
    pub key: String,
    /// The current raw value (inner whitespace as read).
    pub from: String,
    /// The value to write.
    pub to: String,
}

/// Why apply or revert failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    /// `/proc/sys` cannot be written here (local system: container, missing privilege). Nothing was written.
    #[error("running read-only (container?): cannot apply, showing what would change")]
    ReadOnly,
    /// The state file could not be read or written (local system). Nothing was written to /proc/sys.
    #[error("state file {path}: {message}")]
    StateFile {
        /// The state file path.
        path: PathBuf,
        /// The OS error text.
        message: String,
    },
    /// The state file exists but is not valid sysctl.conf text (edited by hand, or corrupted).
    #[error("state file {path}: {error}")]
    StateFileSyntax {
        /// The state file path.
        path: PathBuf,
        /// The parse error.
        error: ParseError,
    },
    /// Revert found no state file: nothing was applied, or it was already reverted.
    #[error("no saved values at {path}: nothing to revert")]
    NothingSaved {
        /// The state file path.
        path: PathBuf,
    },
    /// A revert write failed part way; `written` keys were restored before it (the state file is kept so
    /// revert can be run again).
    #[error("{error} (after {written} key(s) were written; saved values kept for revert)")]
    Write {
        /// The failing write.
        error: TreeError,
        /// Keys successfully written before the failure.
        written: usize,
    },
}

/// The changes that bring every short row to its recommendation (absent and unknown rows are skipped).
pub fn plan(
    requirements: &[Requirement],
    findings: &[Finding],
    tree: &dyn SysctlTree,
) -> Vec<Change> {
    let mut changes = Vec::new();
    for (requirement, finding) in requirements.iter().zip(findings) {
        debug_assert_eq!(
            requirement.key, finding.key,
            "findings must be evaluated from these requirements"
        );
        if finding.status != Status::Short {
            continue;
        }
        if let Ok(Some(from)) = tree.read(&requirement.key) {
            changes.push(Change {
                key: requirement.key.clone(),
                from,
                to: requirement.value.raw().to_string(),
            });
        }
    }
    changes
}

/// Saves the current values, then writes every change.
///
/// A key the kernel rejects (e.g. `tcp_congestion_control = bbr` without the module) does not stop the
/// others: it is listed in [`Applied::rejected`]. A read-only tree stops everything before any write.
pub fn apply(
    changes: &[Change],
    tree: &dyn SysctlTree,
    state_file: &Path,
) -> Result<Applied, ChangeError> {
    let Some(first) = changes.first() else {
        return Ok(Applied::default());
    };
    if !tree.is_writable(&first.key) {
        return Err(ChangeError::ReadOnly);
    }
    save(changes, state_file)?;
    let mut applied = Applied::default();
    for change in changes {
        match tree.write(&change.key, &change.to) {
            Ok(()) => applied.written.push(change.key.clone()),
            Err(TreeError::ReadOnly { .. }) if applied.written.is_empty() => {
                return Err(ChangeError::ReadOnly)
            }
            Err(error) => applied.rejected.push(error),
        }
    }
    Ok(applied)
}

/// The outcome of [`apply`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Keys written, in order.
    pub written: Vec<String>,
    /// Writes that failed (the kernel rejected the value, or the key vanished); their old values are still
    /// in the state file, so `revert` restores them harmlessly.
    pub rejected: Vec<TreeError>,
}

/// Restores every saved value and removes the state file. Returns what was restored.
pub fn revert(tree: &dyn SysctlTree, state_file: &Path) -> Result<Vec<Change>, ChangeError> {
    let saved = load(state_file)?.ok_or_else(|| ChangeError::NothingSaved {
        path: state_file.to_path_buf(),
    })?;
    if let Some(first) = saved.first() {
        if !tree.is_writable(&first.key) {
            return Err(ChangeError::ReadOnly);
        }
    }
    let mut restored = Vec::new();
    for (written, setting) in saved.iter().enumerate() {
        let from = tree.read(&setting.key).ok().flatten().unwrap_or_default();
        tree.write(&setting.key, setting.value.raw())
            .map_err(|error| ChangeError::Write { error, written })?;
        restored.push(Change {
            key: setting.key.clone(),
            from,
            to: setting.value.raw().to_string(),
        });
    }
    std::fs::remove_file(state_file).map_err(|error| state_error(state_file, &error))?;
    Ok(restored)
}

/// Adds the `from` values of `changes` to the state file, keeping any value already saved for a key.
fn save(changes: &[Change], state_file: &Path) -> Result<(), ChangeError> {
    let mut saved = load(state_file)?.unwrap_or_default();
    for change in changes {
        if !saved.iter().any(|setting| setting.key == change.key) {
            let line = saved.len() + 1;
            let value = sysctl_file::SysctlValue::new(&change.from);
            saved.push(SysctlSetting {
                key: change.key.clone(),
                value,
                line,
            });
        }
    }
    let mut text = String::from(
        "# Values saved by `switchboard tune apply` before it changed them.\n\
         # `switchboard tune revert` writes them back and deletes this file.\n",
    );
    for setting in &saved {
        text.push_str(&format!("{} = {}\n", setting.key, setting.value.raw()));
    }
    if let Some(directory) = state_file
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::create_dir_all(directory).map_err(|error| state_error(state_file, &error))?;
    }
    // Write a sibling and rename it into place so a crash never leaves a half-written state file.
    let temporary = state_file.with_extension("conf.tmp");
    std::fs::write(&temporary, text).map_err(|error| state_error(state_file, &error))?;
    std::fs::rename(&temporary, state_file).map_err(|error| state_error(state_file, &error))
}

/// The saved settings, or `None` if there is no state file.
pub fn load(state_file: &Path) -> Result<Option<Vec<SysctlSetting>>, ChangeError> {
    let text = match std::fs::read_to_string(state_file) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(state_error(state_file, &error)),
    };
    sysctl_file::parse(&text)
        .map(Some)
        .map_err(|error| ChangeError::StateFileSyntax {
            path: state_file.to_path_buf(),
            error,
        })
}

fn state_error(path: &Path, error: &std::io::Error) -> ChangeError {
    ChangeError::StateFile {
        path: path.to_path_buf(),
        message: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    /// An in-memory tree whose `rejected` key fails every write, as the kernel does with EINVAL.
    struct MemoryTree {
        values: RefCell<BTreeMap<String, String>>,
        rejected: &'static str,
    }

    impl SysctlTree for MemoryTree {
        fn read(&self, key: &str) -> Result<Option<String>, TreeError> {
            Ok(self.values.borrow().get(key).cloned())
        }

        fn write(&self, key: &str, value: &str) -> Result<(), TreeError> {
            if key == self.rejected {
                let message = "Invalid argument".to_string();
                return Err(TreeError::Io {
                    key: key.to_string(),
                    operation: "write",
                    message,
                });
            }
            self.values
                .borrow_mut()
                .insert(key.to_string(), value.to_string());
            Ok(())
        }

        fn is_writable(&self, _probe_key: &str) -> bool {
            true
        }
    }

    #[test]
    fn a_rejected_key_does_not_stop_the_others_and_revert_restores_all() {
        let original: BTreeMap<String, String> = [("a.b", "1"), ("c.d", "cubic"), ("e.f", "3")]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .into();
        let tree = MemoryTree {
            values: RefCell::new(original.clone()),
            rejected: "c.d",
        };
        let change = |key: &str, from: &str, to: &str| Change {
            key: key.into(),
            from: from.into(),
            to: to.into(),
        };
        let changes = [
            change("a.b", "1", "10"),
            change("c.d", "cubic", "bbr"),
            change("e.f", "3", "30"),
        ];
        let state = std::env::temp_dir().join(format!(
            "switchboard-tuning-changes-{}.conf",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&state);

        let applied = apply(&changes, &tree, &state).unwrap();
        assert_eq!(applied.written, ["a.b", "e.f"]);
        assert_eq!(applied.rejected.len(), 1);
        assert_eq!(tree.values.borrow()["e.f"], "30");

        // Revert writes c.d's old value too, which this tree rejects: the state file is kept.
        assert!(matches!(
            revert(&tree, &state),
            Err(ChangeError::Write { written: 1, .. })
        ));
        assert!(state.exists());
        let tree = MemoryTree {
            values: tree.values,
            rejected: "none",
        };
        assert_eq!(revert(&tree, &state).unwrap().len(), 3);
        assert_eq!(*tree.values.borrow(), original);
        assert!(!state.exists());
    }

    #[test]
    fn nothing_to_apply_writes_no_state_file() {
        let tree = MemoryTree {
            values: RefCell::default(),
            rejected: "none",
        };
        let state = std::env::temp_dir().join(format!(
            "switchboard-tuning-empty-{}.conf",
            std::process::id()
        ));
        assert_eq!(apply(&[], &tree, &state), Ok(Applied::default()));
        assert!(!state.exists());
        assert_eq!(
            revert(&tree, &state),
            Err(ChangeError::NothingSaved { path: state })
        );
    }
}
