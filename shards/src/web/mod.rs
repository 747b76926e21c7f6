//! HTTP on the WebSocket port (chat mode): a browser that loads `http://host:7878/` gets the start page,
//! the customer widget and the agent console, embedded in the binary; a development server also mints
//! demo tokens. Everything else on the port is the WebSocket upgrade.
//!
//! - [`assets`]: the embedded files, gzip-compressed once at start-up, with entity tags.
//! - [`demo`]: demo tokens (`GET /demo/token`), only while the development signing key is in use.
//! - [`response`]: writing a whole `Connection: close` HTTP/1.1 response.
//!
//! The connection layer hands a plain `GET` to the shard as a `PlainRequest` event; [`Site::respond`]
//! answers it in one response and the connection closes. No request body is read and no state is kept
//! per request, so a browser costs one short connection per file.

pub mod assets;
pub mod demo;
pub mod response;

use switchboard_protocol::ws::handshake::PlainRequest;

pub use assets::{Asset, Assets};
pub use demo::DemoTokens;
use response::Response;

/// What the WebSocket port serves over plain HTTP.
#[derive(Debug)]
pub struct Site {
    assets: Assets,
    demo: Option<DemoTokens>,
}

impl Site {
    /// The embedded files, and demo tokens when `demo` is given (the development key is in use).
    pub fn new(demo: Option<DemoTokens>) -> Site {
        Site {
            assets: Assets::embedded(),
            demo,
        }
    }

    /// Writes the whole response to `request` into `out`; returns its status.
    pub fn respond(&self, request: &PlainRequest, wall_ms: u64, out: &mut Vec<u8>) -> u16 {
        let response = match request.path.as_str() {
            demo::PATH => match &self.demo {
                Some(demo) => demo.respond(request.query.as_deref(), wall_ms),
                None => Response::text(404, demo::OFF_TEXT),
            },
            path => match self.assets.get(path) {
                Some(asset) => asset.respond(request),
                None if path == "/ws" => Response::text(
                    426,
                    "this is the WebSocket endpoint: connect with a WebSocket client (subprotocol switchboard.v1 or switchboard.json.v1)\n",
                ),
                None => Response::text(404, "not found\n"),
            },
        };
        response.write(out);
        response.status
    }

    /// Whether demo tokens are minted (the development signing key is in use).
    pub fn demo_enabled(&self) -> bool {
        self.demo.is_some()
    }
}
