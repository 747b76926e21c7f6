//! The admin accept loop: every connection is served on its own short-lived thread, at most
//! [`AdminLimits::connections_max`] at once, each bounded in bytes and time and then closed. A connection
//! beyond the cap is answered 503 and closed at once by the accept loop, never queued.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tracing::debug;

use super::http::{self, Response, REQUEST_BYTES_MAX};
use super::limits::AdminLimits;
use super::source::AdminSource;

/// How long to back off after a failed accept (for example EMFILE), instead of spinning.
const ACCEPT_RETRY_MS: u64 = 25;
/// Bytes read from the socket per `read` call.
const READ_CHUNK_BYTES: usize = 1024;
/// How long, after answering, unread request bytes are drained before the socket is closed.
const LINGER_MS: u64 = 200;
/// The most unread request bytes drained after answering.
const LINGER_BYTES_MAX: usize = 64 * 1024;
/// The stack of one connection thread: it parses a head of at most `REQUEST_BYTES_MAX` bytes into heap
/// buffers and renders into a `String`, so a small stack suffices and a full cap of threads stays cheap.
const CONNECTION_STACK_BYTES: usize = 256 * 1024;

/// Serves connections until `stop` is set; the one who sets it then connects once to wake the blocking
/// `accept`, and that connection is dropped unanswered. Before returning it joins the connection threads
/// still running (each ends within its deadlines).
pub(super) fn run(
    listener: &TcpListener,
    source: &Arc<AdminSource>,
    limits: AdminLimits,
    stop: &AtomicBool,
) {
    let mut connections: Vec<JoinHandle<()>> = Vec::with_capacity(limits.connections_max);
    loop {
        let accepted = listener.accept();
        if stop.load(Ordering::Acquire) {
            break;
        }
        match accepted {
            Ok((stream, peer)) => {
                // A finished thread's handle is dropped (its thread is already gone).
                connections.retain(|connection| !connection.is_finished());
                if connections.len() >= limits.connections_max {
                    debug!(%peer, limit = limits.connections_max, "admin connection refused: at the cap");
                    refuse(stream, limits.connections_max);
                    continue;
                }
                match spawn_connection(stream, peer, source, limits) {
                    Ok(connection) => connections.push(connection),
                    // The stream went down with the closure: the client sees the connection closed.
                    Err(error) => debug!(%peer, %error, "cannot spawn an admin connection thread"),
                }
            }
            Err(error) => {
                debug!(%error, "admin accept failed");
                std::thread::sleep(Duration::from_millis(ACCEPT_RETRY_MS));
            }
        }
    }
    for connection in connections {
        let _ = connection.join();
    }
}

/// Serves `stream` on a new thread named `admin-conn`.
fn spawn_connection(
    stream: TcpStream,
    peer: SocketAddr,
    source: &Arc<AdminSource>,
    limits: AdminLimits,
) -> std::io::Result<JoinHandle<()>> {
    let source = Arc::clone(source);
    std::thread::Builder::new()
        .name("admin-conn".to_owned())
        .stack_size(CONNECTION_STACK_BYTES)
        .spawn(move || {
            if let Err(error) = serve(stream, &source, limits.request_deadline_ms) {
                debug!(%peer, %error, "admin connection ended with an error");
            }
        })
}

/// Answers 503 without reading the request and closes: one non-blocking write into the fresh socket's empty
/// send buffer, so a refused client can never hold up the accept loop. A client whose request is already in
/// flight may see the close as a reset instead of the 503; either way it is told no at once.
fn refuse(mut stream: TcpStream, connections_max: usize) {
    let mut out = Vec::new();
    Response::too_many_connections(connections_max).write(&mut out);
    if stream.set_nonblocking(true).is_ok() {
        let _ = stream.write(&out);
    }
    let _ = stream.shutdown(Shutdown::Write);
}

/// Reads one request, answers it and closes the connection.
fn serve(
    mut stream: TcpStream,
    source: &AdminSource,
    request_deadline_ms: u64,
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    let deadline = Instant::now() + Duration::from_millis(request_deadline_ms);
    let response = match read_request(&mut stream, deadline)? {
        Some(buf) => match http::parse_request(&buf) {
            Ok(Some(request)) => http::route(&request, source),
            Ok(None) => Response::bad_request("incomplete request"),
            Err(error) => Response::from_request_error(&error),
        },
        None => Response::request_timeout(),
    };
    let mut out = Vec::with_capacity(response.body_len() + 256);
    response.write(&mut out);
    stream.set_write_timeout(Some(Duration::from_millis(request_deadline_ms)))?;
    stream.write_all(&out)?;
    linger(&mut stream);
    Ok(())
}

/// Sends FIN, then reads and discards what the client still sends (bounded in bytes and time) before the
/// socket is dropped: closing with unread input sends a reset, which can destroy the response in flight.
fn linger(stream: &mut TcpStream) {
    if stream.shutdown(Shutdown::Write).is_err() {
        return;
    }
    let deadline = Instant::now() + Duration::from_millis(LINGER_MS);
    let mut chunk = [0u8; READ_CHUNK_BYTES];
    let mut discarded = 0;
    while discarded < LINGER_BYTES_MAX {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() || stream.set_read_timeout(Some(remaining)).is_err() {
            return;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(read) => discarded += read,
        }
    }
}

/// Reads until the request head is complete, `REQUEST_BYTES_MAX` bytes arrived, the peer stopped sending, or
/// `deadline` passed (`None`).
fn read_request(stream: &mut TcpStream, deadline: Instant) -> std::io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::with_capacity(READ_CHUNK_BYTES);
    let mut chunk = [0u8; READ_CHUNK_BYTES];
    while buf.len() < REQUEST_BYTES_MAX && !http::head_complete(&buf) {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Ok(None);
        }
        stream.set_read_timeout(Some(remaining))?;
        let wanted = READ_CHUNK_BYTES.min(REQUEST_BYTES_MAX - buf.len());
        match stream.read(&mut chunk[..wanted]) {
            Ok(0) => break,
            Ok(read) => buf.extend_from_slice(&chunk[..read]),
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Ok(None)
            }
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(Some(buf))
}
