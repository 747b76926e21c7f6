//! Shared start-up of the bench-only peer echo servers (`src/bin/peer_*.rs`).
//!
//! Every peer takes `--listen ADDR`, runs one current-thread tokio runtime (so "one server core" holds
//! without relying on `taskset` alone), prints `listening on ADDR` once bound (port 0 picks a free
//! port; the harness and the tests read that line), and echoes until killed.

use std::net::SocketAddr;

use anyhow::{bail, Context};

/// Peer command line: `--listen ADDR` (default `127.0.0.1:0`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerArgs {
    /// Address to bind; port 0 asks the kernel for a free one.
    pub listen: SocketAddr,
}

impl PeerArgs {
    /// Parses the process arguments after the program name.
    ///
    /// # Errors
    ///
    /// An unknown flag, a missing value or an unparsable address.
    pub fn parse(args: impl IntoIterator<Item = String>) -> anyhow::Result<Self> {
        let mut listen = SocketAddr::from(([127, 0, 0, 1], 0));
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            match flag.as_str() {
                "--listen" => {
                    let value = args.next().context("--listen needs an address")?;
                    listen = value
                        .parse()
                        .with_context(|| format!("bad address `{value}`"))?;
                }
                other => bail!("unknown argument `{other}` (usage: --listen ADDR)"),
            }
        }
        Ok(Self { listen })
    }
}

/// Builds the single-threaded runtime every peer runs on.
///
/// # Errors
///
/// The runtime's I/O driver could not be created.
pub fn current_thread_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .context("building the current-thread runtime")
}

/// Binds the listener and announces the bound address on stdout.
///
/// # Errors
///
/// The address cannot be bound.
pub async fn bind(listen: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let bound = listener.local_addr()?;
    println!("listening on {bound}");
    Ok(listener)
}

/// The first subprotocol a client offered in `Sec-WebSocket-Protocol`, which a peer accepts.
///
/// Echo servers do not interpret messages, so agreeing to the client's first choice (for example
/// `switchboard.v1` from the load generator) keeps clients that insist on a subprotocol working.
pub fn first_offered_subprotocol(header: Option<&[u8]>) -> Option<String> {
    let text = std::str::from_utf8(header?).ok()?;
    let first = text.split(',').next()?.trim();
    (!first.is_empty()).then(|| first.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_listen_flag() {
        let args = PeerArgs::parse(["--listen".to_owned(), "127.0.0.1:9000".to_owned()]).unwrap();
        assert_eq!(args.listen, "127.0.0.1:9000".parse().unwrap());
        assert!(PeerArgs::parse(["--bogus".to_owned()]).is_err());
        assert!(PeerArgs::parse(["--listen".to_owned()]).is_err());
    }

    #[test]
    fn picks_first_subprotocol() {
        let offered = first_offered_subprotocol(Some(b"switchboard.v1, switchboard.json.v1"));
        assert_eq!(offered.as_deref(), Some("switchboard.v1"));
        assert_eq!(first_offered_subprotocol(None), None);
        assert_eq!(first_offered_subprotocol(Some(b" ")), None);
    }
}
