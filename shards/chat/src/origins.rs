//! Which web origins may open a WebSocket for a tenant: `[[chat.origins]]` in the configuration. A
//! browser sends `Origin` with every WebSocket upgrade; a page of another site could otherwise use a
//! visitor's token. A tenant with a list accepts only those origins (and clients that send no `Origin`:
//! apps and backends); a tenant without one accepts any. Checked at `hello`, when the token says which
//! tenant the connection is.

use serde::Deserialize;

use crate::config::ConfigError;

/// At most this many origins per tenant.
pub const ORIGINS_PER_TENANT_MAX: usize = 64;
/// At most this many tenants with a list.
pub const ORIGIN_TENANTS_MAX: usize = 10_000;

/// One tenant's allowed origins.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantOrigins {
    /// The tenant.
    pub tenant: u64,
    /// Origins as browsers send them: `scheme://host[:port]`, e.g. `https://shop.example`.
    pub allow: Vec<String>,
}

/// Checks the lists (count, the form of every origin, one list per tenant).
///
/// # Errors
///
/// [`ConfigError::Section`] naming the first bad entry.
pub fn validate(lists: &[TenantOrigins]) -> Result<(), ConfigError> {
    let bad = |message: String| Err(ConfigError::section("chat.origins", message));
    if lists.len() > ORIGIN_TENANTS_MAX {
        return bad(format!("at most {ORIGIN_TENANTS_MAX} tenants"));
    }
    for (index, list) in lists.iter().enumerate() {
        if lists[..index]
            .iter()
            .any(|other| other.tenant == list.tenant)
        {
            return bad(format!("tenant {} has two lists", list.tenant));
        }
        if list.allow.is_empty() || list.allow.len() > ORIGINS_PER_TENANT_MAX {
            return bad(format!(
                "tenant {}: 1..={ORIGINS_PER_TENANT_MAX} origins",
                list.tenant
            ));
        }
        for origin in &list.allow {
            let rest = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            let host_ok = rest.is_some_and(|host| {
                !host.is_empty() && !host.contains(['/', '?', '#', ' ']) && host.len() <= 253
            });
            if !host_ok {
                return bad(format!(
                    "tenant {}: `{origin}` is not an origin (scheme://host[:port], no path)",
                    list.tenant
                ));
            }
        }
    }
    Ok(())
}

/// Whether a connection of `tenant` whose upgrade carried `origin` may proceed under `lists`.
pub fn allows(lists: &[TenantOrigins], tenant: u64, origin: Option<&str>) -> bool {
    let Some(origin) = origin else {
        return true;
    };
    match lists.iter().find(|list| list.tenant == tenant) {
        None => true,
        Some(list) => list
            .allow
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(origin)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lists() -> Vec<TenantOrigins> {
        vec![TenantOrigins {
            tenant: 7,
            allow: vec![
                "https://shop.example".into(),
                "http://127.0.0.1:7878".into(),
            ],
        }]
    }

    #[test]
    fn a_listed_tenant_accepts_only_its_origins_and_clients_without_one() {
        let lists = lists();
        assert!(allows(&lists, 7, Some("https://shop.example")));
        assert!(allows(&lists, 7, Some("HTTPS://SHOP.EXAMPLE")));
        assert!(!allows(&lists, 7, Some("https://evil.example")));
        assert!(allows(&lists, 7, None));
        assert!(allows(&lists, 8, Some("https://evil.example")));
    }

    #[test]
    fn bad_lists_are_refused_with_the_entry() {
        assert!(validate(&lists()).is_ok());
        let mut bad = lists();
        bad[0].allow.push("https://shop.example/path".into());
        assert!(validate(&bad).unwrap_err().to_string().contains("/path"));
        let mut twice = lists();
        twice.push(twice[0].clone());
        assert!(validate(&twice).is_err());
    }
}
