//! Demo tokens for trying the product in a browser: `GET /demo/token?role=customer|agent[&user=N]`
//! answers `{"token": ..., "tenant": "1", "user": ..., "role": ..., "groups": [...]}`.
//!
//! Only a server running on its development signing key (no `[auth]` keys configured) mints them: a
//! configuration with real keys turns this off (404 with [`OFF_TEXT`]), and tokens then come from the
//! business's own backend (docs/tokens.md). Customers without `user` get a fresh id; agents default
//! to [`DEMO_AGENT_DEFAULT`] and serve every agent group.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::response::Response;
use crate::auth::{Keyring, Role};

/// The path.
pub const PATH: &str = "/demo/token";
/// The answer when demo tokens are off.
pub const OFF_TEXT: &str = "demo tokens are off: this server has configured signing keys; mint tokens from your backend (docs/tokens.md)\n";
/// The tenant of every demo token.
pub const DEMO_TENANT: u64 = 1;
/// The agent a demo console is, unless it asks for another (`user=`).
pub const DEMO_AGENT_DEFAULT: u64 = 1001;
/// How long a demo token is valid, seconds.
pub const DEMO_TOKEN_TTL_S: u64 = 3_600;
/// Demo customers get ids from here up.
const DEMO_CUSTOMER_BASE: u64 = 1 << 32;

/// Mints demo tokens with the development key.
#[derive(Debug)]
pub struct DemoTokens {
    keyring: Arc<Keyring>,
    /// Every agent group id (a demo agent serves them all).
    groups: Vec<u32>,
    next_customer: AtomicU64,
}

impl DemoTokens {
    /// Demo tokens signed by `keyring` (the development key), agents in `groups`.
    pub fn new(keyring: Arc<Keyring>, groups: Vec<u32>, wall_ms: u64) -> DemoTokens {
        DemoTokens {
            keyring,
            groups,
            // Fresh ids after a restart too (the log keeps conversations of earlier customers).
            next_customer: AtomicU64::new(DEMO_CUSTOMER_BASE + (wall_ms % (1 << 30)) * 1_000),
        }
    }

    /// The answer to `GET /demo/token?<query>`.
    pub fn respond(&self, query: Option<&str>, wall_ms: u64) -> Response<'static> {
        let mut role = None;
        let mut user = None;
        for pair in query.unwrap_or_default().split('&') {
            match pair.split_once('=') {
                Some(("role", "customer")) => role = Some(Role::Customer),
                Some(("role", "agent")) => role = Some(Role::Agent),
                Some(("user", value)) => user = value.parse::<u64>().ok().filter(|&u| u > 0),
                _ => {}
            }
        }
        let Some(role) = role else {
            return Response::text(400, "ask for role=customer or role=agent\n");
        };
        let (user, groups) = match role {
            Role::Agent => {
                let user = user.unwrap_or(DEMO_AGENT_DEFAULT);
                if u32::try_from(user).is_err() {
                    return Response::text(400, "agent ids are below 2^32\n");
                }
                (user, self.groups.as_slice())
            }
            _ => (
                user.unwrap_or_else(|| self.next_customer.fetch_add(1, Ordering::Relaxed)),
                &[][..],
            ),
        };
        let now_s = wall_ms / 1_000;
        let token = match self.keyring.mint(
            DEMO_TENANT,
            user,
            role,
            groups,
            now_s.saturating_sub(5),
            DEMO_TOKEN_TTL_S,
        ) {
            Ok(token) => token,
            Err(_) => return Response::text(500, "could not mint a token\n"),
        };
        let groups: Vec<String> = groups.iter().map(u32::to_string).collect();
        let body = format!(
            "{{\"token\":\"{token}\",\"tenant\":\"{DEMO_TENANT}\",\"user\":\"{user}\",\"role\":\"{}\",\"groups\":[{}],\"expires_in_s\":{DEMO_TOKEN_TTL_S}}}\n",
            role.name(),
            groups.join(",")
        );
        Response {
            status: 200,
            content_type: "application/json",
            body: body.into_bytes().into(),
            gzip: false,
            etag: None,
            cache_control: "no-store",
        }
    }
}
