//! Writing the head message of a lane: whole, or its next fragment (an RFC 6455 continuation frame, or an
//! app-level fragment with its prefix), by copy or, for a large chunk, by reference.

use super::*;

impl SendQueue {
    /// Writes the next fragment (or the whole message) of the head of `lane`, if it fits in `budget`; with
    /// `gather`, a chunk of at least `GATHER_PAYLOAD_BYTES_MIN` is returned instead of copied.
    pub(super) fn write_fragment(
        &mut self,
        lane: Lane,
        out: &mut Vec<u8>,
        budget: usize,
        gather: bool,
    ) -> Step {
        let fragmentation = self.fragmentation();
        let fragment_bytes = self.fragment_bytes as usize;
        let buffers = self.buffers.as_deref_mut().expect("next_lane found a lane");
        let message = buffers.lanes[lane_index(lane)]
            .front_mut()
            .expect("next_lane found it non-empty");
        let total = message.payload.len();
        let chunk = (total - message.offset).min(fragment_bytes);
        let first = message.offset == 0;
        let last = message.offset + chunk == total;
        let worst = wire::SERVER_FRAME_HEADER_BYTES_MAX + chunk;
        match fragmentation {
            Fragmentation::WebSocket => {
                if wire::header_len(chunk) + chunk > budget {
                    return Step::Idle;
                }
                let opcode = if first {
                    message.kind.opcode()
                } else {
                    wire::OPCODE_CONTINUATION
                };
                wire::write_header(out, last, opcode, chunk);
            }
            Fragmentation::App {
                prefix_bytes_max,
                write_prefix,
            } => {
                if worst + prefix_bytes_max > budget {
                    return Step::Idle;
                }
                if first && last {
                    wire::write_header(out, true, message.kind.opcode(), chunk);
                } else {
                    let count = total.div_ceil(fragment_bytes);
                    let info = FragmentInfo {
                        message_number: message.message_number,
                        index: message.next_index,
                        count: u32::try_from(count)
                            .expect("fragment count of a bounded message fits u32"),
                        last,
                        lane,
                        total_bytes: total,
                    };
                    write_app_fragment(
                        out,
                        &mut buffers.scratch,
                        &info,
                        (prefix_bytes_max, write_prefix),
                        chunk,
                    );
                }
            }
        }
        let range = message.offset..message.offset + chunk;
        let step = if gather && chunk >= GATHER_PAYLOAD_BYTES_MIN {
            Step::Gathered(message.payload.slice(range))
        } else {
            out.extend_from_slice(&message.payload[range]);
            Step::Wrote
        };
        message.offset += chunk;
        message.next_index += 1;
        buffers.queued_bytes -= chunk;
        if last {
            let written = buffers.lanes[lane_index(lane)].pop_front();
            let written = written.expect("the message being written");
            if written.reusable {
                buffers
                    .spare
                    .keep(written.payload, matches!(step, Step::Gathered(_)));
            }
            buffers.queued_bytes -= ENTRY_OVERHEAD_BYTES;
            buffers.messages_sent += 1;
            buffers.sent_by_lane[lane_index(lane)] += 1;
            buffers.continuing = None;
        } else if matches!(fragmentation, Fragmentation::WebSocket) {
            buffers.continuing = Some(lane);
        }
        step
    }
}
