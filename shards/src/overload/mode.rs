//! [`Mode`]: the degradation mode of a shard or a node, and [`node_mode`], the worst of the shards.

/// How much a shard degrades its service. Ordered by severity: `Normal < Brownout < Survival`, so the
/// worst of several modes is their maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Mode {
    /// Everything is served.
    #[default]
    Normal,
    /// Optional, expensive traffic (history queries, typing indicators) is refused with a retry-after.
    Brownout,
    /// Only ticket submission, handoffs and urgent traffic are served, plus what keeps sessions alive
    /// (hello, heartbeats); see [`super::RequestClass`].
    Survival,
}

impl Mode {
    /// Every mode, least severe first.
    pub const ALL: [Mode; 3] = [Mode::Normal, Mode::Brownout, Mode::Survival];

    /// The value of the `switchboard_degradation_mode` gauge: 0 normal, 1 brownout, 2 survival.
    pub fn as_u8(self) -> u8 {
        match self {
            Mode::Normal => 0,
            Mode::Brownout => 1,
            Mode::Survival => 2,
        }
    }

    /// The mode for a gauge value, `None` for a value no mode has.
    pub fn from_u8(value: u8) -> Option<Mode> {
        Mode::ALL.get(usize::from(value)).copied()
    }

    /// The lower-case name used in log lines, metric labels and the messages told to clients.
    pub fn label(self) -> &'static str {
        match self {
            Mode::Normal => "normal",
            Mode::Brownout => "brownout",
            Mode::Survival => "survival",
        }
    }

    /// The next less severe mode (`Normal` stays `Normal`): recovery steps down one level at a time.
    pub fn step_down(self) -> Mode {
        match self {
            Mode::Normal | Mode::Brownout => Mode::Normal,
            Mode::Survival => Mode::Brownout,
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// The mode of the node for the metric and health reporting: the worst mode of its shards, `Normal` for
/// an empty slice (a node with no shards running sheds nothing).
///
/// The worst rather than, say, the majority, because conversations are owned by one shard each: a single
/// shard in survival already refuses the traffic of every conversation it owns.
pub fn node_mode(shard_modes: &[Mode]) -> Mode {
    shard_modes.iter().copied().max().unwrap_or(Mode::Normal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauge_values_and_labels_round_trip() {
        for (index, mode) in Mode::ALL.into_iter().enumerate() {
            assert_eq!(usize::from(mode.as_u8()), index);
            assert_eq!(Mode::from_u8(mode.as_u8()), Some(mode));
            assert_eq!(mode.to_string(), mode.label());
        }
        assert_eq!(Mode::from_u8(3), None);
        assert_eq!(Mode::Normal.label(), "normal");
        assert_eq!(Mode::Brownout.label(), "brownout");
        assert_eq!(Mode::Survival.label(), "survival");
    }

    #[test]
    fn step_down_is_one_level() {
        assert_eq!(Mode::Survival.step_down(), Mode::Brownout);
        assert_eq!(Mode::Brownout.step_down(), Mode::Normal);
        assert_eq!(Mode::Normal.step_down(), Mode::Normal);
    }

    #[test]
    fn node_mode_is_the_worst_shard() {
        assert_eq!(node_mode(&[]), Mode::Normal);
        assert_eq!(node_mode(&[Mode::Normal, Mode::Normal]), Mode::Normal);
        assert_eq!(
            node_mode(&[Mode::Normal, Mode::Brownout, Mode::Normal]),
            Mode::Brownout
        );
        assert_eq!(
            node_mode(&[Mode::Survival, Mode::Brownout, Mode::Normal]),
            Mode::Survival
        );
    }
}
