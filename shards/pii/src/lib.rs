//! PII masking, applied by a conversation's owner shard before a message is persisted: the masked
//! form is what is stored, replayed and logged.
//!
//! [`mask`] finds four kinds of personal data with hand-written scanners (no regular expressions;
//! one pass, bounded look-ahead, UTF-8 safe because every match starts and ends on an ASCII byte or
//! a whole full-width character) and applies the tenant's [`PiiRules`]: mask, drop or keep.
//!
//! ## What is detected
//!
//! | kind | rule |
//! |---|---|
//! | mobile phone | `1[3-9]` + 9 digits, written as 11, 3-4-4, 3-8 or 7-4 digit groups; a `86`/`+86` prefix (separate, or glued as 13 digits) stays in the text unmasked |
//! | resident ID | 18 characters (17 digits + digit or `X`/`x`), as one group or 6-8-4; GB 11643 check character valid, first digit not 0, birth date `YYYYMMDD` a real date in 1900..=2099 |
//! | bank card | 13..=19 digits, as one group, groups of 4 (last 1..=4), or 4-6-5 / 4-6-4; Luhn valid; first digit 3, 4, 5, 6 or 9, or 2221..=2720 |
//! | email | ASCII `local@domain` (see [`email`]) |
//!
//! Digit *groups* are maximal runs of digits joined by one separator (space, `-`, U+3000
//! ideographic space, U+FF0D full-width hyphen). A number matches only as whole groups, so a phone
//! inside a longer digit run (an order number) is left alone, while Chinese text right next to the
//! digits (`手机13812345678`) does not prevent a match. Checks run ID, then card, then phone; an
//! email is tried first, so `13812345678@qq.com` is one email.
//!
//! **Full-width digits** (`０-９`, as typed with some Chinese input methods) count as digits and may
//! be mixed with ASCII ones; full-width `Ｘ`/`ｘ` counts as an ID check character. Masked forms are
//! written with ASCII digits.
//!
//! ## Masked forms
//!
//! | kind | [`PiiAction::Mask`] | [`PiiAction::Drop`] |
//! |---|---|---|
//! | phone | `138****5678` (first 3, `****`, last 4) | `[phone removed]` |
//! | resident ID | `110***********123X` (first 3, 11 `*`, last 4) | `[id removed]` |
//! | bank card | `**** **** **** 1234` (last 4, whatever the length) | `[card removed]` |
//! | email | `a***@example.com` (first character, `***`, `@domain` as written) | `[email removed]` |
//!
//! The separators inside a matched number are replaced together with it. [`PiiAction::Keep`]
//! leaves the item as written; it is still counted in [`PiiCounts`].
//!
//! ## Known gaps
//!
//! Numbers spelled with Chinese numerals (`一三八…`), digits separated by more than one character or
//! by other characters (`.`, `/`), landline numbers, 15-digit first-generation IDs, passport numbers
//! and addresses are not detected. A Luhn-valid 13..=19 digit number with a card-network first
//! digit is masked as a card even if it is something else (about one in ten such numbers).
//!
//! ## Layout
//!
//! - [`policy`]: [`PiiKind`], [`PiiAction`], [`PiiRules`] and the configured [`PiiPolicy`].
//! - [`counts`]: [`PiiCounts`], per kind and action.
//! - [`digits`]: digit characters, separators, and digit-group runs.
//! - [`numbers`]: resident ID, bank card and phone matchers and their checks.
//! - [`email`]: the email matcher.
//! - [`scan`]: [`mask`], the single pass and the masked forms.

#![forbid(unsafe_code)]

pub mod counts;
pub mod digits;
pub mod email;
pub mod numbers;
pub mod policy;
pub mod scan;

pub use counts::PiiCounts;
pub use policy::{PiiAction, PiiKind, PiiPolicy, PiiRules, TenantPiiRules};
pub use scan::{mask, placeholder, Masked};
