//! The admin accept loop: one connection at a time, each bounded in bytes and time, then closed.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tracing::debug;

use super::http::{self, Response, REQUEST_BYTES_MAX};
use super::source::AdminSource;

/// How long one client has to send its whole request, and then to take the whole response.
const REQUEST_DEADLINE_MS: u64 = 2_000;
/// How long to back off after a failed accept (for example EMFILE), instead of spinning.
const ACCEPT_RETRY_MS: u64 = 25;
/// Bytes read from the socket per `read` call.
const READ_CHUNK_BYTES: usize = 1024;
/// How long, after answering, unread request bytes are drained before the socket is closed.
const LINGER_MS: u64 = 200;
/// The most unread request bytes drained after answering.
const LINGER_BYTES_MAX: usize = 64 * 1024;

/// Serves connections until `stop` is set; the one who sets it then connects once to wake the blocking
/// `accept`, and that connection is dropped unanswered.
pub(super) fn run(listener: &TcpListener, source: &AdminSource, stop: &AtomicBool) {
    loop {
        let accepted = listener.accept();
        if stop.load(Ordering::Acquire) {
            return;
        }
        match accepted {
            Ok((stream, peer)) => {
                if let Err(error) = serve(stream, source) {
                    debug!(%peer, %error, "admin connection ended with an error");
                }
            }
            Err(error) => {
                debug!(%error, "admin accept failed");
                std::thread::sleep(Duration::from_millis(ACCEPT_RETRY_MS));
            }
        }
    }
}

/// Reads one request, answers it and closes the connection.
fn serve(mut stream: TcpStream, source: &AdminSource) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    let deadline = Instant::now() + Duration::from_millis(REQUEST_DEADLINE_MS);
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
    stream.set_write_timeout(Some(Duration::from_millis(REQUEST_DEADLINE_MS)))?;
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
