//! [`LogConfig`]: where the durable log lives, when it acknowledges, how big its pieces are and how long
//! it keeps them.

use std::path::PathBuf;

use serde::Deserialize;

use super::record::{frame_bytes, FRAME_OVERHEAD_BYTES};
/// A log setting out of range or contradicting another: the operator's fault. The server's
/// configuration error wraps it (`From`), with the same message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A field outside its allowed range.
    #[error("config field `{field}` = {value} is out of range: allowed {min}..={max}")]
    OutOfRange {
        /// The field's name as written in the TOML, e.g. `"log.segment_bytes_max"`.
        field: &'static str,
        /// The rejected value.
        value: u64,
        /// Smallest allowed value.
        min: u64,
        /// Largest allowed value.
        max: u64,
    },
    /// A field in range that contradicts another.
    #[error("config field `{field}` = {value} must be {relation}")]
    Relation {
        /// The field to change.
        field: &'static str,
        /// Its rejected value.
        value: u64,
        /// The relation it must satisfy, naming the other field and its value.
        relation: String,
    },
}

/// When an appended record counts as acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// After the `fdatasync` that covers it: the record survives a power loss.
    Fsync,
    /// After the `write` that covers it: the record survives a process crash, not a power loss.
    Buffered,
}

/// The durable log's settings (`[log]` in TOML). Every field has a default.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// The directory holding one `shard-N/` directory of segments per owner shard.
    pub data_dir: PathBuf,
    /// When a record counts as acknowledged.
    pub durability: Durability,
    /// A segment is closed and a new one started before it would grow past this many bytes.
    pub segment_bytes_max: u64,
    /// Largest record payload accepted by `append`; larger frames found on disk are corruption.
    pub payload_bytes_max: u32,
    /// Appended frames are buffered up to this many bytes before they are written, even without a commit.
    pub write_buffer_bytes_max: u32,
    /// How many message ids the de-duplication window remembers; the oldest is forgotten first. Room for
    /// them is allocated when the log opens (up to [`crate::index::DEDUP_PREALLOCATED_MAX`]).
    pub dedup_window_max: u32,
    /// Closed segments whose newest record is older than this are deleted; absent means no age limit.
    pub retention_ms: Option<u64>,
    /// Oldest closed segments are deleted while the log is larger than this; absent means no size limit.
    pub retention_bytes_max: Option<u64>,
}

/// Smallest allowed `segment_bytes_max`: small enough for tests that roll often, a few frames.
pub const SEGMENT_BYTES_MIN: u64 = 1_024;
/// Largest allowed `segment_bytes_max`: segment offsets and recovery buffers stay comfortably bounded.
pub const SEGMENT_BYTES_MAX: u64 = 1 << 32;
/// Largest allowed `payload_bytes_max`: far above any protocol message, below the frame's u32 length.
pub const PAYLOAD_BYTES_LIMIT: u32 = 16 << 20;
/// Largest allowed `write_buffer_bytes_max`.
pub const WRITE_BUFFER_BYTES_LIMIT: u32 = 256 << 20;
/// Largest allowed `dedup_window_max`: about 100 bytes of memory per entry per shard.
pub const DEDUP_WINDOW_LIMIT: u32 = 100_000_000;

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("switchboard-data"),
            durability: Durability::Fsync,
            segment_bytes_max: 64 << 20,
            payload_bytes_max: 64 << 10,
            write_buffer_bytes_max: 1 << 20,
            dedup_window_max: 100_000,
            retention_ms: Some(7 * 24 * 3_600 * 1_000),
            retention_bytes_max: None,
        }
    }
}

impl LogConfig {
    /// Checks every field and the relations between them.
    ///
    /// # Errors
    ///
    /// The first offending field as a [`ConfigError`] naming it and what is allowed.
    pub fn validate(&self) -> Result<(), ConfigError> {
        range(
            "log.segment_bytes_max",
            self.segment_bytes_max,
            SEGMENT_BYTES_MIN,
            SEGMENT_BYTES_MAX,
        )?;
        range(
            "log.payload_bytes_max",
            self.payload_bytes_max.into(),
            0,
            PAYLOAD_BYTES_LIMIT.into(),
        )?;
        range(
            "log.write_buffer_bytes_max",
            self.write_buffer_bytes_max.into(),
            FRAME_OVERHEAD_BYTES as u64,
            WRITE_BUFFER_BYTES_LIMIT.into(),
        )?;
        range(
            "log.dedup_window_max",
            self.dedup_window_max.into(),
            1,
            DEDUP_WINDOW_LIMIT.into(),
        )?;
        if let Some(retention_ms) = self.retention_ms {
            range("log.retention_ms", retention_ms, 1, u64::MAX)?;
        }
        if let Some(bytes) = self.retention_bytes_max {
            range(
                "log.retention_bytes_max",
                bytes,
                self.segment_bytes_max,
                u64::MAX,
            )?;
        }
        let frame_max = self.frame_bytes_max();
        if frame_max > self.segment_bytes_max {
            return Err(relation(
                "log.payload_bytes_max",
                self.payload_bytes_max.into(),
                format!(
                    "small enough that a frame fits log.segment_bytes_max = {}",
                    self.segment_bytes_max
                ),
            ));
        }
        if frame_max > u64::from(self.write_buffer_bytes_max) {
            return Err(relation(
                "log.write_buffer_bytes_max",
                self.write_buffer_bytes_max.into(),
                format!("at least one largest frame ({frame_max} bytes)"),
            ));
        }
        Ok(())
    }

    /// Bytes of the largest frame `append` accepts.
    pub fn frame_bytes_max(&self) -> u64 {
        frame_bytes(self.payload_bytes_max as usize) as u64
    }

    /// The segment directory of owner shard `shard`: `data_dir/shard-N`.
    pub fn shard_dir(&self, shard: usize) -> PathBuf {
        self.data_dir.join(format!("shard-{shard}"))
    }
}

fn range(field: &'static str, value: u64, min: u64, max: u64) -> Result<(), ConfigError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::OutOfRange {
            field,
            value,
            min,
            max,
        })
    }
}

fn relation(field: &'static str, value: u64, relation: String) -> ConfigError {
    ConfigError::Relation {
        field,
        value,
        relation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        LogConfig::default().validate().unwrap();
    }

    #[test]
    fn a_payload_larger_than_a_segment_is_rejected() {
        let config = LogConfig {
            segment_bytes_max: 1_024,
            payload_bytes_max: 2_000,
            write_buffer_bytes_max: 4_096,
            ..LogConfig::default()
        };
        assert!(matches!(
            config.validate(),
            Err(ConfigError::Relation {
                field: "log.payload_bytes_max",
                ..
            })
        ));
    }

    #[test]
    fn a_zero_dedup_window_is_rejected() {
        let config = LogConfig {
            dedup_window_max: 0,
            ..LogConfig::default()
        };
        assert_eq!(
            config.validate(),
            Err(ConfigError::OutOfRange {
                field: "log.dedup_window_max",
                value: 0,
                min: 1,
                max: DEDUP_WINDOW_LIMIT.into(),
            })
        );
    }

    #[test]
    fn parses_from_toml() {
        let config: LogConfig =
            toml::from_str("durability = \"buffered\"\nretention_bytes_max = 1073741824\n")
                .unwrap();
        assert_eq!(config.durability, Durability::Buffered);
        assert_eq!(config.retention_bytes_max, Some(1 << 30));
        assert!(toml::from_str::<LogConfig>("segment_size = 1").is_err());
    }
}
