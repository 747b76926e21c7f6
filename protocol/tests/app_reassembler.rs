//! The reassembler: every typed error, its close code, and the limits.

use switchboard_protocol::app::*;

fn piece(
    fragment_id: u64,
    index: u32,
    count: u32,
    total_bytes: u32,
    data: &[u8],
) -> FragmentView<'_> {
    FragmentView {
        fragment_id,
        index,
        count,
        total_bytes,
        data,
    }
}

fn reassembler() -> Reassembler {
    Reassembler::new(ReassemblerConfig {
        message_bytes_max: 100,
        partial_messages_max: 2,
        fragment_count_max: 4,
    })
    .unwrap()
}

#[test]
fn pieces_in_order_complete_the_message() {
    let mut r = reassembler();
    assert_eq!(r.push(piece(1, 0, 3, 6, b"ab")), Ok(None));
    assert_eq!(r.push(piece(1, 1, 3, 6, b"cd")), Ok(None));
    assert_eq!((r.partial_messages(), r.buffered_bytes()), (1, 4));
    assert_eq!(
        r.push(piece(1, 2, 3, 6, b"ef")),
        Ok(Some(b"abcdef".to_vec()))
    );
    assert_eq!((r.partial_messages(), r.buffered_bytes()), (0, 0));
}

#[test]
fn a_single_piece_message_completes_at_once() {
    let mut r = reassembler();
    assert_eq!(r.push(piece(1, 0, 1, 3, b"abc")), Ok(Some(b"abc".to_vec())));
}

#[test]
fn messages_interleave() {
    let mut r = reassembler();
    assert_eq!(r.push(piece(1, 0, 2, 2, b"a")), Ok(None));
    assert_eq!(r.push(piece(2, 0, 2, 2, b"x")), Ok(None));
    assert_eq!(r.push(piece(2, 1, 2, 2, b"y")), Ok(Some(b"xy".to_vec())));
    assert_eq!(r.push(piece(1, 1, 2, 2, b"b")), Ok(Some(b"ab".to_vec())));
}

#[test]
fn oversized_message() {
    let error = reassembler().push(piece(1, 0, 2, 101, b"a")).unwrap_err();
    assert_eq!(
        error,
        FragmentError::MessageTooLarge {
            fragment_id: 1,
            total_bytes: 101,
            message_bytes_max: 100
        }
    );
    assert_eq!(error.reaction(), Reaction::Close(1009));
}

#[test]
fn too_many_fragments() {
    let error = reassembler().push(piece(1, 0, 5, 10, b"a")).unwrap_err();
    assert_eq!(
        error,
        FragmentError::TooManyFragments {
            fragment_id: 1,
            count: 5,
            fragment_count_max: 4
        }
    );
    assert_eq!(error.reaction(), Reaction::Close(1009));
}

#[test]
fn too_many_partials() {
    let mut r = reassembler();
    r.push(piece(1, 0, 2, 2, b"a")).unwrap();
    r.push(piece(2, 0, 2, 2, b"a")).unwrap();
    let error = r.push(piece(3, 0, 2, 2, b"a")).unwrap_err();
    assert_eq!(
        error,
        FragmentError::TooManyPartials {
            partial_messages_max: 2
        }
    );
    assert_eq!(error.reaction(), Reaction::Close(1009));
}

#[test]
fn duplicate() {
    let mut r = reassembler();
    r.push(piece(1, 0, 3, 3, b"a")).unwrap();
    r.push(piece(1, 1, 3, 3, b"b")).unwrap();
    let error = r.push(piece(1, 1, 3, 3, b"b")).unwrap_err();
    assert_eq!(
        error,
        FragmentError::Duplicate {
            fragment_id: 1,
            index: 1
        }
    );
    assert_eq!(error.reaction(), Reaction::Close(1002));
    assert_eq!(r.partial_messages(), 0, "the broken message is dropped");
}

#[test]
fn missing() {
    let mut r = reassembler();
    r.push(piece(1, 0, 3, 3, b"a")).unwrap();
    let error = r.push(piece(1, 2, 3, 3, b"c")).unwrap_err();
    assert_eq!(
        error,
        FragmentError::Missing {
            fragment_id: 1,
            expected_index: 1,
            index: 2
        }
    );
    assert_eq!(error.reaction(), Reaction::Close(1002));
}

#[test]
fn out_of_order_start() {
    let error = reassembler().push(piece(1, 1, 3, 3, b"b")).unwrap_err();
    assert_eq!(
        error,
        FragmentError::OutOfOrder {
            fragment_id: 1,
            index: 1
        }
    );
    assert_eq!(error.reaction(), Reaction::Close(1002));
}

#[test]
fn inconsistent_count_total_or_lengths() {
    let inconsistent = Err(FragmentError::InconsistentTotal { fragment_id: 1 });
    let mut r = reassembler();
    r.push(piece(1, 0, 3, 3, b"a")).unwrap();
    assert_eq!(
        r.push(piece(1, 1, 4, 3, b"b")),
        inconsistent,
        "count changed"
    );
    let mut r = reassembler();
    r.push(piece(1, 0, 3, 3, b"a")).unwrap();
    assert_eq!(
        r.push(piece(1, 1, 3, 4, b"b")),
        inconsistent,
        "total changed"
    );
    let mut r = reassembler();
    r.push(piece(1, 0, 2, 3, b"ab")).unwrap();
    assert_eq!(
        r.push(piece(1, 1, 2, 3, b"cd")),
        inconsistent,
        "more bytes than total"
    );
    let mut r = reassembler();
    r.push(piece(1, 0, 2, 5, b"ab")).unwrap();
    assert_eq!(
        r.push(piece(1, 1, 2, 5, b"c")),
        inconsistent,
        "last piece leaves bytes missing"
    );
    assert_eq!(
        FragmentError::InconsistentTotal { fragment_id: 1 }.reaction(),
        Reaction::Close(1002)
    );
}

#[test]
fn finish_reports_an_incomplete_message() {
    let mut r = reassembler();
    r.push(piece(7, 0, 3, 3, b"a")).unwrap();
    assert_eq!(
        r.finish(),
        Err(FragmentError::Incomplete {
            fragment_id: 7,
            received: 1,
            count: 3
        })
    );
    assert_eq!(r.finish(), Ok(()));
    assert_eq!(r.partial_messages(), 0);
}

#[test]
fn a_fragment_id_is_reusable_after_completion() {
    let mut r = reassembler();
    assert_eq!(r.push(piece(1, 0, 1, 1, b"a")), Ok(Some(b"a".to_vec())));
    assert_eq!(r.push(piece(1, 0, 1, 1, b"b")), Ok(Some(b"b".to_vec())));
}

#[test]
fn config_validation_names_the_field() {
    let base = ReassemblerConfig::default();
    assert!(base.validate().is_ok());
    let cases = [
        (
            ReassemblerConfig {
                message_bytes_max: 0,
                ..base
            },
            "message_bytes_max",
        ),
        (
            ReassemblerConfig {
                partial_messages_max: 0,
                ..base
            },
            "partial_messages_max",
        ),
        (
            ReassemblerConfig {
                partial_messages_max: 5000,
                ..base
            },
            "partial_messages_max",
        ),
        (
            ReassemblerConfig {
                fragment_count_max: 0,
                ..base
            },
            "fragment_count_max",
        ),
    ];
    for (config, field) in cases {
        assert_eq!(Reassembler::new(config).unwrap_err().field, field);
    }
}
