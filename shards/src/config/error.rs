//! [`ConfigError`]: why a `switchboard serve` configuration was rejected.

/// A rejected configuration. Always the operator's fault (or a test's): fix the TOML or the CLI flags.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {message}")]
    Read {
        /// The path that was given.
        path: String,
        /// The operating system's message.
        message: String,
    },
    /// The TOML is malformed, has a value of the wrong type, or names a field that does not exist.
    #[error("invalid config TOML: {0}")]
    Parse(String),
    /// A numeric field is outside its allowed range.
    #[error("config field `{field}` = {value} is out of range: allowed {min}..={max}")]
    OutOfRange {
        /// The field's name as written in the TOML, e.g. `"limits.handshake_bytes_max"`.
        field: &'static str,
        /// The rejected value.
        value: u64,
        /// Smallest allowed value.
        min: u64,
        /// Largest allowed value.
        max: u64,
    },
    /// A section validated by its own module (`[auth]`, `[pii]`, `[log]`) is invalid.
    #[error("config section [{section}]: {message}")]
    Section {
        /// The TOML table.
        section: &'static str,
        /// What is wrong, as the module says it.
        message: String,
    },
    /// Two fields are each in range but contradict each other.
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

impl ConfigError {
    /// A [`ConfigError::Section`] error.
    pub fn section(section: &'static str, message: impl Into<String>) -> Self {
        Self::Section {
            section,
            message: message.into(),
        }
    }

    /// Checks `min <= value <= max` for `field`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::OutOfRange`] naming `field` and the range.
    pub fn check_range(field: &'static str, value: u64, min: u64, max: u64) -> Result<(), Self> {
        if (min..=max).contains(&value) {
            Ok(())
        } else {
            Err(Self::OutOfRange {
                field,
                value,
                min,
                max,
            })
        }
    }

    /// Checks `value >= other_value`, naming both fields in the error.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Relation`] when `value < other_value`.
    pub fn check_at_least(
        field: &'static str,
        value: u64,
        other_field: &'static str,
        other_value: u64,
    ) -> Result<(), Self> {
        if value >= other_value {
            Ok(())
        } else {
            Err(Self::Relation {
                field,
                value,
                relation: format!(">= {other_field} ({other_value})"),
            })
        }
    }
}

impl From<crate::chat::config::ConfigError> for ConfigError {
    fn from(error: crate::chat::config::ConfigError) -> Self {
        match error {
            crate::chat::config::ConfigError::OutOfRange {
                field,
                value,
                min,
                max,
            } => ConfigError::OutOfRange {
                field,
                value,
                min,
                max,
            },
            crate::chat::config::ConfigError::Section { section, message } => {
                ConfigError::Section { section, message }
            }
        }
    }
}

impl From<switchboard_conn::ConfigError> for ConfigError {
    fn from(error: switchboard_conn::ConfigError) -> Self {
        match error {
            switchboard_conn::ConfigError::OutOfRange {
                field,
                value,
                min,
                max,
            } => ConfigError::OutOfRange {
                field,
                value,
                min,
                max,
            },
            switchboard_conn::ConfigError::Relation {
                field,
                value,
                relation,
            } => ConfigError::Relation {
                field,
                value,
                relation,
            },
        }
    }
}
