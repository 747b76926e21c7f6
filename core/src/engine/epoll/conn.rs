//! One epoll connection: its socket, its ordered send queue and its interest set.

use std::{
    io::{ErrorKind, IoSlice, Write},
    net::TcpStream,
};

use crate::engine::event::{Errno, Event};
use crate::engine::ids::ConnId;
use crate::engine::send_list::SendList;

/// Per-connection state of the epoll backend.
#[derive(Debug)]
pub(super) struct EpollConn {
    pub(super) stream: TcpStream,
    /// Buffers waiting to be written, in order; the front one is `front_written` bytes done.
    pub(super) sends: SendList,
    pub(super) front_written: usize,
    /// A nonblocking connect is in progress (waiting for writability).
    pub(super) connecting: bool,
    /// Reading ended (EOF or error); no more `EPOLLIN` interest.
    pub(super) read_closed: bool,
    /// `shutdown_write` was asked: shut down once `sends` drains.
    pub(super) shutdown_pending: bool,
    /// Listed in the engine's dirty list (sends to flush at the next poll).
    pub(super) dirty: bool,
    /// The interest set currently registered with epoll.
    pub(super) interest: u32,
}

impl EpollConn {
    pub(super) fn new(stream: TcpStream, connecting: bool) -> Self {
        Self {
            stream,
            sends: SendList::new(),
            front_written: 0,
            connecting,
            read_closed: false,
            shutdown_pending: false,
            dirty: false,
            interest: 0,
        }
    }

    /// The interest set this state needs.
    pub(super) fn wanted_interest(&self) -> u32 {
        let mut interest = 0;
        if !self.read_closed && !self.connecting {
            interest |= libc::EPOLLIN as u32;
        }
        if self.connecting || !self.sends.is_empty() {
            interest |= libc::EPOLLOUT as u32;
        }
        interest
    }

    /// Writes queued sends until the socket would block; finished sends (and, on error, every
    /// queued send) are reported through `out`. A send with a shared payload is one `writev`.
    pub(super) fn flush(&mut self, conn: ConnId, out: &mut impl FnMut(Event<'static>)) {
        while let Some(front) = self.sends.front() {
            let mut pieces = [IoSlice::new(&[]); 2];
            let mut count = 0;
            for piece in front.unsent(self.front_written) {
                pieces[count] = IoSlice::new(piece);
                count += 1;
            }
            match self.stream.write_vectored(&pieces[..count]) {
                Ok(n) => {
                    self.front_written += n;
                    if self.front_written == front.len() {
                        self.front_written = 0;
                        let send = self.sends.pop_front().expect("front exists");
                        out(Event::SendComplete {
                            conn,
                            buf: send.head,
                            result: Ok(()),
                        });
                    }
                }
                Err(err) if err.kind() == ErrorKind::WouldBlock => return,
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(err) => {
                    self.fail_sends(conn, Errno::from_io(&err), out);
                    return;
                }
            }
        }
        if self.shutdown_pending {
            self.shutdown_pending = false;
            // A failed shutdown means the connection is already gone; reads will report it.
            let _ = self.stream.shutdown(std::net::Shutdown::Write);
        }
    }

    /// Hands every queued buffer back with `cause`.
    pub(super) fn fail_sends(
        &mut self,
        conn: ConnId,
        cause: Errno,
        out: &mut impl FnMut(Event<'static>),
    ) {
        self.front_written = 0;
        for send in self.sends.drain_all() {
            out(Event::SendComplete {
                conn,
                buf: send.head,
                result: Err(cause),
            });
        }
    }
}
