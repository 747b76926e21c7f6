//! What a token says ([`Claims`]) and the binary payload that carries it (format in the module
//! crate documentation).

use super::error::TokenError;
use super::role::Role;

/// The payload version this code mints. Version 2 adds the customer value after the groups.
pub const TOKEN_VERSION: u8 = 2;
/// The first payload version, still verified (it has no customer value: the customer is unrated).
pub const TOKEN_VERSION_V1: u8 = 1;
/// Highest customer value, percent.
pub const VALUE_PERCENT_MAX: u8 = 100;
/// The customer-value byte of an unrated user (every non-customer, and customers without a rating).
const VALUE_UNRATED: u8 = 0xFF;
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
    /// How valuable the customer is to the tenant (tier, spend, history), in percent (0..=100), as the
    /// platform that minted the token rates them; it weighs 0.6 in choosing an agent. `None` for
    /// unrated customers (routing assumes 50) and for every other role.
    pub value_percent: Option<u8>,
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
        assert!(
            self.value_percent
                .is_none_or(|value| value <= VALUE_PERCENT_MAX && self.role == Role::Customer),
            "customer value checked by mint"
        );
        out.push(self.value_percent.unwrap_or(VALUE_UNRATED));
    }
}

/// The parts of a payload before the MAC check: its version, key id, and the bytes after the key id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// [`TOKEN_VERSION_V1`] or [`TOKEN_VERSION`].
    pub version: u8,
    /// The signing key's id.
    pub key_id: &'a str,
    /// The fields after the key id, for [`parse_body`].
    pub body: &'a [u8],
}

/// Reads the version and key id at the front of `payload`.
///
/// # Errors
///
/// [`TokenError::Malformed`] when truncated or the key id is invalid,
/// [`TokenError::UnsupportedVersion`] for a version other than 1 or 2.
pub fn split_header(payload: &[u8]) -> Result<Header<'_>, TokenError> {
    let (&version, rest) = payload.split_first().ok_or(TokenError::Malformed)?;
    if version != TOKEN_VERSION && version != TOKEN_VERSION_V1 {
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
    Ok(Header {
        version,
        key_id,
        body,
    })
}

/// Parses the fields after the key id (from [`split_header`]) into claims.
///
/// # Errors
///
/// [`TokenError::Malformed`] when truncated, trailing bytes remain, the role is unknown, groups are
/// present for a non-agent or exceed [`GROUPS_MAX`], or a customer value is above 100 or given for a
/// non-customer.
pub fn parse_body(header: Header<'_>) -> Result<Claims, TokenError> {
    let Header {
        version,
        key_id,
        body,
    } = header;
    // Version 2 ends with the customer-value byte.
    let (body, value_percent) = if version == TOKEN_VERSION_V1 {
        (body, None)
    } else {
        let (&value, body) = body.split_last().ok_or(TokenError::Malformed)?;
        (body, (value != VALUE_UNRATED).then_some(value))
    };
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
        || value_percent.is_some_and(|value| value > VALUE_PERCENT_MAX || role != Role::Customer)
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
        value_percent,
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
            value_percent: None,
            issued_at_s: 10,
            expires_at_s: 20,
        }
    }

    #[test]
    fn payload_round_trip_and_exact_layout() {
        let mut payload = Vec::new();
        agent().encode_payload(&mut payload);
        assert_eq!(payload.len(), 2 + 3 + FIXED_BYTES + 8 + 1);
        assert_eq!(&payload[..5], &[TOKEN_VERSION, 3, b'k', b'-', b'1']);
        assert_eq!(
            parse_body(split_header(&payload).unwrap()).unwrap(),
            agent()
        );
        for cut in 0..payload.len() {
            let result = split_header(&payload[..cut]).and_then(parse_body);
            assert!(result.is_err(), "truncated at {cut}");
        }
    }

    fn customer(value_percent: Option<u8>) -> Claims {
        Claims {
            role: Role::Customer,
            groups: Vec::new(),
            value_percent,
            ..agent()
        }
    }

    #[test]
    fn customer_value_round_trips_and_is_checked() {
        for value in [None, Some(0), Some(73), Some(VALUE_PERCENT_MAX)] {
            let mut payload = Vec::new();
            customer(value).encode_payload(&mut payload);
            assert_eq!(
                parse_body(split_header(&payload).unwrap()),
                Ok(customer(value))
            );
        }
        let mut payload = Vec::new();
        customer(Some(50)).encode_payload(&mut payload);
        *payload.last_mut().unwrap() = 101;
        assert_eq!(
            parse_body(split_header(&payload).unwrap()),
            Err(TokenError::Malformed)
        );
        // A value on an agent token is malformed.
        let mut payload = Vec::new();
        agent().encode_payload(&mut payload);
        *payload.last_mut().unwrap() = 50;
        assert_eq!(
            parse_body(split_header(&payload).unwrap()),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn version_1_payloads_are_still_read_as_unrated() {
        let mut payload = Vec::new();
        customer(None).encode_payload(&mut payload);
        payload[0] = TOKEN_VERSION_V1;
        payload.pop();
        assert_eq!(
            parse_body(split_header(&payload).unwrap()),
            Ok(customer(None))
        );
        payload[0] = 3;
        assert_eq!(
            split_header(&payload),
            Err(TokenError::UnsupportedVersion(3))
        );
    }

    #[test]
    fn groups_only_for_agents_and_key_ids_checked() {
        let mut payload = Vec::new();
        agent().encode_payload(&mut payload);
        payload[5] = Role::Customer.wire_byte();
        assert_eq!(
            parse_body(split_header(&payload).unwrap()),
            Err(TokenError::Malformed)
        );
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
