//! The files one scenario run needs: the chat-mode server config generated from the loadgen
//! scenario file's `[auth]` table, and the scenario file itself as the run uses it.
//!
//! The loadgen mints its own tokens from the keyring in its scenario file, so the server must be
//! given exactly that keyring: it is copied from the file rather than written here a second time.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::servers::SWITCHBOARD_FRAMES_PER_SECOND_MAX;

/// Shortest load phase, in seconds, of which a third still holds a burst window.
const BURST_FIT_DURATION_S_MIN: f64 = 1.0;

/// Why a scenario's files could not be prepared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScenarioConfigError {
    /// The scenario file could not be read (local system: a missing or unreadable file).
    #[error("reading {path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        reason: String,
    },
    /// The scenario file is not TOML (the file's author is at fault).
    #[error("{path} is not valid TOML: {reason}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message.
        reason: String,
    },
    /// The scenario file has no `[auth]` table, so no server keyring can match its tokens.
    #[error("{path} has no [auth] table: the chat server needs the keyring the loadgen mints tokens with")]
    NoAuth {
        /// The file.
        path: String,
    },
    /// The generated server config was refused by `switchboard`'s own validation (our bug, or an
    /// `[auth]` table the server does not accept).
    #[error("generated server config is invalid: {0}")]
    Invalid(String),
}

/// A loadgen scenario file, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its contents.
    pub table: toml::Table,
}

impl ScenarioFile {
    /// Reads and parses `path`.
    ///
    /// # Errors
    ///
    /// [`ScenarioConfigError::Read`] or [`ScenarioConfigError::Parse`].
    pub fn load(path: &Path) -> Result<Self, ScenarioConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioConfigError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Self::parse(path, &text)
    }

    /// Parses `text` as the contents of `path`.
    ///
    /// # Errors
    ///
    /// [`ScenarioConfigError::Parse`].
    pub fn parse(path: &Path, text: &str) -> Result<Self, ScenarioConfigError> {
        let table = text
            .parse::<toml::Table>()
            .map_err(|e| ScenarioConfigError::Parse {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            path: path.to_owned(),
            table,
        })
    }

    /// The `[auth]` table (the server's keyring, verbatim).
    ///
    /// # Errors
    ///
    /// [`ScenarioConfigError::NoAuth`].
    pub fn auth(&self) -> Result<&toml::Table, ScenarioConfigError> {
        self.table
            .get("auth")
            .and_then(toml::Value::as_table)
            .ok_or_else(|| ScenarioConfigError::NoAuth {
                path: self.path.display().to_string(),
            })
    }

    /// Customer messages per second the file offers (`rate`), if it says.
    pub fn rate_per_s(&self) -> Option<f64> {
        number(self.table.get("rate")?)
    }

    /// Connections the file opens (`connections`), if it says.
    pub fn connections(&self) -> Option<u32> {
        self.table
            .get("connections")?
            .as_integer()
            .and_then(|n| u32::try_from(n).ok())
    }

    /// The file as this run uses it, with notes on what was changed: a burst window that would not
    /// fall inside a `duration_s` load phase is moved to its middle third (start and length
    /// `duration_s / 3`), so a short run still has its burst.
    pub fn for_duration(&self, duration_s: f64) -> (toml::Table, Vec<String>) {
        let mut table = self.table.clone();
        let mut notes = Vec::new();
        if table.get("scenario").and_then(toml::Value::as_str) != Some("burst") {
            return (table, notes);
        }
        let chat = table
            .entry("chat")
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let Some(chat) = chat.as_table_mut() else {
            return (table, notes);
        };
        // The loadgen's own defaults (loadgen/README.md) when the file leaves them out.
        let start = chat.get("burst_start").and_then(number).unwrap_or(2.0);
        let length = chat.get("burst_duration").and_then(number).unwrap_or(2.0);
        if start + length > duration_s && duration_s >= BURST_FIT_DURATION_S_MIN {
            let third = duration_s / 3.0;
            chat.insert("burst_start".to_owned(), toml::Value::Float(third));
            chat.insert("burst_duration".to_owned(), toml::Value::Float(third));
            notes.push(format!(
                "burst window {start} s + {length} s does not fit a {duration_s} s run: \
                 moved to {third:.2} s + {third:.2} s"
            ));
        }
        (table, notes)
    }
}

fn number(value: &toml::Value) -> Option<f64> {
    value
        .as_float()
        .or_else(|| value.as_integer().map(|n| n as f64))
}

/// What the chat-mode server of one run is given.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSettings {
    /// Where it listens.
    pub listen: SocketAddr,
    /// Its private data directory (fresh for every run).
    pub data_dir: PathBuf,
    /// Whether the routing shard runs.
    pub routing: bool,
}

/// The TOML of `switchboard serve` for one scenario run: chat mode on one shard, no admin listener,
/// a fresh data directory, the scenario's keyring, routing as asked, and the per-connection frame
/// rate limit out of the way as in the echo runs. Everything else is the server's default (fsync
/// log, overload protection on): the scenarios measure the server as it is shipped.
///
/// # Errors
///
/// [`ScenarioConfigError::NoAuth`], or [`ScenarioConfigError::Invalid`] when `switchboard`'s own
/// config validation refuses the result.
pub fn server_config(
    scenario: &ScenarioFile,
    settings: &ServerSettings,
) -> Result<String, ScenarioConfigError> {
    let mut table = toml::Table::new();
    let text = |s: &str| toml::Value::String(s.to_owned());
    table.insert("listen".to_owned(), text(&settings.listen.to_string()));
    table.insert("shards".to_owned(), toml::Value::Integer(1));
    table.insert("mode".to_owned(), text("chat"));
    table.insert("admin_listen".to_owned(), text("off"));
    table.insert(
        "data_dir".to_owned(),
        text(&settings.data_dir.display().to_string()),
    );
    let mut limits = toml::Table::new();
    limits.insert(
        "frames_per_second_max".to_owned(),
        toml::Value::Integer(SWITCHBOARD_FRAMES_PER_SECOND_MAX as i64),
    );
    table.insert("limits".to_owned(), toml::Value::Table(limits));
    let mut chat = toml::Table::new();
    chat.insert(
        "routing_enabled".to_owned(),
        toml::Value::Boolean(settings.routing),
    );
    table.insert("chat".to_owned(), toml::Value::Table(chat));
    table.insert(
        "auth".to_owned(),
        toml::Value::Table(scenario.auth()?.clone()),
    );
    let config = table.to_string();
    switchboard_shards::config::ServeConfig::from_toml_str(&config)
        .map_err(|e| ScenarioConfigError::Invalid(e.to_string()))?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUTH: &str = "[auth]\nactive_key_id = \"load\"\nkeys = [{ id = \"load\", secret_hex = \
        \"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\" }]\n";

    fn file(text: &str) -> ScenarioFile {
        ScenarioFile::parse(Path::new("x.toml"), text).unwrap()
    }

    fn settings(routing: bool) -> ServerSettings {
        ServerSettings {
            listen: "127.0.0.1:7999".parse().unwrap(),
            data_dir: PathBuf::from("/tmp/sb-bench-data"),
            routing,
        }
    }

    #[test]
    fn server_config_carries_the_keyring_and_routing() {
        let scenario = file(&format!("scenario = \"chat\"\nrate = 500.0\n{AUTH}"));
        for routing in [false, true] {
            let text = server_config(&scenario, &settings(routing)).unwrap();
            let config = switchboard_shards::config::ServeConfig::from_toml_str(&text).unwrap();
            assert_eq!(config.mode, switchboard_shards::config::Mode::Chat);
            assert_eq!(config.chat.routing_enabled, routing);
            assert_eq!(config.admin_listen, None);
            assert_eq!(config.listen, settings(routing).listen);
            assert_eq!(config.data_dir, PathBuf::from("/tmp/sb-bench-data"));
            let back: toml::Table = text.parse().unwrap();
            assert_eq!(back.get("auth"), scenario.table.get("auth"));
        }
    }

    #[test]
    fn the_shipped_scenario_files_make_valid_server_configs() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../loadgen/scenarios");
        for name in ["chat", "fanout", "burst", "churn"] {
            let scenario = ScenarioFile::load(&dir.join(format!("{name}.toml"))).unwrap();
            server_config(&scenario, &settings(false)).unwrap();
        }
    }

    #[test]
    fn missing_auth_is_refused() {
        let scenario = file("scenario = \"chat\"\n");
        assert_eq!(
            server_config(&scenario, &settings(false)),
            Err(ScenarioConfigError::NoAuth {
                path: "x.toml".to_owned()
            })
        );
        assert!(matches!(
            ScenarioFile::parse(Path::new("y.toml"), "not = = toml"),
            Err(ScenarioConfigError::Parse { .. })
        ));
    }

    #[test]
    fn a_burst_window_is_fitted_into_a_short_run() {
        let burst = file(&format!(
            "scenario = \"burst\"\nrate = 500\nconnections = 100\n[chat]\nburst_start = 10.0\n\
             burst_duration = 5.0\n{AUTH}"
        ));
        assert_eq!(burst.rate_per_s(), Some(500.0));
        assert_eq!(burst.connections(), Some(100));
        let (table, notes) = burst.for_duration(3.0);
        let chat = table["chat"].as_table().unwrap();
        assert_eq!(chat["burst_start"].as_float(), Some(1.0));
        assert_eq!(chat["burst_duration"].as_float(), Some(1.0));
        assert_eq!(notes.len(), 1);
        let (unchanged, notes) = burst.for_duration(30.0);
        assert_eq!(unchanged, burst.table);
        assert!(notes.is_empty());
        let chat_file = file(&format!("scenario = \"chat\"\n{AUTH}"));
        let (table, notes) = chat_file.for_duration(3.0);
        assert!(notes.is_empty());
        assert_eq!(table, chat_file.table);
    }
}
