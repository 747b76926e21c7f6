//! What to do with each kind of PII, per tenant: [`PiiRules`] and the configured [`PiiPolicy`].
//!
//! ```toml
//! [pii.default]            # every tenant without an override
//! phone = "mask"           # mask | drop | keep
//! resident_id = "drop"
//! bank_card = "mask"
//! email = "keep"
//!
//! [[pii.tenants]]
//! tenant = 42
//! rules = { phone = "keep" }   # kinds not named take their default: mask
//! ```

use serde::{Deserialize, Serialize};
use switchboard_core::config::ConfigError;

/// Most tenants with their own rules.
pub const TENANTS_MAX: usize = 4_096;

/// A kind of personal data the masker detects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PiiKind {
    /// A mainland China mobile number.
    Phone,
    /// An 18-character mainland resident ID number.
    ResidentId,
    /// A bank card number.
    BankCard,
    /// An email address.
    Email,
}

impl PiiKind {
    /// Every kind, in counter order.
    pub const ALL: [PiiKind; 4] = [
        PiiKind::Phone,
        PiiKind::ResidentId,
        PiiKind::BankCard,
        PiiKind::Email,
    ];

    /// The position of this kind in [`PiiKind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// A stable label for metrics, e.g. `"resident_id"`.
    pub fn label(self) -> &'static str {
        match self {
            PiiKind::Phone => "phone",
            PiiKind::ResidentId => "resident_id",
            PiiKind::BankCard => "bank_card",
            PiiKind::Email => "email",
        }
    }
}

/// What happens to a detected item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiAction {
    /// Replace it with its masked form (partly visible, see the crate documentation).
    #[default]
    Mask,
    /// Replace it with a placeholder such as `[phone removed]`.
    Drop,
    /// Leave it as written (it is still counted).
    Keep,
}

impl PiiAction {
    /// Every action, in counter order.
    pub const ALL: [PiiAction; 3] = [PiiAction::Mask, PiiAction::Drop, PiiAction::Keep];

    /// The position of this action in [`PiiAction::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// A stable label for metrics, e.g. `"drop"`.
    pub fn label(self) -> &'static str {
        match self {
            PiiAction::Mask => "mask",
            PiiAction::Drop => "drop",
            PiiAction::Keep => "keep",
        }
    }
}

/// The action for each kind, for one tenant. Missing kinds default to [`PiiAction::Mask`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PiiRules {
    /// Mobile phone numbers.
    pub phone: PiiAction,
    /// Resident ID numbers.
    pub resident_id: PiiAction,
    /// Bank card numbers.
    pub bank_card: PiiAction,
    /// Email addresses.
    pub email: PiiAction,
}

impl PiiRules {
    /// The same action for every kind.
    pub const fn all(action: PiiAction) -> PiiRules {
        PiiRules {
            phone: action,
            resident_id: action,
            bank_card: action,
            email: action,
        }
    }

    /// The action for `kind`.
    pub fn action(&self, kind: PiiKind) -> PiiAction {
        match kind {
            PiiKind::Phone => self.phone,
            PiiKind::ResidentId => self.resident_id,
            PiiKind::BankCard => self.bank_card,
            PiiKind::Email => self.email,
        }
    }
}

/// One tenant's override.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantPiiRules {
    /// The tenant id (as in access tokens).
    pub tenant: u64,
    /// Its rules.
    #[serde(default)]
    pub rules: PiiRules,
}

/// The `[pii]` configuration: default rules and per-tenant overrides.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PiiPolicy {
    /// Rules for tenants without an override (default: mask everything).
    pub default: PiiRules,
    /// Per-tenant overrides (at most [`TENANTS_MAX`], each tenant once).
    pub tenants: Vec<TenantPiiRules>,
}

impl PiiPolicy {
    /// Checks the number of overrides and that no tenant appears twice.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming `pii.tenants`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.tenants.len() > TENANTS_MAX {
            return Err(ConfigError::new(
                "pii.tenants",
                format!("{} entries", self.tenants.len()),
                format!("at most {TENANTS_MAX} entries"),
            ));
        }
        let mut ids: Vec<u64> = self.tenants.iter().map(|entry| entry.tenant).collect();
        ids.sort_unstable();
        match ids.windows(2).find(|pair| pair[0] == pair[1]) {
            Some(pair) => Err(ConfigError::new(
                "pii.tenants",
                format!("tenant {} twice", pair[0]),
                "each tenant at most once",
            )),
            None => Ok(()),
        }
    }

    /// The rules for `tenant`: its override, or the default. A linear scan: overrides are few, and a
    /// shard caches the rules of a conversation's tenant.
    pub fn rules_for(&self, tenant: u64) -> &PiiRules {
        self.tenants
            .iter()
            .find(|entry| entry.tenant == tenant)
            .map_or(&self.default, |entry| &entry.rules)
    }
}
