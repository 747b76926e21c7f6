//! Frame codec round trips: every opcode, both roles, all three length encodings, Vec and slice encoders.

use proptest::prelude::*;
use switchboard_protocol::ws::mask::apply_mask;
use switchboard_protocol::ws::{encode_frame, encode_frame_to_slice, FrameHeader, OpCode, Role};

fn opcode_strategy() -> impl Strategy<Value = OpCode> {
    prop::sample::select(OpCode::ALL.to_vec())
}

/// Payload lengths that exercise the 7-bit, 16-bit and 64-bit length encodings and their edges.
fn length_strategy() -> impl Strategy<Value = usize> {
    prop_oneof![0usize..=130, 65_530usize..=65_540, Just(70_000usize)]
}

proptest! {
    #[test]
    fn encode_then_parse_round_trips(
        opcode in opcode_strategy(),
        fin in any::<bool>(),
        len in length_strategy(),
        key in any::<[u8; 4]>(),
        client_sends in any::<bool>(),
        fill in any::<u8>(),
    ) {
        let fin = fin || opcode.is_control();
        let len = if opcode.is_control() { len % 126 } else { len };
        let payload: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_add(fill)).collect();
        let (mask, receiver) = if client_sends { (Some(key), Role::Server) } else { (None, Role::Client) };

        let mut encoded = Vec::new();
        let written = encode_frame(&mut encoded, opcode, fin, &payload, mask).unwrap();
        prop_assert_eq!(written, encoded.len());
        let mut slice = vec![0u8; written];
        prop_assert_eq!(encode_frame_to_slice(&mut slice, opcode, fin, &payload, mask), Ok(written));
        prop_assert_eq!(&slice, &encoded);

        let (header, header_len) = FrameHeader::parse(&encoded, receiver).unwrap().unwrap();
        prop_assert_eq!(header, FrameHeader { fin, opcode, mask, payload_len: len as u64 });
        prop_assert_eq!(header_len, header.encoded_len());
        prop_assert_eq!(header_len + len, written);
        for prefix in 0..header_len {
            prop_assert_eq!(FrameHeader::parse(&encoded[..prefix], receiver), Ok(None));
        }
        let mut body = encoded[header_len..].to_vec();
        if let Some(key) = header.mask {
            apply_mask(&mut body, key, 0);
        }
        prop_assert_eq!(body, payload);
    }

    #[test]
    fn parse_never_panics_and_never_overreads(bytes in prop::collection::vec(any::<u8>(), 0..20)) {
        for role in [Role::Server, Role::Client] {
            if let Ok(Some((header, len))) = FrameHeader::parse(&bytes, role) {
                prop_assert!(len <= bytes.len());
                prop_assert!((2..=14).contains(&len));
                prop_assert!(!header.opcode.is_control() || (header.fin && header.payload_len <= 125));
            }
        }
    }
}

#[test]
fn non_minimal_lengths_are_accepted_on_receive() {
    // A 5-byte payload announced with the 64-bit form.
    let frame = [0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0, 5, 1, 2, 3, 4, 5];
    let (header, len) = FrameHeader::parse(&frame, Role::Client).unwrap().unwrap();
    assert_eq!((header.payload_len, len), (5, 10));
}
