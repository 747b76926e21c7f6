//! Thin safe wrappers over the few libc calls both backends need (sockets with options std does
//! not expose, epoll, eventfd, rlimit). Together with `uring/` this is the only `unsafe` of the
//! engine; each wrapper checks the return value and hands back owned descriptors.

use std::{
    io,
    mem::{size_of, zeroed},
    net::{SocketAddr, TcpListener},
    os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd},
};

use super::event::Errno;

fn last_errno() -> Errno {
    Errno::from_io(&io::Error::last_os_error())
}

fn cvt(ret: libc::c_int) -> Result<libc::c_int, Errno> {
    if ret < 0 {
        Err(last_errno())
    } else {
        Ok(ret)
    }
}

/// A socket address in the kernel's layout, owned so it can outlive an io_uring submit.
pub(crate) struct RawSockAddr {
    pub(crate) storage: libc::sockaddr_storage,
    pub(crate) len: libc::socklen_t,
}

impl RawSockAddr {
    pub(crate) fn new(addr: SocketAddr) -> Self {
        // SAFETY: sockaddr_storage is plain old data; all-zero is a valid (unspecified) value.
        let mut storage: libc::sockaddr_storage = unsafe { zeroed() };
        let len = match addr {
            SocketAddr::V4(v4) => {
                let sin = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: v4.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(v4.ip().octets()),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
                unsafe { std::ptr::write(std::ptr::from_mut(&mut storage).cast(), sin) };
                size_of::<libc::sockaddr_in>()
            }
            SocketAddr::V6(v6) => {
                let sin6 = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: v6.port().to_be(),
                    sin6_flowinfo: v6.flowinfo(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: v6.ip().octets(),
                    },
                    sin6_scope_id: v6.scope_id(),
                };
                // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
                unsafe { std::ptr::write(std::ptr::from_mut(&mut storage).cast(), sin6) };
                size_of::<libc::sockaddr_in6>()
            }
        };
        Self {
            storage,
            len: len as libc::socklen_t,
        }
    }

    pub(crate) fn as_ptr(&self) -> *const libc::sockaddr {
        std::ptr::from_ref(&self.storage).cast()
    }
}

fn family(addr: &SocketAddr) -> libc::c_int {
    if addr.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    }
}

fn new_socket(addr: &SocketAddr) -> Result<OwnedFd, Errno> {
    let kind = libc::SOCK_STREAM | libc::SOCK_CLOEXEC;
    // SAFETY: plain syscall with constant arguments; the result is checked before use.
    let fd = cvt(unsafe { libc::socket(family(addr), kind, 0) })?;
    // SAFETY: `fd` was just returned by socket(2) and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn set_int_option(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> Result<(), Errno> {
    let len = size_of::<libc::c_int>() as libc::socklen_t;
    let ptr = std::ptr::from_ref(&value).cast();
    // SAFETY: `ptr` points to a live c_int of `len` bytes for the duration of the call.
    cvt(unsafe { libc::setsockopt(fd, level, name, ptr, len) }).map(drop)
}

fn bind(fd: RawFd, addr: SocketAddr) -> Result<(), Errno> {
    let raw = RawSockAddr::new(addr);
    // SAFETY: `raw` holds a valid sockaddr of `raw.len` bytes for the duration of the call.
    cvt(unsafe { libc::bind(fd, raw.as_ptr(), raw.len) }).map(drop)
}

/// A listening socket with `SO_REUSEADDR` + `SO_REUSEPORT` (one per shard on the same port) and
/// `TCP_NODELAY` (inherited by accepted sockets).
pub(crate) fn listen_socket(addr: SocketAddr, backlog: u32) -> Result<TcpListener, Errno> {
    let fd = new_socket(&addr)?;
    let raw = fd.as_raw_fd();
    set_int_option(raw, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    set_int_option(raw, libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
    set_int_option(raw, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1)?;
    bind(raw, addr)?;
    // SAFETY: `raw` is a socket we own; listen(2) only reads its arguments.
    cvt(unsafe { libc::listen(raw, backlog as libc::c_int) })?;
    Ok(TcpListener::from(fd))
}

/// Whether `addr` can be bound by a socket that does not share its port: `Err(EADDRINUSE)` when
/// another socket listens there, even one with `SO_REUSEPORT` (which our own listeners would
/// otherwise join, silently splitting the clients between two servers). Binds and closes one socket;
/// it never listens, so no client can connect to it.
pub(crate) fn probe_bind(addr: SocketAddr) -> Result<(), Errno> {
    let fd = new_socket(&addr)?;
    let raw = fd.as_raw_fd();
    // SO_REUSEADDR so a port whose old connections linger in TIME_WAIT counts as free.
    set_int_option(raw, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    bind(raw, addr)
}

/// A client TCP socket for `dest`, with `SO_REUSEADDR` and `TCP_NODELAY`, bound to `source`
/// when given (explicit source address and port allowed). Not yet connected.
pub(crate) fn client_socket(
    dest: &SocketAddr,
    source: Option<SocketAddr>,
) -> Result<OwnedFd, Errno> {
    let fd = new_socket(dest)?;
    let raw = fd.as_raw_fd();
    set_int_option(raw, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    set_int_option(raw, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1)?;
    if let Some(source) = source {
        bind(raw, source)?;
    }
    Ok(fd)
}

/// Starts a nonblocking connect; `Ok(true)` if already connected, `Ok(false)` if in progress.
pub(crate) fn connect_nonblocking(fd: RawFd, dest: SocketAddr) -> Result<bool, Errno> {
    set_nonblocking(fd)?;
    let raw = RawSockAddr::new(dest);
    // SAFETY: `raw` holds a valid sockaddr of `raw.len` bytes for the duration of the call.
    match cvt(unsafe { libc::connect(fd, raw.as_ptr(), raw.len) }) {
        Ok(_) => Ok(true),
        Err(Errno(libc::EINPROGRESS)) => Ok(false),
        Err(errno) => Err(errno),
    }
}

/// Sets `O_NONBLOCK` on a descriptor.
pub(crate) fn set_nonblocking(fd: RawFd) -> Result<(), Errno> {
    // SAFETY: fcntl F_GETFL/F_SETFL on a descriptor only reads/writes its status flags.
    let flags = cvt(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    // SAFETY: as above.
    cvt(unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) }).map(drop)
}

/// Reads (and so resets) an eventfd's counter; `Ok(None)` if it was zero (nonblocking fd).
pub(crate) fn read_eventfd(fd: RawFd) -> Result<Option<u64>, Errno> {
    let mut value = 0u64;
    let ptr = std::ptr::from_mut(&mut value).cast();
    // SAFETY: `ptr` points to 8 writable bytes that live for the call.
    match unsafe { libc::read(fd, ptr, size_of::<u64>()) } {
        8 => Ok(Some(value)),
        _ => match last_errno() {
            Errno(libc::EAGAIN) => Ok(None),
            errno => Err(errno),
        },
    }
}

/// A new nonblocking, close-on-exec eventfd.
pub(crate) fn new_eventfd() -> Result<OwnedFd, Errno> {
    // SAFETY: plain syscall; the result is checked before use.
    let fd = cvt(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })?;
    // SAFETY: `fd` was just returned by eventfd(2) and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The soft `RLIMIT_NOFILE`: the most descriptors (and io_uring file-table slots) per process.
pub(crate) fn nofile_soft_limit() -> u64 {
    // SAFETY: rlimit is plain old data; getrlimit fills it in.
    let mut limit: libc::rlimit = unsafe { zeroed() };
    // SAFETY: `limit` is a valid, writable rlimit for the duration of the call.
    match unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } {
        0 => limit.rlim_cur,
        _ => 1024,
    }
}

/// An epoll instance (level-triggered use).
pub(crate) struct Epoll {
    fd: OwnedFd,
}

impl Epoll {
    pub(crate) fn new() -> Result<Self, Errno> {
        // SAFETY: plain syscall; the result is checked before use.
        let fd = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: `fd` was just returned by epoll_create1(2) and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Self { fd })
    }

    fn control(&self, op: libc::c_int, fd: RawFd, token: u64, events: u32) -> Result<(), Errno> {
        let mut event = libc::epoll_event { events, u64: token };
        // SAFETY: `event` is a valid epoll_event for the call; the kernel copies it.
        cvt(unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), op, fd, &mut event) }).map(drop)
    }

    pub(crate) fn add(&self, fd: RawFd, token: u64, events: u32) -> Result<(), Errno> {
        self.control(libc::EPOLL_CTL_ADD, fd, token, events)
    }

    pub(crate) fn modify(&self, fd: RawFd, token: u64, events: u32) -> Result<(), Errno> {
        self.control(libc::EPOLL_CTL_MOD, fd, token, events)
    }

    pub(crate) fn delete(&self, fd: RawFd) -> Result<(), Errno> {
        self.control(libc::EPOLL_CTL_DEL, fd, 0, 0)
    }

    /// Waits up to `timeout_ms` (-1: forever) and fills `events` (its capacity is the maximum).
    pub(crate) fn wait(
        &self,
        events: &mut Vec<libc::epoll_event>,
        timeout_ms: i32,
    ) -> Result<(), Errno> {
        events.clear();
        let max = events.capacity().min(i32::MAX as usize) as libc::c_int;
        // SAFETY: the kernel writes at most `max` entries into the vector's spare capacity.
        let n =
            unsafe { libc::epoll_wait(self.fd.as_raw_fd(), events.as_mut_ptr(), max, timeout_ms) };
        match cvt(n) {
            Ok(n) => {
                // SAFETY: epoll_wait initialised the first `n <= capacity` entries.
                unsafe { events.set_len(n as usize) };
                Ok(())
            }
            Err(Errno(libc::EINTR)) => Ok(()),
            Err(errno) => Err(errno),
        }
    }
}

/// `pwrite(2)`: writes some of `buf` at `offset` of a plain descriptor; returns the byte count.
pub(crate) fn pwrite(fd: RawFd, buf: &[u8], offset: u64) -> Result<usize, Errno> {
    let offset = libc::off_t::try_from(offset).map_err(|_| Errno(libc::EINVAL))?;
    // SAFETY: `buf` is a live, readable slice of `buf.len()` bytes for the duration of the call;
    // the kernel only reads it. A bad `fd` is reported as EBADF, not undefined behaviour.
    let n = unsafe { libc::pwrite(fd, buf.as_ptr().cast(), buf.len(), offset) };
    if n < 0 {
        Err(last_errno())
    } else {
        Ok(n as usize)
    }
}

/// `fdatasync(2)` (`data_only`) or `fsync(2)` of a plain descriptor.
pub(crate) fn fsync(fd: RawFd, data_only: bool) -> Result<(), Errno> {
    // SAFETY: plain syscalls on an integer descriptor; a bad one is reported as EBADF.
    let result = unsafe {
        if data_only {
            libc::fdatasync(fd)
        } else {
            libc::fsync(fd)
        }
    };
    cvt(result).map(drop)
}
