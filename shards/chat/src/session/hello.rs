//! `hello`: the token (from the frame or the upgrade), the tenant's origins, the `welcome` and its resume
//! token, and the refusals a client can act on.

use std::sync::Arc;

use switchboard_auth::VerifyOptions;
use switchboard_protocol::app::{ErrorCode, Lane, Message, OwnedFrame, Welcome, PROTOCOL_VERSION};

use super::{refusal, Session, SessionContext, SessionOutput, CLOSE_POLICY, RESUME_TOKEN_PREFIX};
use crate::owner::error_frame;

impl Session {
    pub(super) fn hello(
        &mut self,
        hello: switchboard_protocol::app::Hello,
        ctx: &SessionContext<'_>,
        out: &mut Vec<SessionOutput>,
    ) {
        if self.principal.is_some() {
            return out.push(refusal(ErrorCode::INVALID_STATE, "hello already received"));
        }
        if hello.protocol_version != PROTOCOL_VERSION {
            out.push(refusal(
                ErrorCode::UNSUPPORTED_VERSION,
                "this server speaks protocol version 1",
            ));
            return out.push(SessionOutput::Close(CLOSE_POLICY));
        }
        let token = if hello.auth_token.is_empty() {
            self.handshake_token.take().unwrap_or_default()
        } else {
            hello.auth_token
        };
        let options = VerifyOptions {
            now_s: ctx.wall_ms / 1_000,
            expected_tenant: None,
        };
        match ctx.keyring.verify(&token, options) {
            Ok(claims)
                if !crate::origins::allows(
                    &ctx.config.origins,
                    claims.tenant,
                    self.origin.as_deref(),
                ) =>
            {
                let origin = self.origin.take().unwrap_or_default();
                out.push(refusal(
                    ErrorCode::UNAUTHORIZED,
                    &format!(
                        "origin {origin} is not allowed for tenant {}",
                        claims.tenant
                    ),
                ));
                out.push(SessionOutput::Close(CLOSE_POLICY));
            }
            Ok(claims) => {
                let claims = Arc::new(claims);
                self.handshake_token = None;
                self.principal = Some(Arc::clone(&claims));
                let resume_token =
                    format!("{RESUME_TOKEN_PREFIX}{:x}.{:x}", claims.user, ctx.wall_ms);
                out.push(SessionOutput::Frame(OwnedFrame::new(Message::Welcome(
                    Welcome {
                        protocol_version: PROTOCOL_VERSION,
                        heartbeat_interval_ms: u32::try_from(ctx.heartbeat_interval_ms)
                            .unwrap_or(u32::MAX),
                        resume_token,
                        server_time_ms: ctx.wall_ms,
                    },
                ))));
                let offered = hello.resume_token.as_str();
                if !offered.is_empty() && !resume_token_is_for(offered, claims.user) {
                    // After the welcome (on its lane, so the error does not overtake it): the
                    // session is new, and the client should know why.
                    let mut frame = error_frame(
                        ErrorCode::RESUME_REJECTED,
                        "resume token not recognised (another user's, or not from this server); a new session started: send resume with your positions",
                        None,
                    );
                    frame.lane = Lane::System;
                    out.push(SessionOutput::Frame(frame));
                }
                out.push(SessionOutput::Authenticated(claims));
            }
            Err(error) => {
                out.push(refusal(
                    ErrorCode::UNAUTHORIZED,
                    &format!("token refused: {error}"),
                ));
                out.push(SessionOutput::Unauthorized(error));
                out.push(SessionOutput::Close(CLOSE_POLICY));
            }
        }
    }
}

/// Whether `token` is a resume token this server gave `user` (`sb1.<user hex>.<millis hex>`).
fn resume_token_is_for(token: &str, user: u64) -> bool {
    let Some(rest) = token.strip_prefix(RESUME_TOKEN_PREFIX) else {
        return false;
    };
    let mut parts = rest.split('.');
    let (Some(owner), Some(stamp), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    u64::from_str_radix(owner, 16) == Ok(user) && u64::from_str_radix(stamp, 16).is_ok()
}
