//! What each submission's `user_data` encodes: the operation kind, a generation check and the
//! index of the connection (or listener, or wake fd) it belongs to.

/// Operation kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum Op {
    Accept = 1,
    AcceptOne,
    Recv,
    Send,
    Register,
    Connect,
    Shutdown,
    Cancel,
    Close,
    CloseOrphan,
    Wake,
    RingWake,
    /// Bookkeeping whose completion needs no action (e.g. cancelling an accept).
    Internal,
    /// A `write_file`; the index is its slot in the file-operation table.
    FileWrite,
    /// A `sync_file`; the index is its slot in the file-operation table.
    FileSync,
}

const OPS: [Op; 15] = [
    Op::Accept,
    Op::AcceptOne,
    Op::Recv,
    Op::Send,
    Op::Register,
    Op::Connect,
    Op::Shutdown,
    Op::Cancel,
    Op::Close,
    Op::CloseOrphan,
    Op::Wake,
    Op::RingWake,
    Op::Internal,
    Op::FileWrite,
    Op::FileSync,
];

/// Generations are truncated to this many bits in user data.
const GENERATION_MASK: u32 = 0x00ff_ffff;

pub(super) fn encode(op: Op, index: u32, generation: u32) -> u64 {
    (u64::from(op as u8) << 56) | (u64::from(generation & GENERATION_MASK) << 32) | u64::from(index)
}

/// `(op, index, truncated generation)`.
pub(super) fn decode(user_data: u64) -> (Op, u32, u32) {
    let code = (user_data >> 56) as usize;
    assert!(
        (1..=OPS.len()).contains(&code),
        "unknown user_data {user_data:#x}"
    );
    (
        OPS[code - 1],
        user_data as u32,
        ((user_data >> 32) as u32) & GENERATION_MASK,
    )
}

pub(super) fn same_generation(full: u32, truncated: u32) -> bool {
    full & GENERATION_MASK == truncated
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_op() {
        for op in OPS {
            let (back, index, generation) = decode(encode(op, 123_456, 0x0123_4567));
            assert_eq!((back, index), (op, 123_456));
            assert!(same_generation(0x0123_4567, generation));
        }
    }
}
