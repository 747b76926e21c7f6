//! Errors of the auth layer: token verification, minting and key configuration.

use switchboard_protocol::app::ErrorCode;

/// Why a token was refused. Every variant is the peer's fault (or an expired session) and becomes an
/// `error` frame with code `unauthorized` ([`TokenError::error_code`]), then a close 1008.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Peer: not a token at all — too long, not exactly one `.`, bad base64, wrong MAC length, or a
    /// payload (already MAC-checked) whose fields are out of range or truncated.
    #[error("malformed token")]
    Malformed,
    /// Peer (or a newer minter): the payload's version byte is not one this server verifies.
    #[error("unsupported token version {0}")]
    UnsupportedVersion(u8),
    /// Peer or operator: the key id is not in the keyring (retired key, or a token for another
    /// deployment).
    #[error("token signed with an unknown key id")]
    UnknownKey,
    /// Peer: the MAC does not match — the token was altered or signed with a different secret.
    #[error("token signature does not match")]
    BadSignature,
    /// Expiry: `now ≥ expires_at_s + clock_skew_s`.
    #[error("token expired at {expires_at_s} (now {now_s})")]
    Expired {
        /// The token's expiry, unix seconds.
        expires_at_s: u64,
        /// The verifier's time, unix seconds.
        now_s: u64,
    },
    /// Peer or clock: `issued_at_s > now + clock_skew_s` — minted in the future beyond the allowance.
    #[error("token not valid before {issued_at_s} (now {now_s})")]
    NotYetValid {
        /// The token's issue time, unix seconds.
        issued_at_s: u64,
        /// The verifier's time, unix seconds.
        now_s: u64,
    },
    /// Peer: a valid token for another tenant than the one this endpoint serves.
    #[error("token is for tenant {token_tenant}, expected {expected_tenant}")]
    WrongTenant {
        /// The tenant the token names.
        token_tenant: u64,
        /// The tenant the verifier required.
        expected_tenant: u64,
    },
}

impl TokenError {
    /// The protocol error code sent for this refusal: always `unauthorized`.
    pub fn error_code(self) -> ErrorCode {
        ErrorCode::UNAUTHORIZED
    }

    /// A short, stable label for counters and logs, e.g. `"expired"`.
    pub fn label(self) -> &'static str {
        match self {
            TokenError::Malformed => "malformed",
            TokenError::UnsupportedVersion(_) => "unsupported_version",
            TokenError::UnknownKey => "unknown_key",
            TokenError::BadSignature => "bad_signature",
            TokenError::Expired { .. } => "expired",
            TokenError::NotYetValid { .. } => "not_yet_valid",
            TokenError::WrongTenant { .. } => "wrong_tenant",
        }
    }
}

/// Why a token could not be minted. The caller's fault (bad arguments).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MintError {
    /// Caller: the lifetime is zero or `issued_at_s + ttl_s` overflows.
    #[error("token lifetime {ttl_s}s is zero or overflows from issue time {issued_at_s}")]
    BadLifetime {
        /// Requested lifetime, seconds.
        ttl_s: u64,
        /// Issue time, unix seconds.
        issued_at_s: u64,
    },
    /// Caller: groups were given for a role other than agent.
    #[error("only agent tokens carry groups (role {0})")]
    GroupsForNonAgent(super::Role),
    /// Caller: more groups than a token carries.
    #[error("{count} groups exceed the limit of {max}")]
    TooManyGroups {
        /// Groups given.
        count: usize,
        /// [`super::claims::GROUPS_MAX`].
        max: usize,
    },
    /// Caller: a customer value above 100 percent, or one given for a role other than customer.
    #[error(
        "customer value {value} is above 100 or given for role {role} (only customers are rated)"
    )]
    BadValue {
        /// The value given, percent.
        value: u8,
        /// The token's role.
        role: super::Role,
    },
}

/// A key (or keyring) configuration that cannot be used. The operator's fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Operator: the secret is neither valid hex nor valid base64, or both or neither form is given.
    #[error("key `{key_id}`: {reason}")]
    BadSecret {
        /// The key's id.
        key_id: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Operator: the secret is shorter than [`super::key::KEY_BYTES_MIN`].
    #[error("key `{key_id}` has {bytes} bytes, at least {min} are required")]
    TooShort {
        /// The key's id.
        key_id: String,
        /// Decoded length.
        bytes: usize,
        /// The minimum.
        min: usize,
    },
    /// Operator: the key id is empty, too long or uses characters outside `[A-Za-z0-9._-]`.
    #[error("key id `{0}` must be 1..=32 characters of [A-Za-z0-9._-]")]
    BadKeyId(String),
    /// Operator: two keys share an id.
    #[error("key id `{0}` appears twice")]
    DuplicateKeyId(String),
    /// Operator: the active key id names no configured key (or there are no keys).
    #[error("active key id `{0}` is not among the configured keys")]
    NoActiveKey(String),
    /// Operator: more keys than [`super::key::KEYS_MAX`].
    #[error("{0} keys exceed the limit")]
    TooManyKeys(usize),
    /// Operator: the clock skew allowance is larger than [`super::key::CLOCK_SKEW_S_MAX`].
    #[error("clock_skew_s = {0} exceeds the limit")]
    ClockSkewTooLarge(u64),
}
