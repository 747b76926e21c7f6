//! The shipped sysctl profiles, embedded at compile time from `tuning/profiles/*.conf`.
//!
//! The `.conf` files are the single source of truth: operators can read them and drop them into
//! `/etc/sysctl.d/`, and `switchboard tune` parses the same text.

use crate::sysctl_file::{self, ParseError, SysctlSetting};

/// A shipped tuning profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Profile {
    /// A million mostly idle connections: file limits, backlogs, TCP memory, conntrack, keepalive.
    C1m,
    /// Lowest per-message latency: busy polling, small buffers, no autocorking.
    LowLatency,
    /// Most bytes per CPU: large buffers, bigger NAPI batches, fq + BBR.
    Throughput,
}

impl Profile {
    /// Every shipped profile.
    pub const ALL: [Profile; 3] = [Profile::C1m, Profile::LowLatency, Profile::Throughput];

    /// The profile's name as used on the command line and in the file name.
    pub fn name(self) -> &'static str {
        match self {
            Profile::C1m => "c1m",
            Profile::LowLatency => "low-latency",
            Profile::Throughput => "throughput",
        }
    }

    /// The profile's file text, exactly as shipped in `tuning/profiles/`.
    pub fn text(self) -> &'static str {
        match self {
            Profile::C1m => include_str!("../profiles/c1m.conf"),
            Profile::LowLatency => include_str!("../profiles/low-latency.conf"),
            Profile::Throughput => include_str!("../profiles/throughput.conf"),
        }
    }

    /// The profile's settings in file order.
    ///
    /// The shipped files are tested to parse, so an error here means the binary was built from a broken
    /// checkout.
    pub fn settings(self) -> Result<Vec<SysctlSetting>, ParseError> {
        sysctl_file::parse(self.text())
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules;
    use std::collections::HashSet;

    #[test]
    fn every_shipped_profile_parses_without_duplicates() {
        for profile in Profile::ALL {
            let settings = profile
                .settings()
                .unwrap_or_else(|error| panic!("{profile}: {error}"));
            assert!(!settings.is_empty(), "{profile} is empty");
            let keys: HashSet<&str> = settings.iter().map(|s| s.key.as_str()).collect();
            assert_eq!(keys.len(), settings.len(), "{profile} sets a key twice");
        }
    }

    #[test]
    fn every_key_maps_to_a_proc_sys_path_and_has_a_rule() {
        let root = std::path::Path::new("/proc/sys");
        for profile in Profile::ALL {
            for setting in profile.settings().unwrap() {
                let path = crate::tree::key_path(root, &setting.key).unwrap();
                assert!(path.starts_with(root), "{}", setting.key);
                let expected = format!("/proc/sys/{}", setting.key.replace('.', "/"));
                assert_eq!(path.to_str().unwrap(), expected);
                assert!(
                    rules::find(&setting.key).is_some(),
                    "{profile}: no rule for {}",
                    setting.key
                );
            }
        }
    }

    #[test]
    fn every_setting_is_commented_with_what_why_and_risk() {
        for profile in Profile::ALL {
            let lines: Vec<&str> = profile.text().lines().collect();
            for setting in profile.settings().unwrap() {
                let comment = comment_above(&lines, setting.line - 1);
                for word in ["What:", "Why:", "Risk:"] {
                    assert!(
                        comment.contains(word),
                        "{profile}: {} lacks {word}",
                        setting.key
                    );
                }
            }
        }
    }

    /// The comment block directly above the line at `index`.
    fn comment_above(lines: &[&str], index: usize) -> String {
        let mut block = Vec::new();
        for line in lines[..index].iter().rev() {
            if !line.trim_start().starts_with('#') {
                break;
            }
            block.push(*line);
        }
        block.join("\n")
    }

    #[test]
    fn values_fit_their_comparison() {
        for profile in Profile::ALL {
            for setting in profile.settings().unwrap() {
                let rule = rules::find(&setting.key).unwrap();
                assert!(
                    rule.comparison
                        .is_met(&setting.value, &setting.value)
                        .is_ok(),
                    "{profile}: {} = {} does not suit {:?}",
                    setting.key,
                    setting.value,
                    rule.comparison
                );
            }
        }
    }
}
