//! The development signing key: what `switchboard serve` signs and verifies tokens with when the
//! configuration names no `[auth]` keys, so the product runs on its embedded defaults. Created on first
//! start as `<data_dir>/dev-signing-key` (32 random bytes in hex, mode 0600) and reused afterwards, so
//! tokens survive a restart. Logged as development-only; its presence turns demo tokens on.

use std::io::{Read as _, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use super::key::{KeyConfig, KeyringConfig};

/// The file under the data directory.
pub const DEV_KEY_FILE: &str = "dev-signing-key";
/// The key id tokens signed with it carry.
pub const DEV_KEY_ID: &str = "dev";
/// Random bytes in the key.
const DEV_KEY_BYTES: usize = 32;

/// Why the development key could not be read or created (the data directory is at fault).
#[derive(Debug, thiserror::Error)]
pub enum DevKeyError {
    /// Reading, creating or writing the file failed.
    #[error("development signing key {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file holds something other than hex text of at least 32 bytes.
    #[error("development signing key {0}: not 64 hex digits; delete it to make a new one")]
    Malformed(PathBuf),
}

/// The keyring of the development key in `data_dir`, creating the key on first use. Returns whether it
/// was just created.
///
/// # Errors
///
/// [`DevKeyError`] when the file cannot be read or written, or is malformed.
pub fn dev_keyring(data_dir: &Path) -> Result<(KeyringConfig, bool), DevKeyError> {
    let path = data_dir.join(DEV_KEY_FILE);
    let io = |source| DevKeyError::Io {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(data_dir).map_err(io)?;
    let (hex, created) = match std::fs::File::open(&path) {
        Ok(mut file) => {
            let mut text = String::new();
            file.read_to_string(&mut text).map_err(io)?;
            (text.trim().to_owned(), false)
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = [0u8; DEV_KEY_BYTES];
            std::fs::File::open("/dev/urandom")
                .and_then(|mut random| random.read_exact(&mut bytes))
                .map_err(io)?;
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .map_err(io)?;
            file.write_all(hex.as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(io)?;
            (hex, true)
        }
        Err(error) => return Err(io(error)),
    };
    if hex.len() < 2 * DEV_KEY_BYTES || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(DevKeyError::Malformed(path));
    }
    let config = KeyringConfig {
        active_key_id: DEV_KEY_ID.to_owned(),
        clock_skew_s: super::key::CLOCK_SKEW_S_DEFAULT,
        keys: vec![KeyConfig {
            id: DEV_KEY_ID.to_owned(),
            secret_hex: Some(hex),
            secret_base64: None,
        }],
    };
    Ok((config, created))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_made_once_and_reused() {
        let dir = std::env::temp_dir().join(format!("sb-dev-key-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (first, created) = dev_keyring(&dir).unwrap();
        assert!(created);
        let (second, created) = dev_keyring(&dir).unwrap();
        assert!(!created);
        assert_eq!(first.keys[0].secret_hex, second.keys[0].secret_hex);
        first.validate().unwrap();
        std::fs::write(dir.join(DEV_KEY_FILE), "nope").unwrap();
        assert!(matches!(dev_keyring(&dir), Err(DevKeyError::Malformed(_))));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
