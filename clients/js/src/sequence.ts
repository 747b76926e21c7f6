// Per-conversation delivery positions: the highest contiguous sequence held plus the sequences held above
// it. The server may deliver one conversation's sequences out of order — a bot answer on the ai_answer lane
// can overtake a chat-lane message queued before it, and a replay can cross live traffic — so a plain
// high-water mark would resume past a message not yet received and lose it. Resuming from the contiguous
// mark and de-duplicating against the held set delivers every message once, in arrival order.

/** One conversation's position. */
interface Position {
  /** Every sequence ≤ this is held (or was declared lost by a `gap`). */
  contiguous: number;
  /** Held sequences above `contiguous + 1`. */
  above: Set<number>;
  /** Gap ranges `[from, to]` above `contiguous + 1`, applied once the mark reaches them. */
  gaps: [number, number][];
}

/** Held sequences above the mark per conversation before the oldest hole is given up as lost. */
export const SEQUENCES_AHEAD_MAX = 100_000;

export class SequenceTracker {
  private positions = new Map<string, Position>();

  private position(conversation: string): Position {
    let position = this.positions.get(conversation);
    if (!position) {
      position = { contiguous: 0, above: new Set(), gaps: [] };
      this.positions.set(conversation, position);
    }
    return position;
  }

  /** Starts tracking `conversation` (resumed from `contiguous`) if it is not tracked yet. */
  follow(conversation: string, contiguous = 0): void {
    const position = this.position(conversation);
    if (contiguous > position.contiguous) {
      position.contiguous = contiguous;
      this.advance(position);
    }
  }

  /** Whether `sequence` of `conversation` was already held. */
  has(conversation: string, sequence: number): boolean {
    const position = this.positions.get(conversation);
    return !!position && (sequence <= position.contiguous || position.above.has(sequence));
  }

  /** Records `sequence` as held; false when it already was (a duplicate to drop). */
  add(conversation: string, sequence: number): boolean {
    const position = this.position(conversation);
    if (sequence <= position.contiguous || position.above.has(sequence)) return false;
    position.above.add(sequence);
    this.advance(position);
    if (position.above.size > SEQUENCES_AHEAD_MAX) {
      // A hole the server never filled: give up the oldest hole rather than grow without bound.
      position.contiguous = Math.min(...position.above) - 1;
      this.advance(position);
    }
    return true;
  }

  /** Records `from..=to` as lost (a `gap` frame): the mark moves past it once it is reached. */
  skip(conversation: string, from: number, to: number): void {
    const position = this.position(conversation);
    if (to <= position.contiguous) return;
    position.gaps.push([from, to]);
    this.advance(position);
  }

  private advance(position: Position): void {
    for (;;) {
      const next = position.contiguous + 1;
      if (position.above.delete(next)) {
        position.contiguous = next;
        continue;
      }
      const gap = position.gaps.find(([from, to]) => from <= next && to >= next);
      if (!gap) break;
      position.contiguous = gap[1];
      for (const sequence of position.above) if (sequence <= gap[1]) position.above.delete(sequence);
    }
    position.gaps = position.gaps.filter(([, to]) => to > position.contiguous);
  }

  /** The highest sequence of `conversation` below which everything is held (0: nothing). */
  lastContiguousSeq(conversation: string): number {
    return this.positions.get(conversation)?.contiguous ?? 0;
  }

  /** The resume positions: every tracked conversation with its contiguous mark. */
  resumePositions(): { conversation_id: string; last_sequence: number }[] {
    return [...this.positions].map(([conversation_id, p]) => ({ conversation_id, last_sequence: p.contiguous }));
  }

  /** Stops tracking `conversation`. */
  forget(conversation: string): void {
    this.positions.delete(conversation);
  }
}
