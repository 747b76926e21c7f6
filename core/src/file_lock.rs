//! Advisory whole-file locks (`flock(2)`), for directories that one process at a time may write
//! (a shard's durable log).
//!
//! A lock belongs to the open file: it lasts until every descriptor of that open file is closed,
//! and a second `open` of the same path (in this process or another) conflicts with it.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

/// Takes an exclusive lock on `file` without waiting.
///
/// # Errors
///
/// An error of kind [`io::ErrorKind::WouldBlock`] when another open file holds a lock on the same
/// file; the operating system's error otherwise.
pub fn try_lock_exclusive(file: &File) -> io::Result<()> {
    // SAFETY: flock(2) on a descriptor that `file` owns and keeps open for the call; it takes plain
    // integers and touches no memory of ours.
    let result = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::try_lock_exclusive;

    #[test]
    fn a_second_open_of_a_locked_file_is_refused_until_the_first_closes() {
        let path = std::env::temp_dir().join(format!("switchboard-flock-{}", std::process::id()));
        let open = || {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .unwrap()
        };
        let first = open();
        try_lock_exclusive(&first).unwrap();
        let second = open();
        let err = try_lock_exclusive(&second).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
        drop(first);
        try_lock_exclusive(&second).unwrap();
        drop(second);
        std::fs::remove_file(&path).unwrap();
    }
}
