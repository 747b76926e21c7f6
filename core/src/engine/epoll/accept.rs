//! Listeners of the epoll backend: accepting, and pausing a listener while descriptors or
//! connection slots are exhausted (level-triggered readiness would otherwise spin).

use std::{io::ErrorKind, net::TcpListener, os::fd::AsRawFd};

use tracing::warn;

use super::{conn::EpollConn, token, EpollEngine, Pending, ACCEPTS_PER_TICK_MAX, TOKEN_LISTENER};
use crate::engine::{event::Event, ids::ListenerId};

/// A listening socket and whether it is paused.
pub(super) struct EpollListener {
    pub(super) socket: TcpListener,
    /// Removed from epoll because descriptors or connection slots ran out.
    pub(super) paused: bool,
}

impl EpollEngine {
    pub(super) fn accept_some(&mut self, index: u32) {
        let listener = ListenerId(index);
        for _ in 0..ACCEPTS_PER_TICK_MAX {
            if self.slots.live_count() == self.conns.len() {
                self.pause_listener(index);
                return;
            }
            let (stream, peer) = match self.listeners[index as usize].socket.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
                    ) =>
                {
                    warn!(error = %e, "accept paused: out of descriptors or memory");
                    self.pause_listener(index);
                    return;
                }
                Err(e) => {
                    warn!(error = %e, "accept failed");
                    continue;
                }
            };
            if let Err(e) = stream.set_nonblocking(true) {
                warn!(error = %e, "cannot make accepted socket nonblocking; dropping it");
                continue;
            }
            let conn = self.slots.allocate().expect("checked above");
            self.conns[conn.index()] = Some(EpollConn::new(stream, false));
            if let Err(errno) = self.register(conn) {
                warn!(%errno, "cannot register accepted socket; dropping it");
                self.drop_conn(conn);
                continue;
            }
            self.queue.push_back(Pending::Ready(Event::Accepted {
                listener,
                conn,
                peer: Some(peer),
            }));
        }
    }

    fn pause_listener(&mut self, index: u32) {
        let listener = &mut self.listeners[index as usize];
        if !listener.paused {
            listener.paused = true;
            let _ = self.epoll.delete(listener.socket.as_raw_fd());
        }
    }

    pub(super) fn resume_listeners(&mut self) {
        for (index, listener) in self.listeners.iter_mut().enumerate() {
            if listener.paused {
                listener.paused = false;
                let tok = token(TOKEN_LISTENER, index as u32, 0);
                if let Err(errno) =
                    self.epoll
                        .add(listener.socket.as_raw_fd(), tok, libc::EPOLLIN as u32)
                {
                    warn!(%errno, "cannot resume listener");
                }
            }
        }
    }
}
