// An agent console's state, rebuilt after every (re)connect from what the server sends on its own: the
// `presence` and `inbox` right after `welcome` (docs/protocol.md section 4, `presence` and `inbox`), then
// kept current from live `presence`, `handoff`, `conversation_update`, `ticket` and `deliver` frames.
// Nothing is requested after `welcome`: the snapshot comes unasked. Conversations the inbox assigns to
// the agent are followed (resumed from the client's contiguous mark, or from 0 after a reload, which
// replays the newest messages and a `gap` `unavailable` for older ones); conversations the client still
// tracked but the inbox no longer lists as the agent's are forgotten, so later reconnects do not resume
// them (a resume of a conversation taken away is refused with `forbidden`).

import type { SwitchboardClient } from './client';
import type { Id, InboxEntry, InboxFrame, PresenceState, Ticket } from './frames';

export interface AgentStateOptions {
  /** Also follow (receive the messages of) queued conversations of the agent's groups (default false). */
  followQueued?: boolean;
}

export class AgentState {
  /** The agent's effective presence (`offline` until the server says otherwise). */
  presence: PresenceState = 'offline';
  /** The agent's user id, from the inbox ("0" before the first). */
  agentId: Id = '0';
  /** Conversations assigned to this agent, by conversation id. */
  readonly assigned = new Map<Id, InboxEntry>();
  /** Conversations waiting in the queues of the agent's groups, by conversation id. */
  readonly queued = new Map<Id, InboxEntry>();
  /** Open (not closed) tickets of the agent's groups, by ticket id. */
  readonly tickets = new Map<Id, Ticket>();
  /** Inbox snapshots received (0: the console is not rebuilt yet). */
  snapshots = 0;
  private readonly stops: (() => void)[];

  constructor(
    readonly client: SwitchboardClient,
    private readonly options: AgentStateOptions = {},
  ) {
    this.stops = [
      client.on('presence', (p) => (this.presence = p.presence)),
      client.on('inbox', (inbox) => this.rebuild(inbox)),
      client.on('ticket', (t) => {
        if (t.status === 'closed') this.tickets.delete(t.ticket_id);
        else this.tickets.set(t.ticket_id, strip(t));
      }),
      client.on('handoff', (h) => this.moved(h.conversation_id, h.agent_id === '0' ? 'queued' : 'assigned', h.agent_id, h.agent_group)),
      client.on('conversation', (c) => this.moved(c.conversation_id, c.state, c.agent_id, c.agent_group)),
      client.on('message', (m) => {
        const entry = this.assigned.get(m.conversation_id) ?? this.queued.get(m.conversation_id);
        if (!entry) return;
        entry.last_sequence = Math.max(entry.last_sequence, m.sequence);
        if (m.sender_role === 'customer') entry.unread++;
        else if (m.sender_role === 'agent' && m.sender_id === this.agentId) entry.unread = 0;
      }),
      client.on('ack', (a) => {
        const entry = this.assigned.get(a.conversation_id);
        if (entry) (entry.unread = 0), (entry.last_sequence = Math.max(entry.last_sequence, a.sequence));
      }),
    ];
  }

  /** Stops listening to the client. */
  dispose(): void {
    for (const stop of this.stops) stop();
  }

  /** Replaces the state with an `inbox` snapshot and follows what it lists. */
  private rebuild(inbox: InboxFrame): void {
    this.snapshots++;
    this.agentId = inbox.agent_id;
    this.presence = inbox.presence;
    this.assigned.clear();
    this.queued.clear();
    this.tickets.clear();
    for (const entry of inbox.assigned) this.assigned.set(entry.conversation_id, { ...entry });
    for (const entry of inbox.queued) this.queued.set(entry.conversation_id, { ...entry });
    for (const ticket of inbox.tickets) this.tickets.set(ticket.ticket_id, { ...ticket });
    // Conversations no longer the agent's (nor queued for its groups) are not resumed again; an inbox lists
    // at most 200 entries per list, so a full list forgets nothing.
    const full = inbox.assigned.length >= 200 || inbox.queued.length >= 200;
    const tracked = new Set<Id>();
    for (const { conversation_id } of this.client.sequences.resumePositions()) {
      if (full || this.assigned.has(conversation_id) || this.queued.has(conversation_id)) tracked.add(conversation_id);
      else this.client.unfollow(conversation_id);
    }
    const follow = [...this.assigned.keys(), ...(this.options.followQueued ? this.queued.keys() : [])];
    for (const id of follow) if (!tracked.has(id)) this.client.follow(id, 0);
  }

  /** Applies a state change of one conversation (from `handoff` or `conversation_update`). */
  private moved(conversation: Id, state: unknown, agent: Id, group: string): void {
    const known = this.assigned.get(conversation) ?? this.queued.get(conversation);
    this.assigned.delete(conversation);
    this.queued.delete(conversation);
    const entry: InboxEntry = known ?? {
      conversation_id: conversation,
      customer_id: '0',
      state: 'queued',
      agent_id: '0',
      agent_group: group,
      last_sequence: 0,
      unread: 0,
      waiting_ms: 0,
      position: 0,
    };
    entry.state = state as InboxEntry['state'];
    entry.agent_id = agent;
    if (group) entry.agent_group = group;
    if (state === 'assigned' && (agent === this.agentId || this.agentId === '0')) this.assigned.set(conversation, entry);
    else if (state === 'queued') this.queued.set(conversation, entry);
    // Resolved, back to the bot, or another agent's: the server stops sending it, so do not resume it.
    else this.client.unfollow(conversation);
  }
}

function strip(ticket: Ticket & { kind?: string; lane?: string }): Ticket {
  const { kind: _kind, lane: _lane, ...rest } = ticket;
  return rest;
}
