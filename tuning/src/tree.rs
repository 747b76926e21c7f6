//! Reading and writing sysctl values under a `/proc/sys`-shaped directory.
//!
//! [`SysctlTree`] is the seam that lets tests run every command against a fake tree in a temporary
//! directory, including a read-only one: tests run as root, where file permissions do not stop writes, so
//! read-only is simulated with [`ProcSysTree::read_only`] rather than with `chmod`.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::sysctl_file;

/// The default root of the sysctl tree.
pub const PROC_SYS_ROOT: &str = "/proc/sys";

/// Why a sysctl could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    /// The key is not a valid sysctl key (our caller's bug or a bad state file).
    #[error("invalid sysctl key {key:?}")]
    InvalidKey {
        /// The key as given.
        key: String,
    },
    /// The tree cannot be written: a read-only `/proc/sys` (containers) or no permission (local system).
    #[error("{key}: /proc/sys is read-only here (container?)")]
    ReadOnly {
        /// The key whose write was refused.
        key: String,
    },
    /// Any other I/O failure (local system), e.g. the kernel rejected the value with EINVAL.
    #[error("{key}: {operation} failed: {message}")]
    Io {
        /// The key.
        key: String,
        /// `read` or `write`.
        operation: &'static str,
        /// The OS error text.
        message: String,
    },
}

/// A place sysctl values are read from and written to.
pub trait SysctlTree {
    /// The current raw value of `key` (trailing newline removed), or `None` if the key does not exist.
    fn read(&self, key: &str) -> Result<Option<String>, TreeError>;

    /// Writes `value` to `key`.
    fn write(&self, key: &str, value: &str) -> Result<(), TreeError>;

    /// Whether writes can succeed, tested without changing anything; `probe_key` is an existing key.
    fn is_writable(&self, probe_key: &str) -> bool;
}

/// The path of `key` under `root`, or `None` if the key is not a safe sysctl key.
pub fn key_path(root: &Path, key: &str) -> Option<PathBuf> {
    let dotted = sysctl_file::normalize_key(key)?;
    Some(
        dotted
            .split('.')
            .fold(root.to_path_buf(), |path, segment| path.join(segment)),
    )
}

/// A sysctl tree on the file system: `/proc/sys` itself or a copy of its shape.
#[derive(Debug, Clone)]
pub struct ProcSysTree {
    root: PathBuf,
    read_only: bool,
}

impl ProcSysTree {
    /// A tree rooted at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            read_only: false,
        }
    }

    /// The same tree, but every write fails with [`TreeError::ReadOnly`] as in a container.
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    /// The tree's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> Result<PathBuf, TreeError> {
        key_path(&self.root, key).ok_or_else(|| TreeError::InvalidKey {
            key: key.to_string(),
        })
    }
}

/// Whether an I/O error means "this tree is not writable here".
fn is_read_only_error(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::EROFS) | Some(libc::EACCES) | Some(libc::EPERM)
    )
}

impl SysctlTree for ProcSysTree {
    fn read(&self, key: &str) -> Result<Option<String>, TreeError> {
        match std::fs::read_to_string(self.path(key)?) {
            Ok(text) => Ok(Some(text.trim_end_matches('\n').to_string())),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(TreeError::Io {
                key: key.to_string(),
                operation: "read",
                message: error.to_string(),
            }),
        }
    }

    fn write(&self, key: &str, value: &str) -> Result<(), TreeError> {
        let path = self.path(key)?;
        if self.read_only {
            return Err(TreeError::ReadOnly {
                key: key.to_string(),
            });
        }
        // No `create`: a sysctl that does not exist cannot be set, and must not be invented in a fake tree.
        let result = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&path)
            .and_then(|mut file| file.write_all(format!("{value}\n").as_bytes()));
        result.map_err(|error| {
            if is_read_only_error(&error) {
                TreeError::ReadOnly {
                    key: key.to_string(),
                }
            } else {
                TreeError::Io {
                    key: key.to_string(),
                    operation: "write",
                    message: error.to_string(),
                }
            }
        })
    }

    fn is_writable(&self, probe_key: &str) -> bool {
        if self.read_only {
            return false;
        }
        let Ok(path) = self.path(probe_key) else {
            return false;
        };
        // Opening for write without writing changes nothing, yet fails with EROFS on a read-only mount
        // and EACCES without privilege.
        match std::fs::OpenOptions::new().write(true).open(path) {
            Ok(_) => true,
            Err(error) => !is_read_only_error(&error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_path_rejects_escapes() {
        let root = Path::new("/proc/sys");
        assert_eq!(
            key_path(root, "net.core.somaxconn").unwrap(),
            Path::new("/proc/sys/net/core/somaxconn")
        );
        assert_eq!(
            key_path(root, "net/core/somaxconn").unwrap(),
            Path::new("/proc/sys/net/core/somaxconn")
        );
        assert!(key_path(root, "../../etc/passwd").is_none());
        assert!(key_path(root, "").is_none());
    }
}
