//! What a token says ([`Claims`]) and the binary payload that carries it (format in the module
//! doc of [`crate::auth`]).

use super::error::TokenError;
use super::role::Role;

/// The payload version this code mints and verifies.
pub const TOKEN_VERSION: u8 = 1;
/// Most agent groups one token carries.
pub const GROUPS_MAX: usize = 32;
/// Longest key id, bytes.
pub const KEY_ID_BYTES_MAX: usize = 32;
/// Bytes of the fixed part after the key id: role, tenant, user, issued, expires, group count.
const FIXED_BYTES: usize = 1 + 8 + 8 + 8 + 8 + 1;

/// A verified (or to-be-minted) identity: who, for which tenant, in which role, until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The id of the key that signed (or will sign) the token.
    pub key_id: String,
    /// The tenant (merchant, platform customer) the user belongs to; tenants never see each other.
    pub tenant: u64,
    /// The user id, the `sender_id` of the messages this user sends.
    pub user: u64,
    /// What the user may do (see [`super::authorize`]).
    pub role: Role,
    /// Agent groups the agent serves (routing `GroupId`s); empty for other roles.
    pub groups: Vec<u32>,
    /// When the token was minted, unix seconds.
    pub issued_at_s: u64,
    /// When the token stops being accepted, unix seconds.
    pub expires_at_s: u64,
}

/// Whether `key_id` is 1..=[`KEY_ID_BYTES_MAX`] bytes of `[A-Za-z0-9._-]`.
pub fn is_valid_key_id(key_id: &str) -> bool {
    (1..=KEY_ID_BYTES_MAX).contains(&key_id.len())
        && key_id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'))
}

impl Claims {
    /// Appends the payload bytes (version, key id, fields) to `out`.
    ///
    /// The caller ([`super::Keyring::mint`]) has checked the key id and the group rules.
    pub fn encode_payload(&self, out: &mut Vec<u8>) {
        assert!(
            is_valid_key_id(&self.key_id),
            "key id checked by the keyring"
        );
        assert!(
            self.groups.len() <= GROUPS_MAX,
            "group count checked by mint"
        );
        out.push(TOKEN_VERSION);
        out.push(self.key_id.len() as u8);
        out.extend_from_slice(self.key_id.as_bytes());
        out.push(self.role.wire_byte());
        for value in [self.tenant, self.user, self.issued_at_s, self.expires_at_s] {
            out.extend_from_slice(&value.to_be_bytes());
        }
        out.push(self.groups.len() as u8);
        for group in &self.groups {
            out.extend_from_slice(&group.to_be_bytes());
        }
    }
}

/// Reads the version and key id at the front of `payload`; returns the key id and the rest.
///
/// # Errors
///
/// [`TokenError::Malformed`] when truncated or the key id is invalid,
/// [`TokenError::UnsupportedVersion`] for another version.
pub fn split_header(payload: &[u8]) -> Result<(&str, &[u8]), TokenError> {
    let (&version, rest) = payload.split_first().ok_or(TokenError::Malformed)?;
    if version != TOKEN_VERSION {
        return Err(TokenError::UnsupportedVersion(version));
    }
    let (&key_id_len, rest) = rest.split_first().ok_or(TokenError::Malformed)?;
    let key_id_len = usize::from(key_id_len);
    if rest.len() < key_id_len {
        return Err(TokenError::Malformed);
    }
    let (key_id, body) = rest.split_at(key_id_len);
    let key_id = std::str::from_utf8(key_id).map_err(|_| TokenError::Malformed)?;
    if !is_valid_key_id(key_id) {
        return Err(TokenError::Malformed);
    }
    Ok((key_id, body))
}

/// Parses the fields after the key id (`body` from [`split_header`]) into claims.
///
/// # Errors
///
/// [`TokenError::Malformed`] when truncated, trailing bytes remain, the role is unknown, or groups
/// are present for a non-agent or exceed [`GROUPS_MAX`].
pub fn parse_body(key_id: &str, body: &[u8]) -> Result<Claims, TokenError> {
    if body.len() < FIXED_BYTES {
        return Err(TokenError::Malformed);
    }
    let role = Role::from_wire_byte(body[0]).ok_or(TokenError::Malformed)?;
    let word = |index: usize| {
        let start = 1 + 8 * index;
        let mut bytes = [0; 8];
        bytes.copy_from_slice(&body[start..start + 8]);
        u64::from_be_bytes(bytes)
    };
    let group_count = usize::from(body[FIXED_BYTES - 1]);
    let groups_bytes = &body[FIXED_BYTES..];
    if group_count > GROUPS_MAX
        || (group_count > 0 && role != Role::Agent)
        || groups_bytes.len() != 4 * group_count
    {
        return Err(TokenError::Malformed);
    }
    let groups = groups_bytes
        .chunks_exact(4)
        .map(|chunk| u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]))
        .collect();
    Ok(Claims {
        key_id: key_id.to_owned(),
        tenant: word(0),
        user: word(1),
        role,
        groups,
        issued_at_s: word(2),
        expires_at_s: word(3),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent() -> Claims {
        Claims {
            key_id: "k-1".into(),
            tenant: u64::MAX,
            user: 42,
            role: Role::Agent,
            groups: vec![1, u32::MAX],
            issued_at_s: 10,
            expires_at_s: 20,
        }
    }

    #[test]
    fn payload_round_trip_and_exact_layout() {
        let mut payload = Vec::new();
        agent().encode_payload(&mut payload);
        assert_eq!(payload.len(), 2 + 3 + FIXED_BYTES + 8);
        assert_eq!(&payload[..5], &[TOKEN_VERSION, 3, b'k', b'-', b'1']);
        let (key_id, body) = split_header(&payload).unwrap();
        assert_eq!(parse_body(key_id, body).unwrap(), agent());
        for cut in 0..payload.len() {
            let result = split_header(&payload[..cut]).and_then(|(id, body)| parse_body(id, body));
            assert!(result.is_err(), "truncated at {cut}");
        }
    }

    #[test]
    fn groups_only_for_agents_and_key_ids_checked() {
        let mut payload = Vec::new();
        agent().encode_payload(&mut payload);
        payload[5] = Role::Customer.wire_byte();
        let (key_id, body) = split_header(&payload).unwrap();
        assert_eq!(parse_body(key_id, body), Err(TokenError::Malformed));
        assert!(is_valid_key_id("2026-11_a.b"));
        assert!(!is_valid_key_id(""));
        assert!(!is_valid_key_id("a b"));
        assert!(!is_valid_key_id(&"k".repeat(33)));
        assert_eq!("admin".parse::<Role>(), Ok(Role::Admin));
        assert!("root".parse::<Role>().is_err());
        for role in Role::ALL {
            assert_eq!(Role::from_wire_byte(role.wire_byte()), Some(role));
        }
    }
}
