//! Guard for a bug in the flatbuffers 2.1.2 verifier: `Verifier::deref_soffset` computes
//! `offset.abs()` on the table's signed vtable offset, which overflows for `i32::MIN`. With overflow
//! checks on (debug builds, tests, fuzzing) that is a panic on hostile input; in release builds it wraps
//! and the verifier reports an error as intended. Found by the `app_frame` fuzz target.
//!
//! Before verifying, [`check_table_offsets`] walks exactly the table positions the verifier will visit for
//! this schema — the root table and the elements of every vector of tables (`resume`, `history_result`,
//! and the three lists of `inbox`) — and rejects a body in
//! which any of them holds `i32::MIN`, with the error a fixed verifier would return. The walk reads
//! bounds-checked and stops where the verifier would reject the buffer anyway, so it never visits fewer
//! positions than the verifier reaches.

use flatbuffers::InvalidFlatbuffer;

use super::error::FrameError;
use super::kind::Kind;

/// The little-endian bytes of the offending signed offset.
const SOFFSET_OVERFLOWING: [u8; 4] = i32::MIN.to_le_bytes();

/// Rejects `body` when a table the verifier will visit starts with the signed offset `i32::MIN`.
pub(crate) fn check_table_offsets(kind: Kind, body: &[u8]) -> Result<(), FrameError> {
    let Some(root) = u32_at(body, 0) else {
        return Ok(());
    };
    check_table(kind, body, root)?;
    // The vtable slots of the vector-of-tables fields of each table that has them.
    let slots: &[usize] = match kind {
        Kind::Resume => &[1],
        Kind::HistoryResult => &[2],
        // assigned, queued (InboxEntry) and tickets (TicketBody).
        Kind::Inbox => &[2, 3, 4],
        _ => return Ok(()),
    };
    for &slot in slots {
        check_vector_elements(kind, body, root, slot)?;
    }
    Ok(())
}

/// Checks every table element of the vector in field `slot` of the table at `root`.
fn check_vector_elements(
    kind: Kind,
    body: &[u8],
    root: usize,
    slot: usize,
) -> Result<(), FrameError> {
    let Some(vector) = vector_field(body, root, slot) else {
        return Ok(());
    };
    let Some(length) = u32_at(body, vector) else {
        return Ok(());
    };
    for index in 0..length {
        let Some(element) = vector.checked_add(4 + 4 * index) else {
            return Ok(());
        };
        let Some(offset) = u32_at(body, element) else {
            return Ok(()); // Past the end: the verifier rejects the vector's range before any element.
        };
        check_table(kind, body, element.saturating_add(offset))?;
    }
    Ok(())
}

/// Fails when the table at `table` starts with `i32::MIN`.
fn check_table(kind: Kind, body: &[u8], table: usize) -> Result<(), FrameError> {
    if body.get(table..table.saturating_add(4)) == Some(&SOFFSET_OVERFLOWING[..]) {
        let error = InvalidFlatbuffer::SignedOffsetOutOfBounds {
            soffset: i32::MIN,
            position: table,
            error_trace: Default::default(),
        };
        return Err(FrameError::InvalidBody { kind, error });
    }
    Ok(())
}

/// The position of the vector referenced by field `slot` of the table at `table`, if present.
fn vector_field(body: &[u8], table: usize, slot: usize) -> Option<usize> {
    let soffset = i64::from(i32::from_le_bytes(
        body.get(table..table + 4)?.try_into().ok()?,
    ));
    let vtable = usize::try_from(i64::try_from(table).ok()?.checked_sub(soffset)?).ok()?;
    let vtable_bytes = usize::from(u16_at(body, vtable)?);
    let entry = 4 + 2 * slot;
    if entry + 2 > vtable_bytes {
        return None;
    }
    let field_offset = usize::from(u16_at(body, vtable.checked_add(entry)?)?);
    if field_offset == 0 {
        return None;
    }
    let field = table.checked_add(field_offset)?;
    field.checked_add(u32_at(body, field)?)
}

/// The little-endian `u32` at `position`, as a `usize`.
fn u32_at(body: &[u8], position: usize) -> Option<usize> {
    let bytes = body.get(position..position.checked_add(4)?)?;
    usize::try_from(u32::from_le_bytes(bytes.try_into().ok()?)).ok()
}

/// The little-endian `u16` at `position`.
fn u16_at(body: &[u8], position: usize) -> Option<u16> {
    let bytes = body.get(position..position.checked_add(2)?)?;
    Some(u16::from_le_bytes(bytes.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::model::{
        Deliver, HistoryResult, Inbox, InboxEntry, Message, OwnedFrame, Resume, ResumePosition,
        Ticket,
    };
    use crate::app::{parse_frame, Encoder, FrameLimits};

    /// Encodes `message` and returns the frame and its header length.
    fn encode(message: Message) -> (Vec<u8>, usize) {
        let mut bytes = Vec::new();
        Encoder::new().encode(&OwnedFrame::new(message), &mut bytes);
        let header = crate::app::header::parse_header(&bytes, &FrameLimits::default())
            .unwrap()
            .unwrap();
        (bytes, header.header_bytes)
    }

    /// Overwrites the soffset of the table at `table` (body-relative) and parses.
    fn parse_with_overflowing_soffset(
        mut bytes: Vec<u8>,
        header: usize,
        table: usize,
    ) -> FrameError {
        bytes[header + table..header + table + 4].copy_from_slice(&SOFFSET_OVERFLOWING);
        parse_frame(&bytes, &FrameLimits::default()).unwrap_err()
    }

    #[test]
    fn root_table_with_overflowing_soffset_is_an_error() {
        let (bytes, header) = encode(Message::Ping(Default::default()));
        let root = u32_at(&bytes[header..], 0).unwrap();
        let error = parse_with_overflowing_soffset(bytes, header, root);
        assert!(
            matches!(
                error,
                FrameError::InvalidBody {
                    kind: Kind::Ping,
                    ..
                }
            ),
            "{error:?}"
        );
    }

    #[test]
    fn vector_element_with_overflowing_soffset_is_an_error() {
        let resume = Resume {
            resume_token: String::new(),
            positions: vec![ResumePosition::default(); 2],
        };
        let history = HistoryResult {
            messages: vec![Deliver::default(); 2],
            ..Default::default()
        };
        let inbox = || Inbox {
            assigned: vec![InboxEntry::default(); 2],
            queued: vec![InboxEntry::default(); 2],
            tickets: vec![Ticket::default(); 2],
            ..Inbox::default()
        };
        for (message, slot) in [
            (Message::Resume(resume), 1),
            (Message::HistoryResult(history), 2),
            (Message::Inbox(inbox()), 2),
            (Message::Inbox(inbox()), 3),
            (Message::Inbox(inbox()), 4),
        ] {
            let kind = message.kind();
            let (bytes, header) = encode(message);
            let body = &bytes[header..];
            let vector = vector_field(body, u32_at(body, 0).unwrap(), slot).unwrap();
            let element = vector + 8;
            let table = element + u32_at(body, element).unwrap();
            let error = parse_with_overflowing_soffset(bytes, header, table);
            assert!(
                matches!(error, FrameError::InvalidBody { kind: k, .. } if k == kind),
                "{error:?}"
            );
        }
    }
}
