//! The switchboard.v1 fragment prefix for [`Fragmentation::App`]: large outbound frames are cut into
//! `fragment` frames (protocol `app::fragment`), so urgent frames overtake them between two pieces.

use switchboard_protocol::app::fragment::Fragmenter;
use switchboard_protocol::app::header::encode_header;
use switchboard_protocol::app::varint::{encode_varint, varint_len, VARINT_BYTES_MAX};
use switchboard_protocol::app::Kind;

use super::send_queue::{FragmentInfo, Fragmentation};

/// Largest prefix: kind and flags bytes, the body length, then the four varints of the fragment body
/// (`fragment_id` as u64, `index`, `count` and `total_bytes` as u32: at most 5 bytes each).
pub const APP_FRAGMENT_PREFIX_BYTES_MAX: usize = 2 + VARINT_BYTES_MAX + VARINT_BYTES_MAX + 3 * 5;

/// Largest chunk a switchboard.v1 fragment may carry, so that a piece fits the client's frame body limit.
pub const APP_FRAGMENT_DATA_BYTES_MAX: u32 = Fragmenter::FRAGMENT_DATA_BYTES_MAX;

/// The fragmentation for connections that negotiated `switchboard.v1`.
pub fn switchboard_v1_fragmentation() -> Fragmentation {
    Fragmentation::App {
        prefix_bytes_max: APP_FRAGMENT_PREFIX_BYTES_MAX,
        write_prefix: write_app_fragment_prefix,
    }
}

/// Appends the `fragment` frame header and body prefix for one piece of `chunk_bytes` bytes; the piece's
/// bytes follow. The layout is `app::fragment::encode_fragment`'s, written without the data so the send
/// queue can copy the chunk straight from the queued message.
pub fn write_app_fragment_prefix(info: &FragmentInfo, chunk_bytes: usize, out: &mut Vec<u8>) {
    let total_bytes =
        u32::try_from(info.total_bytes).expect("outbound messages are bounded far below 4 GiB");
    let varints = varint_len(info.message_number)
        + varint_len(u64::from(info.index))
        + varint_len(u64::from(info.count))
        + varint_len(u64::from(total_bytes));
    encode_header(Kind::Fragment, info.lane, varints + chunk_bytes, out);
    encode_varint(info.message_number, out);
    encode_varint(u64::from(info.index), out);
    encode_varint(u64::from(info.count), out);
    encode_varint(u64::from(total_bytes), out);
}

#[cfg(test)]
mod tests {
    use switchboard_protocol::app::fragment::{encode_fragment, FragmentView};
    use switchboard_protocol::app::Lane;

    use super::*;

    #[test]
    fn prefix_plus_data_equals_the_protocol_encoder() {
        let data = vec![9u8; 300];
        let info = FragmentInfo {
            message_number: 1 << 40,
            index: 2,
            count: 7,
            last: false,
            lane: Lane::Chat,
            total_bytes: 2_000,
        };
        let mut ours = Vec::new();
        write_app_fragment_prefix(&info, data.len(), &mut ours);
        assert!(ours.len() <= APP_FRAGMENT_PREFIX_BYTES_MAX);
        ours.extend_from_slice(&data);
        let view = FragmentView {
            fragment_id: 1 << 40,
            index: 2,
            count: 7,
            total_bytes: 2_000,
            data: &data,
        };
        let mut theirs = Vec::new();
        encode_fragment(Lane::Chat, view, &mut theirs);
        assert_eq!(ours, theirs);
    }
}
