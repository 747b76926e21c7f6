//! [`mask`]: one left-to-right pass over the text, copying only once something changes.

use std::borrow::Cow;

use super::counts::PiiCounts;
use super::digits::{collect_run, digit_at, digit_before};
use super::email::{is_local_byte, match_email, FoundEmail};
use super::numbers::{match_bank_card, match_phone, match_resident_id, FoundNumber, CHECK_X};
use super::policy::{PiiAction, PiiKind, PiiRules};

/// The result of [`mask`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Masked<'a> {
    /// The text to store and deliver: borrowed from the input when nothing was changed.
    pub text: Cow<'a, str>,
    /// What was detected and what was done with it.
    pub counts: PiiCounts,
}

/// Detects phones, resident IDs, bank cards and emails in `text` and applies `rules` to each.
///
/// Does not allocate when nothing is masked or dropped (no PII, or only kinds the rules keep).
pub fn mask<'a>(text: &'a str, rules: &PiiRules) -> Masked<'a> {
    let bytes = text.as_bytes();
    let mut output = Output {
        text,
        copy: None,
        copied_until: 0,
    };
    let mut counts = PiiCounts::default();
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        let email_start = is_local_byte(byte) && (index == 0 || !is_local_byte(bytes[index - 1]));
        if let Some(found) = email_start.then(|| match_email(bytes, index)).flatten() {
            let action = rules.email;
            counts.record(PiiKind::Email, action);
            output.replace((found.start, found.end), PiiKind::Email, action, |out| {
                render_email(out, text, found)
            });
            index = found.end;
            continue;
        }
        if digit_at(bytes, index).is_some() && !digit_before(bytes, index) {
            let run = collect_run(bytes, index);
            let found = match_resident_id(bytes, &run)
                .or_else(|| match_bank_card(&run))
                .or_else(|| match_phone(bytes, &run));
            index = match found {
                Some(found) => {
                    let action = rules.action(found.kind);
                    counts.record(found.kind, action);
                    output.replace((found.start, found.end), found.kind, action, |out| {
                        render_number(out, &found)
                    });
                    found.end
                }
                None => run.groups[0].end,
            };
            continue;
        }
        index += 1;
    }
    Masked {
        text: output.finish(),
        counts,
    }
}

/// The output text, copied lazily from the first change on.
struct Output<'a> {
    text: &'a str,
    copy: Option<String>,
    copied_until: usize,
}

impl<'a> Output<'a> {
    /// Replaces `text[start..end]` holding a `kind` item according to `action`; `render_masked`
    /// writes the masked form.
    fn replace(
        &mut self,
        (start, end): (usize, usize),
        kind: PiiKind,
        action: PiiAction,
        render_masked: impl FnOnce(&mut String),
    ) {
        if action == PiiAction::Keep {
            return;
        }
        let text = self.text;
        let copy = self
            .copy
            .get_or_insert_with(|| String::with_capacity(text.len() + 32));
        copy.push_str(&text[self.copied_until..start]);
        match action {
            PiiAction::Drop => copy.push_str(placeholder(kind)),
            PiiAction::Mask | PiiAction::Keep => render_masked(copy),
        }
        self.copied_until = end;
    }

    fn finish(self) -> Cow<'a, str> {
        match self.copy {
            None => Cow::Borrowed(self.text),
            Some(mut copy) => {
                copy.push_str(&self.text[self.copied_until..]);
                Cow::Owned(copy)
            }
        }
    }
}

/// The text that replaces a dropped item.
pub fn placeholder(kind: PiiKind) -> &'static str {
    match kind {
        PiiKind::Phone => "[phone removed]",
        PiiKind::ResidentId => "[id removed]",
        PiiKind::BankCard => "[card removed]",
        PiiKind::Email => "[email removed]",
    }
}

fn push_digits(out: &mut String, values: &[u8]) {
    for &value in values {
        out.push(match value {
            CHECK_X => 'X',
            digit => char::from(b'0' + digit),
        });
    }
}

/// Phone `138****5678`, resident ID `110***********123X`, card `**** **** **** 1234`; digits in
/// ASCII whatever width they were written in.
fn render_number(out: &mut String, found: &FoundNumber) {
    let values = found.values();
    let (head, stars, tail) = match found.kind {
        PiiKind::Phone => (3, "****", 4),
        PiiKind::ResidentId => (3, "***********", 4),
        PiiKind::BankCard | PiiKind::Email => (0, "**** **** **** ", 4),
    };
    push_digits(out, &values[..head]);
    out.push_str(stars);
    push_digits(out, &values[values.len() - tail..]);
}

/// `a***@example.com`: the first character of the local part, `***`, and the domain as written.
fn render_email(out: &mut String, text: &str, found: FoundEmail) {
    out.push_str(&text[found.start..found.start + 1]);
    out.push_str("***");
    out.push_str(&text[found.at..found.end]);
}
