//! Signing keys: configuration ([`KeyringConfig`]) and the [`Keyring`] that mints and verifies.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::claims::{self, is_valid_key_id, Claims, GROUPS_MAX, VALUE_PERCENT_MAX};
use super::error::{KeyError, MintError, TokenError};
use super::role::Role;

type HmacSha256 = Hmac<Sha256>;

/// Shortest accepted secret, bytes: the HMAC-SHA256 output size, so the key is not the weak link.
pub const KEY_BYTES_MIN: usize = 32;
/// Most keys one keyring holds (active plus those being rotated out).
pub const KEYS_MAX: usize = 16;
/// Largest clock skew allowance, seconds.
pub const CLOCK_SKEW_S_MAX: u64 = 3_600;
/// Default clock skew allowance, seconds.
pub const CLOCK_SKEW_S_DEFAULT: u64 = 60;
/// Longest token text accepted, bytes; the largest valid token is about 310 bytes.
pub const TOKEN_BYTES_MAX: usize = 512;
/// Length of the MAC, bytes.
const MAC_BYTES: usize = 32;

/// One signing key as written in the configuration: an id and exactly one of `secret_hex` /
/// `secret_base64` (standard or URL-safe alphabet, padding optional).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// The key id written into tokens, 1..=32 characters of `[A-Za-z0-9._-]`.
    pub id: String,
    /// The secret as hexadecimal text.
    #[serde(default)]
    pub secret_hex: Option<String>,
    /// The secret as base64 text.
    #[serde(default)]
    pub secret_base64: Option<String>,
}

impl fmt::Debug for KeyConfig {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("KeyConfig")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl KeyConfig {
    /// Decodes the secret.
    ///
    /// # Errors
    ///
    /// [`KeyError`] when the id is invalid, not exactly one form is given, the text does not decode,
    /// or the secret is shorter than [`KEY_BYTES_MIN`].
    pub fn secret_bytes(&self) -> Result<Vec<u8>, KeyError> {
        if !is_valid_key_id(&self.id) {
            return Err(KeyError::BadKeyId(self.id.clone()));
        }
        let bad = |reason| KeyError::BadSecret {
            key_id: self.id.clone(),
            reason,
        };
        let bytes = match (&self.secret_hex, &self.secret_base64) {
            (Some(hex), None) => decode_hex(hex.trim()).ok_or(bad("secret_hex is not hex"))?,
            (None, Some(text)) => {
                decode_base64(text.trim()).ok_or(bad("secret_base64 is not base64"))?
            }
            _ => return Err(bad("give exactly one of secret_hex and secret_base64")),
        };
        if bytes.len() < KEY_BYTES_MIN {
            return Err(KeyError::TooShort {
                key_id: self.id.clone(),
                bytes: bytes.len(),
                min: KEY_BYTES_MIN,
            });
        }
        Ok(bytes)
    }

    /// Checks the id and the secret (see [`KeyConfig::secret_bytes`]).
    ///
    /// # Errors
    ///
    /// As [`KeyConfig::secret_bytes`].
    pub fn validate(&self) -> Result<(), KeyError> {
        self.secret_bytes().map(drop)
    }
}

/// Decodes hexadecimal text (either case, even length); `None` if it is not hex.
pub fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let digit = |byte: u8| char::from(byte).to_digit(16);
    let bytes = text.as_bytes();
    if bytes.len() % 2 != 0 {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| Some((digit(pair[0])? * 16 + digit(pair[1])?) as u8))
        .collect()
}

/// Decodes base64 in the standard or URL-safe alphabet, with or without padding.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let url_safe: String = text
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            other => other,
        })
        .collect();
    URL_SAFE_NO_PAD.decode(url_safe).ok()
}

/// The keyring as written in the configuration (`[auth]` section).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyringConfig {
    /// The key that mints new tokens; every key in `keys` verifies.
    pub active_key_id: String,
    /// How far the verifier's clock may disagree with the minter's, seconds (0..=3600).
    #[serde(default = "default_clock_skew_s")]
    pub clock_skew_s: u64,
    /// All keys: the active one and those being rotated in or out (1..=16).
    pub keys: Vec<KeyConfig>,
}

fn default_clock_skew_s() -> u64 {
    CLOCK_SKEW_S_DEFAULT
}

impl KeyringConfig {
    /// Checks every key, that ids are unique, and that the active key exists.
    ///
    /// # Errors
    ///
    /// The first [`KeyError`] found.
    pub fn validate(&self) -> Result<(), KeyError> {
        Keyring::from_config(self).map(drop)
    }
}

/// One decoded key, with the HMAC state already keyed so verifying clones instead of re-hashing.
#[derive(Clone)]
struct Key {
    id: String,
    mac: HmacSha256,
}

/// The validated keys: mints with the active key, verifies with any key.
#[derive(Clone)]
pub struct Keyring {
    keys: Vec<Key>,
    active: usize,
    clock_skew_s: u64,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|key| key.id.as_str()).collect();
        formatter
            .debug_struct("Keyring")
            .field("key_ids", &ids)
            .field("active", &self.keys[self.active].id)
            .field("clock_skew_s", &self.clock_skew_s)
            .finish()
    }
}

/// What a verifier requires besides a good signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyOptions {
    /// The verifier's time, unix seconds.
    pub now_s: u64,
    /// The tenant this endpoint serves, if it serves only one.
    pub expected_tenant: Option<u64>,
}

impl Keyring {
    /// Builds and validates the keyring from its configuration.
    ///
    /// # Errors
    ///
    /// [`KeyError`] for a bad key, a duplicate id, a missing active key, too many keys or too much
    /// clock skew.
    pub fn from_config(config: &KeyringConfig) -> Result<Keyring, KeyError> {
        if config.keys.len() > KEYS_MAX {
            return Err(KeyError::TooManyKeys(config.keys.len()));
        }
        let mut keys = Vec::with_capacity(config.keys.len());
        for key in &config.keys {
            keys.push((key.id.clone(), key.secret_bytes()?));
        }
        Keyring::new(keys, &config.active_key_id, config.clock_skew_s)
    }

    /// Builds a keyring from decoded `(id, secret)` pairs.
    ///
    /// # Errors
    ///
    /// As [`Keyring::from_config`].
    pub fn new(
        keys: Vec<(String, Vec<u8>)>,
        active_key_id: &str,
        clock_skew_s: u64,
    ) -> Result<Keyring, KeyError> {
        if keys.len() > KEYS_MAX {
            return Err(KeyError::TooManyKeys(keys.len()));
        }
        if clock_skew_s > CLOCK_SKEW_S_MAX {
            return Err(KeyError::ClockSkewTooLarge(clock_skew_s));
        }
        let mut built: Vec<Key> = Vec::with_capacity(keys.len());
        for (id, secret) in keys {
            if !is_valid_key_id(&id) {
                return Err(KeyError::BadKeyId(id));
            }
            if secret.len() < KEY_BYTES_MIN {
                let bytes = secret.len();
                return Err(KeyError::TooShort {
                    key_id: id,
                    bytes,
                    min: KEY_BYTES_MIN,
                });
            }
            if built.iter().any(|key| key.id == id) {
                return Err(KeyError::DuplicateKeyId(id));
            }
            let mac = HmacSha256::new_from_slice(&secret).expect("HMAC accepts any key length");
            built.push(Key { id, mac });
        }
        let active = built
            .iter()
            .position(|key| key.id == active_key_id)
            .ok_or_else(|| KeyError::NoActiveKey(active_key_id.to_owned()))?;
        Ok(Keyring {
            keys: built,
            active,
            clock_skew_s,
        })
    }

    /// The id of the key that mints.
    pub fn active_key_id(&self) -> &str {
        &self.keys[self.active].id
    }

    /// Mints a token for `tenant`/`user`/`role` (with agent `groups`), valid from `issued_at_s` for
    /// `ttl_s` seconds, signed with the active key. Customers are unrated (see [`Keyring::mint_rated`]).
    ///
    /// # Errors
    ///
    /// [`MintError`] for a zero or overflowing lifetime, groups on a non-agent, or too many groups.
    pub fn mint(
        &self,
        tenant: u64,
        user: u64,
        role: Role,
        groups: &[u32],
        issued_at_s: u64,
        ttl_s: u64,
    ) -> Result<String, MintError> {
        self.mint_rated(tenant, user, role, groups, None, issued_at_s, ttl_s)
    }

    /// As [`Keyring::mint`], with the customer's value to the tenant in percent (`Some` only for
    /// customers): it weighs 0.6 when the routing shard chooses their agent.
    ///
    /// # Errors
    ///
    /// As [`Keyring::mint`], and [`MintError::BadValue`] for a value above 100 or on a non-customer.
    #[allow(clippy::too_many_arguments)] // Each is one claim of the token; a struct would only rename them.
    pub fn mint_rated(
        &self,
        tenant: u64,
        user: u64,
        role: Role,
        groups: &[u32],
        value_percent: Option<u8>,
        issued_at_s: u64,
        ttl_s: u64,
    ) -> Result<String, MintError> {
        if let Some(value) = value_percent {
            if value > VALUE_PERCENT_MAX || role != Role::Customer {
                return Err(MintError::BadValue { value, role });
            }
        }
        let expires_at_s = issued_at_s
            .checked_add(ttl_s)
            .filter(|_| ttl_s > 0)
            .ok_or(MintError::BadLifetime { ttl_s, issued_at_s })?;
        if !groups.is_empty() && role != Role::Agent {
            return Err(MintError::GroupsForNonAgent(role));
        }
        if groups.len() > GROUPS_MAX {
            return Err(MintError::TooManyGroups {
                count: groups.len(),
                max: GROUPS_MAX,
            });
        }
        let key = &self.keys[self.active];
        let claims = Claims {
            key_id: key.id.clone(),
            tenant,
            user,
            role,
            groups: groups.to_vec(),
            value_percent,
            issued_at_s,
            expires_at_s,
        };
        let mut payload = Vec::with_capacity(64);
        claims.encode_payload(&mut payload);
        let mut mac = key.mac.clone();
        mac.update(&payload);
        let tag = mac.finalize().into_bytes();
        let mut token = URL_SAFE_NO_PAD.encode(&payload);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(tag, &mut token);
        Ok(token)
    }

    /// Verifies `token` (order of checks in the crate documentation) and returns its claims.
    ///
    /// # Errors
    ///
    /// The first [`TokenError`] in verification order.
    pub fn verify(&self, token: &str, options: VerifyOptions) -> Result<Claims, TokenError> {
        if token.len() > TOKEN_BYTES_MAX {
            return Err(TokenError::Malformed);
        }
        let (payload_text, mac_text) = token.split_once('.').ok_or(TokenError::Malformed)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload_text)
            .map_err(|_| TokenError::Malformed)?;
        let tag = URL_SAFE_NO_PAD
            .decode(mac_text)
            .map_err(|_| TokenError::Malformed)?;
        if tag.len() != MAC_BYTES {
            return Err(TokenError::Malformed);
        }
        let header = claims::split_header(&payload)?;
        let key = self
            .keys
            .iter()
            .find(|key| key.id == header.key_id)
            .ok_or(TokenError::UnknownKey)?;
        let mut mac = key.mac.clone();
        mac.update(&payload);
        mac.verify_slice(&tag)
            .map_err(|_| TokenError::BadSignature)?;
        let claims = claims::parse_body(header)?;
        self.check_time_and_tenant(&claims, options)?;
        Ok(claims)
    }

    fn check_time_and_tenant(
        &self,
        claims: &Claims,
        options: VerifyOptions,
    ) -> Result<(), TokenError> {
        let now_s = options.now_s;
        if claims.issued_at_s > now_s.saturating_add(self.clock_skew_s) {
            return Err(TokenError::NotYetValid {
                issued_at_s: claims.issued_at_s,
                now_s,
            });
        }
        if now_s >= claims.expires_at_s.saturating_add(self.clock_skew_s) {
            return Err(TokenError::Expired {
                expires_at_s: claims.expires_at_s,
                now_s,
            });
        }
        match options.expected_tenant {
            Some(expected_tenant) if expected_tenant != claims.tenant => {
                Err(TokenError::WrongTenant {
                    token_tenant: claims.tenant,
                    expected_tenant,
                })
            }
            _ => Ok(()),
        }
    }
}
