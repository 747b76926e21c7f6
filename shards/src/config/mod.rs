//! The `switchboard serve` configuration: TOML with embedded defaults that run on a laptop.
//!
//! Layout:
//! - this file: [`ServeConfig`] and its top-level settings ([`Shards`], [`Mode`], [`Engine`]).
//! - [`Limits`] (from `switchboard-conn`): the `[limits]` table — every bound a connection shard enforces.
//! - [`error`]: [`ConfigError`], naming the rejected field and what is allowed.
//!
//! Decisions:
//! - Every field has a default, so an empty file (or no file) is a valid configuration, and unknown fields
//!   are rejected (`deny_unknown_fields`) so a typo is an error rather than a silently ignored setting.
//! - The default listen address is `127.0.0.1:7878`: loopback so that a first run on a laptop is not
//!   reachable from the network, and a port that does not collide with the usual 8080 development servers.
//! - `shards = "auto"` means one shard per available core (`std::thread::available_parallelism`), resolved
//!   when the server starts, so the same file works on every machine.
//! - [`ServeConfig::validate`] is called by every constructor; CLI overrides go through
//!   [`ServeConfig::apply_overrides`], which validates again.

pub mod error;

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};

pub use error::ConfigError;
pub use switchboard_conn::Limits;

/// Most shards a node may run: more than any machine's cores, fewer than the cross-core mesh can afford.
pub const SHARDS_MAX: usize = 1_024;

/// The example configuration shipped with the crate, documenting every field; it equals the defaults.
pub const EXAMPLE_TOML: &str = include_str!("../../switchboard.example.toml");

/// How many connection shards to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shards {
    /// One per available core (`"auto"` in TOML).
    Auto,
    /// Exactly this many (an integer in TOML).
    Count(NonZeroUsize),
}

pub use switchboard_conn::Mode;

/// Which I/O engine the shards run on: the engine's own [`EngineKind`](switchboard_core::engine::EngineKind)
/// (`auto`, `io-uring`, `epoll` in TOML), not a copy of it.
pub use switchboard_core::engine::EngineKind as Engine;

/// How `engine` is spelled in TOML; serde checks it against [`Engine`]'s variants.
#[derive(Deserialize)]
#[serde(remote = "Engine", rename_all = "kebab-case")]
enum EngineToml {
    /// io_uring when the kernel and seccomp profile allow it, epoll otherwise (logged at start).
    Auto,
    /// io_uring or fail at start.
    IoUring,
    /// epoll, even where io_uring is available.
    Epoll,
}

/// The whole `switchboard serve` configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServeConfig {
    /// Address every shard binds with `SO_REUSEPORT` for WebSocket clients.
    pub listen: SocketAddr,
    /// Number of connection shards.
    #[serde(deserialize_with = "deserialize_shards")]
    pub shards: Shards,
    /// Chat (the default) or echo.
    pub mode: Mode,
    /// The I/O engine.
    #[serde(with = "EngineToml")]
    pub engine: Engine,
    /// Directory of the durable log (created at start if missing).
    pub data_dir: PathBuf,
    /// Address of the admin HTTP listener (`/metrics`, health); `"off"` in TOML disables it.
    #[serde(deserialize_with = "deserialize_admin_listen")]
    pub admin_listen: Option<SocketAddr>,
    /// Every bound a shard enforces.
    pub limits: Limits,
    /// Bounds of the conversation layer (chat mode).
    pub chat: crate::chat::ChatConfig,
    /// The token keyring (chat mode needs it; absent by default).
    pub auth: Option<crate::auth::KeyringConfig>,
    /// PII masking rules, default and per tenant.
    pub pii: crate::pii::PiiPolicy,
    /// Degradation modes (normal, brownout, survival) and their thresholds, chat mode.
    pub overload: crate::overload::OverloadConfig,
    /// The routing/AI shard (knowledge base, thresholds, agent groups), chat mode.
    pub routing: crate::routing::shard::RoutingShardConfig,
    /// The durable log. Its directory is the top-level `data_dir` (a `data_dir` here is ignored).
    pub log: crate::log::LogConfig,
    /// TLS on the listen port (`wss://`, `https://`): the certificate and key files; absent = plain.
    pub tls: Option<crate::tls::TlsFiles>,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 7878)),
            shards: Shards::Auto,
            mode: Mode::Chat,
            engine: Engine::Auto,
            data_dir: PathBuf::from("switchboard-data"),
            admin_listen: Some(SocketAddr::from(([127, 0, 0, 1], 7879))),
            limits: Limits::default(),
            chat: crate::chat::ChatConfig::default(),
            auth: None,
            pii: crate::pii::PiiPolicy::default(),
            log: crate::log::LogConfig::default(),
            tls: None,
            routing: crate::routing::shard::RoutingShardConfig::default(),
            overload: crate::overload::OverloadConfig::default(),
        }
    }
}

impl ServeConfig {
    /// Parses and validates a TOML configuration; missing fields take their defaults.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Parse`] for malformed TOML or unknown fields, otherwise the first invalid field.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Reads, parses and validates a TOML file.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Read`] when the file cannot be read, otherwise as [`ServeConfig::from_toml_str`].
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::from_toml_str(&text)
    }

    /// Checks every field.
    ///
    /// # Errors
    ///
    /// The first offending field as a [`ConfigError`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Shards::Count(count) = self.shards {
            ConfigError::check_range("shards", count.get() as u64, 1, SHARDS_MAX as u64)?;
        }
        self.limits.validate()?;
        self.chat.validate()?;
        self.pii
            .validate()
            .map_err(|e| ConfigError::section("pii", e.to_string()))?;
        self.log
            .validate()
            .map_err(|e| ConfigError::section("log", e.to_string()))?;
        self.overload.validate()?;
        self.routing
            .validate()
            .map_err(|e| ConfigError::section("routing", e.to_string()))?;
        if let Some(auth) = &self.auth {
            auth.validate()
                .map_err(|e| ConfigError::section("auth", e.to_string()))?;
        }
        Ok(())
    }

    /// The log settings with the node's `data_dir`.
    pub fn log_config(&self) -> crate::log::LogConfig {
        crate::log::LogConfig {
            data_dir: self.data_dir.clone(),
            ..self.log.clone()
        }
    }

    /// Applies the `switchboard serve` command-line flags (each `None` keeps the file's value), then
    /// validates again.
    ///
    /// # Errors
    ///
    /// The first invalid field after the overrides.
    pub fn apply_overrides(
        &mut self,
        listen: Option<SocketAddr>,
        mode: Option<Mode>,
        shards: Option<Shards>,
        engine: Option<Engine>,
        data_dir: Option<PathBuf>,
    ) -> Result<(), ConfigError> {
        self.listen = listen.unwrap_or(self.listen);
        self.mode = mode.unwrap_or(self.mode);
        self.shards = shards.unwrap_or(self.shards);
        self.engine = engine.unwrap_or(self.engine);
        if let Some(dir) = data_dir {
            self.data_dir = dir;
        }
        self.validate()
    }

    /// The number of shards to start: the configured count, or one per available core (at least 1,
    /// at most [`SHARDS_MAX`]).
    pub fn shard_count(&self) -> usize {
        match self.shards {
            Shards::Count(count) => count.get(),
            Shards::Auto => std::thread::available_parallelism()
                .map_or(1, NonZeroUsize::get)
                .min(SHARDS_MAX),
        }
    }
}

impl std::str::FromStr for Shards {
    type Err = ConfigError;

    /// Parses `"auto"` or a positive integer (the form of the `--shards` flag).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "auto" {
            return Ok(Shards::Auto);
        }
        let count: u64 = text.parse().map_err(|_| {
            ConfigError::Parse(format!(
                "shards = {text:?}: expected \"auto\" or 1..={SHARDS_MAX}"
            ))
        })?;
        ConfigError::check_range("shards", count, 1, SHARDS_MAX as u64)?;
        let count = NonZeroUsize::new(count as usize).expect("checked to be at least 1 above");
        Ok(Shards::Count(count))
    }
}

/// `shards = "auto"` or `shards = <positive integer>`.
fn deserialize_shards<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Shards, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Count(u64),
        Keyword(String),
    }
    let text = match Raw::deserialize(deserializer)? {
        Raw::Count(count) => count.to_string(),
        Raw::Keyword(keyword) => keyword,
    };
    text.parse().map_err(serde::de::Error::custom)
}

/// `admin_listen = "off"` or `admin_listen = "<ip>:<port>"`.
fn deserialize_admin_listen<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<SocketAddr>, D::Error> {
    let text = String::deserialize(deserializer)?;
    if text == "off" {
        return Ok(None);
    }
    text.parse().map(Some).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_file_parses_and_equals_the_defaults() {
        let parsed = ServeConfig::from_toml_str(EXAMPLE_TOML).expect("example must parse");
        assert_eq!(parsed, ServeConfig::default());
    }

    #[test]
    fn empty_file_is_the_defaults_and_valid() {
        assert_eq!(
            ServeConfig::from_toml_str("").unwrap(),
            ServeConfig::default()
        );
        ServeConfig::default().validate().unwrap();
    }

    #[test]
    fn unknown_field_is_rejected() {
        let err = ServeConfig::from_toml_str("listne = \"127.0.0.1:1\"").unwrap_err();
        assert!(
            matches!(err, ConfigError::Parse(ref m) if m.contains("listne")),
            "{err}"
        );
        let err = ServeConfig::from_toml_str("[limits]\nframes_per_second = 3").unwrap_err();
        assert!(matches!(err, ConfigError::Parse(_)), "{err}");
    }

    #[test]
    fn out_of_range_names_field_and_range() {
        let err = ServeConfig::from_toml_str("[limits]\nhandshake_bytes_max = 10").unwrap_err();
        assert_eq!(
            err,
            ConfigError::OutOfRange {
                field: "limits.handshake_bytes_max",
                value: 10,
                min: 512,
                max: 1_048_576
            }
        );
        assert!(err.to_string().contains("512..=1048576"));
    }

    #[test]
    fn contradicting_fields_are_rejected() {
        let toml = "[limits]\nheartbeat_interval_ms_min = 40000\nheartbeat_interval_ms_max = 30000";
        let err = ServeConfig::from_toml_str(toml).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Relation {
                field: "limits.heartbeat_interval_ms_max",
                ..
            }
        ));
        let toml = "[limits]\nsend_queue_bytes_max = 1048576";
        let err = ServeConfig::from_toml_str(toml).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Relation {
                field: "limits.send_queue_bytes_max",
                ..
            }
        ));
    }

    #[test]
    fn shards_auto_integer_and_invalid() {
        let config = ServeConfig::from_toml_str("shards = 3").unwrap();
        assert_eq!(config.shards, Shards::Count(NonZeroUsize::new(3).unwrap()));
        assert_eq!(config.shard_count(), 3);
        let config = ServeConfig::from_toml_str("shards = \"auto\"").unwrap();
        assert!(config.shard_count() >= 1);
        assert!(ServeConfig::from_toml_str("shards = 0").is_err());
        assert!(ServeConfig::from_toml_str("shards = \"many\"").is_err());
        assert!(ServeConfig::from_toml_str("shards = 100000").is_err());
    }

    #[test]
    fn mode_engine_admin_spellings() {
        let toml = "mode = \"echo\"\nengine = \"io-uring\"\nadmin_listen = \"off\"";
        let config = ServeConfig::from_toml_str(toml).unwrap();
        assert_eq!(
            (config.mode, config.engine, config.admin_listen),
            (Mode::Echo, Engine::IoUring, None)
        );
        assert!(ServeConfig::from_toml_str("engine = \"uring\"").is_err());
    }

    #[test]
    fn overrides_replace_only_given_fields_and_validate() {
        let mut config = ServeConfig::default();
        let listen: SocketAddr = "0.0.0.0:9000".parse().unwrap();
        config
            .apply_overrides(
                Some(listen),
                Some(Mode::Echo),
                None,
                Some(Engine::Epoll),
                None,
            )
            .unwrap();
        assert_eq!(config.listen, listen);
        assert_eq!(config.mode, Mode::Echo);
        assert_eq!(config.engine, Engine::Epoll);
        assert_eq!(config.shards, Shards::Auto);
        assert_eq!(config.data_dir, PathBuf::from("switchboard-data"));
        assert_eq!(
            "0".parse::<Shards>().unwrap_err(),
            ConfigError::OutOfRange {
                field: "shards",
                value: 0,
                min: 1,
                max: SHARDS_MAX as u64
            }
        );
    }
}
