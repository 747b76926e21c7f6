// The agent console (served at /console). Plain JavaScript on the SDK's IIFE build (window.Switchboard):
// a demo agent token from /demo/token?role=agent&user=N, presence, the inbox (assigned conversations, the
// queue, tickets) kept by the SDK's AgentState — rebuilt from the `inbox` the server sends after every
// welcome, so a reconnect or a reload needs nothing else — a conversation view with history paging,
// replies, typing, read receipts, transfers, resolve, and ticket changes with a note.
(function () {
  'use strict';
  var S = window.Switchboard;
  var server = new URLSearchParams(location.search).get('server') ||
    (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws';
  var $ = function (id) { return document.getElementById(id); };
  // The built-in routing configuration numbers its groups from 1 in the order the knowledge base
  // (shards/kb/video-platform.toml) first names each skill (`switchboard describe` lists them).
  var GROUP_NAMES = ['', 'account', 'billing', 'copyright', 'creator', 'tech', 'community', 'trust_safety', 'privacy', 'live', 'content', 'general'];
  var ROLE = { customer: 'Customer', agent: 'Agent', ai: 'Bot', system: 'System' };

  var client, state, me = '0', groups = [], stops = [], refreshTimer;
  var current = null; // the conversation shown
  var convs = new Map(); // conversation id -> { msgs: Map(message id -> message), oldest, more, loaded, readBy }
  var LS = 'switchboard.console.';
  function load(key, fallback) { try { return JSON.parse(localStorage.getItem(LS + key)) || fallback; } catch (e) { return fallback; } }
  function store(key, value) { try { localStorage.setItem(LS + key, JSON.stringify(value)); } catch (e) { /* storage off */ } }
  // The bot's handoff summaries, kept across reloads (the inbox does not repeat them).
  var summaries = load('summaries', {});

  function toast(text) {
    var t = $('toast');
    t.textContent = text;
    t.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(function () { t.hidden = true; }, 4000);
  }
  function conv(id) {
    var c = convs.get(id);
    if (!c) { c = { msgs: new Map(), oldest: 0, more: false, loaded: false, readBy: 0 }; convs.set(id, c); }
    return c;
  }
  function ago(ms) {
    var s = Math.round(ms / 1000);
    return s < 60 ? s + ' s' : Math.round(s / 60) + ' min';
  }
  function groupName(g) { return g ? 'group ' + g + (GROUP_NAMES[g] ? ' ' + GROUP_NAMES[g] : '') : ''; }

  // --- lists -------------------------------------------------------------------------------------------
  var listsQueued = false;
  function renderLists() {
    if (listsQueued) return;
    listsQueued = true;
    setTimeout(function () {
      listsQueued = false;
      if (!state) return;
      list($('assigned'), state.assigned, function (e) {
        return ['#' + e.conversation_id + (e.customer_id !== '0' ? ' · customer ' + e.customer_id : ''), e.unread];
      }, 'No conversations yet.');
      list($('queued'), state.queued, function (e) {
        return ['#' + e.conversation_id + ' · ' + (e.position ? 'position ' + e.position + ' · ' : '') +
          groupName(e.agent_group) + (e.waiting_ms ? ' · waiting ' + ago(e.waiting_ms) : ''), e.unread];
      }, 'The queue is empty.');
      list($('tickets'), state.tickets, function (t) {
        return ['Ticket #' + t.ticket_id + ' · ' + t.subject + ' · ' + t.status + ' · #' + t.conversation_id, 0, t.conversation_id];
      }, 'No open tickets.');
      renderSide();
    }, 0);
  }
  function list(ul, map, describe, emptyText) {
    ul.textContent = '';
    if (!map.size) {
      var li = document.createElement('li');
      li.className = 'empty';
      li.textContent = emptyText;
      ul.appendChild(li);
      return;
    }
    map.forEach(function (entry, key) {
      var d = describe(entry);
      var target = d[2] || key;
      var li = document.createElement('li');
      var b = document.createElement('button');
      b.type = 'button';
      b.dataset.conversation = target;
      if (target === current) b.setAttribute('aria-current', 'true');
      var label = document.createElement('span');
      label.textContent = d[0];
      b.appendChild(label);
      if (d[1]) {
        var badge = document.createElement('span');
        badge.className = 'badge';
        badge.textContent = d[1];
        badge.setAttribute('aria-label', d[1] + ' unread');
        b.appendChild(badge);
      }
      b.onclick = function () { show(target); };
      li.appendChild(b);
      ul.appendChild(li);
    });
  }

  // --- the conversation view ---------------------------------------------------------------------------
  var log = $('log');
  function msgEl(m) {
    if (m.el) return m.el;
    m.el = document.createElement('li');
    m.el.innerHTML = '<span class="who"></span><span class="body"></span><span class="meta"></span>';
    m.el.dataset.id = m.id;
    return m.el;
  }
  function paint(m, c) {
    var el = msgEl(m);
    el.className = 'msg ' + (m.mine ? 'mine' : m.role);
    if (m.seq) el.dataset.seq = String(m.seq);
    el.querySelector('.who').textContent = m.mine ? 'You' : ROLE[m.role] || m.role;
    el.querySelector('.body').textContent = m.text;
    el.querySelector('.meta').textContent = m.mine ? (m.seq ? (m.seq <= c.readBy ? 'Read' : 'Sent') : 'Sending…') : '';
  }
  function place(m) {
    var node = null;
    if (m.seq) {
      for (var n = log.firstElementChild; n; n = n.nextElementSibling) {
        if (n !== m.el && (n.dataset.seq ? Number(n.dataset.seq) > m.seq : n.dataset.id)) { node = n; break; }
      }
    }
    log.insertBefore(m.el, node);
  }
  /** Adds or updates a message of conversation `id`; shows it if that conversation is on screen. */
  function upsert(id, messageId, fields) {
    var c = conv(id);
    var m = c.msgs.get(messageId);
    var fresh = !m;
    if (!m) { m = { id: messageId, seq: 0, role: 'system', mine: false, text: '' }; c.msgs.set(messageId, m); }
    var moved = fields.seq && fields.seq !== m.seq;
    Object.assign(m, fields);
    if (m.seq && (!c.oldest || m.seq < c.oldest)) c.oldest = m.seq;
    if (id !== current) return;
    paint(m, c);
    if (fresh || moved) {
      var stick = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
      place(m);
      if (stick || m.mine) log.scrollTop = log.scrollHeight;
    }
  }
  function delivered(d) {
    var mine = d.sender_role === 'agent' && d.sender_id === me;
    upsert(d.conversation_id, d.message_id, { seq: d.sequence, role: typeof d.sender_role === 'string' ? d.sender_role : 'system', mine: mine, text: d.text });
    if (d.conversation_id === current && d.sender_role === 'customer') { typingOff(); markRead(); }
  }
  function olderButton(c) {
    var old = log.querySelector('.more');
    if (old) old.remove();
    if (!c.more) return;
    var li = document.createElement('li');
    li.className = 'more';
    var b = document.createElement('button');
    b.type = 'button';
    b.textContent = 'Load older messages';
    b.onclick = function () { page(current, c.oldest); };
    li.appendChild(b);
    log.insertBefore(li, log.firstChild);
  }
  function page(id, before) {
    return client.history(id, before, 30).then(function (result) {
      var c = conv(id);
      result.messages.forEach(function (m) { delivered(m); });
      c.loaded = true;
      c.more = result.has_more && result.messages.length > 0;
      if (id === current) olderButton(c);
    }, function (e) { toast('History: ' + e.message); });
  }
  function entryOf(id) { return state && (state.assigned.get(id) || state.queued.get(id)); }
  function show(id) {
    current = id;
    stopTyping();
    typingOff();
    log.textContent = '';
    var c = conv(id);
    var sorted = Array.from(c.msgs.values()).sort(function (a, b) { return (a.seq || 1e15) - (b.seq || 1e15); });
    sorted.forEach(function (m) { paint(m, c); log.appendChild(m.el); });
    olderButton(c);
    log.scrollTop = log.scrollHeight;
    $('conv-title').textContent = 'Conversation #' + id;
    // An agent reads only conversations assigned to it or queued to its groups (a ticket's conversation
    // may still be with the bot): others show their tickets only.
    if (entryOf(id)) {
      var followed = client.sequences.resumePositions().some(function (p) { return p.conversation_id === id; });
      if (!followed) client.follow(id, client.lastContiguousSeq(id)); // e.g. a queued one: live messages too
      if (!c.loaded) page(id, 0).then(markRead);
      else markRead();
    }
    renderLists();
    $('text').focus();
  }
  function renderSide() {
    var id = current;
    var e = id && entryOf(id);
    $('conv-state').textContent = e ? e.state + (e.agent_id !== '0' ? ' · agent ' + e.agent_id : '') + (e.agent_group ? ' · ' + groupName(e.agent_group) : '') + (e.customer_id !== '0' ? ' · customer ' + e.customer_id : '') : id ? 'not in your inbox' : '';
    ['to-group', 'to-agent', 'resolve'].forEach(function (f) { $(f).querySelector('button').disabled = !e; });
    $('text').disabled = $('send').disabled = !e; // replies only to conversations in the inbox
    $('take').querySelector('button').disabled = !(e && e.state === 'queued');
    var summary = id && summaries[id];
    $('summary').textContent = summary || '—';
    var m = summary && /sentiment (-?\d+(?:\.\d+)?)/.exec(summary);
    var s = m ? Number(m[1]) : null;
    var sentiment = $('sentiment');
    sentiment.textContent = s === null ? '—' : s.toFixed(2) + (s <= -0.3 ? ' (negative)' : s >= 0.3 ? ' (positive)' : ' (neutral)');
    sentiment.dataset.tone = s === null ? '' : s <= -0.3 ? 'negative' : s >= 0.3 ? 'positive' : 'neutral';
    renderConvTickets();
  }
  function renderConvTickets() {
    var box = $('conv-tickets');
    box.textContent = '';
    var mine = state ? Array.from(state.tickets.values()).filter(function (t) { return t.conversation_id === current; }) : [];
    if (!mine.length) { box.innerHTML = '<p class="muted">None.</p>'; return; }
    mine.forEach(function (t) {
      var div = document.createElement('div');
      div.className = 'ticket';
      var p = document.createElement('p');
      p.textContent = 'Ticket #' + t.ticket_id + ' · ' + t.subject + ' · ' + t.status + (t.agent_id !== '0' ? ' · agent ' + t.agent_id : '') + (t.note ? ' · ' + t.note : '');
      div.appendChild(p);
      var form = document.createElement('form');
      var noteId = 'note-' + t.ticket_id;
      form.innerHTML = '<label for="' + noteId + '">Note</label><input id="' + noteId + '">';
      ['assigned', 'pending', 'resolved', 'closed'].forEach(function (status) {
        var b = document.createElement('button');
        b.type = 'button';
        b.textContent = { assigned: 'Assign to me', pending: 'Pending', resolved: 'Resolve', closed: 'Close' }[status];
        b.onclick = function () {
          var ok = client.updateTicket({ ticketId: t.ticket_id, conversationId: t.conversation_id, status: status, note: form.querySelector('input').value });
          if (!ok) toast('Not connected');
        };
        form.appendChild(b);
      });
      div.appendChild(form);
      box.appendChild(div);
    });
  }

  // --- typing and read receipts ------------------------------------------------------------------------
  var typingTimer;
  function typingOff() { clearTimeout(typingTimer); $('typing').textContent = ''; }
  var typingSentAt = 0, lastStart = 0, typingIdle, typingRetry;
  function typed() {
    if (!current || !client) return;
    var now = Date.now();
    if (now - typingSentAt > 3000) {
      // The server drops a "started" within 1 s of the previous one from this connection: wait it out.
      var wait = lastStart + 1100 - now;
      clearTimeout(typingRetry);
      if (wait > 0) typingRetry = setTimeout(typed, wait);
      else if (client.typing(current, true)) typingSentAt = lastStart = now;
    }
    clearTimeout(typingIdle);
    typingIdle = setTimeout(stopTyping, 4000);
  }
  function stopTyping() {
    clearTimeout(typingIdle);
    clearTimeout(typingRetry);
    if (typingSentAt && client && current) client.typing(current, false);
    typingSentAt = 0;
  }
  var readSent = {};
  function markRead() {
    var id = current;
    if (!id || !client || document.visibilityState !== 'visible') return;
    var top = 0;
    conv(id).msgs.forEach(function (m) { if (m.seq > top) top = m.seq; });
    if (top > (readSent[id] || 0) && client.readReceipt(id, top)) readSent[id] = top;
  }
  document.addEventListener('visibilitychange', markRead);

  // --- actions -----------------------------------------------------------------------------------------
  function reply(event) {
    event.preventDefault();
    var text = $('text').value.trim();
    if (!text || !current || !client) return;
    $('text').value = '';
    stopTyping();
    var id = current, messageId = S.newMessageId();
    upsert(id, messageId, { mine: true, role: 'agent', text: text });
    client.send(id, text, messageId).then(function (ack) { upsert(id, messageId, { seq: ack.sequence }); });
  }
  $('reply').addEventListener('submit', reply);
  $('text').addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) reply(e);
  });
  $('text').addEventListener('input', typed);
  $('text').addEventListener('blur', stopTyping);
  function action(form, run) {
    $(form).addEventListener('submit', function (e) {
      e.preventDefault();
      if (!current || !client) return;
      if (!run()) toast('Not connected');
    });
  }
  action('take', function () { return client.transferToAgent(current, me, 'taken from the queue'); });
  action('to-group', function () { return client.transferToGroup(current, $('group').value, 'transfer'); });
  action('to-agent', function () { return client.transferToAgent(current, $('to-agent-id').value.trim(), 'transfer'); });
  action('resolve', function () {
    var ok = client.resolve(current, $('resolve-note').value);
    $('resolve-note').value = '';
    return ok;
  });
  $('presence').addEventListener('change', function () {
    if (client && !client.setPresence($('presence').value)) toast('Not connected');
  });

  // --- the connection ----------------------------------------------------------------------------------
  function setConn(s) {
    var text = { idle: 'Connecting…', connecting: 'Connecting…', open: 'Online', reconnecting: 'Reconnecting…', closed: 'Offline' }[s];
    var conn = $('conn');
    conn.dataset.state = { open: 'online', closed: 'offline' }[s] || s;
    conn.textContent = text;
  }
  function token(user) {
    return fetch('/demo/token?role=agent&user=' + encodeURIComponent(user), { cache: 'no-store' }).then(function (r) {
      if (!r.ok) return r.text().then(function (t) { throw new Error(t.trim() || 'HTTP ' + r.status); });
      return r.json();
    });
  }
  function start(user) {
    if (client) { stops.forEach(function (s) { s(); }); state.dispose(); client.close(); }
    convs.clear();
    current = null;
    log.textContent = '';
    setConn('connecting');
    return token(user).then(function (t) {
      me = t.user;
      groups = t.groups;
      store('agent', me);
      $('who').textContent = 'agent ' + me + ' · ' + groups.length + ' groups';
      $('group').innerHTML = '';
      groups.forEach(function (g) {
        var o = document.createElement('option');
        o.value = g;
        o.textContent = groupName(String(g));
        $('group').appendChild(o);
      });
      var first = t.token;
      client = new S.SwitchboardClient({
        url: server,
        // Fresh tokens for reconnects and after the server refuses one (expired).
        getToken: function () {
          if (first) { var f = first; first = null; return f; }
          return token(me).then(function (n) { return n.token; });
        },
        outbox: new S.IndexedDbOutboxStorage('switchboard-outbox-agent-' + me),
      });
      // AgentState listens first, so the handlers below see the state already updated.
      state = new S.AgentState(client);
      stops = [
        client.on('state', function (s) { setConn(s.state); $('presence').disabled = s.state !== 'open'; }),
        client.on('presence', function (p) { $('presence').value = $('presence').dataset.server = p.presence; renderLists(); }),
        client.on('inbox', function () {
          // A rebuilt console: show what a reload lost (the open conversation is paged in again).
          if (current && !convs.get(current).loaded) page(current, 0);
          renderLists();
        }),
        client.on('handoff', function (h) {
          if (h.reason) { summaries[h.conversation_id] = h.reason; store('summaries', summaries); }
          renderLists();
          // A live handoff does not carry the customer or the queue position: refresh the snapshot.
          clearTimeout(refreshTimer);
          refreshTimer = setTimeout(function () { client.requestInbox(); }, 300);
          if (!current && h.agent_id === me) show(h.conversation_id);
        }),
        client.on('conversation', function (c) {
          if (c.conversation_id === current) toast('Conversation #' + c.conversation_id + ': ' + c.state + (c.reason ? ' (' + c.reason + ')' : ''));
          renderLists();
        }),
        client.on('message', function (m) { delivered(m); renderLists(); }),
        client.on('ack', function (a) {
          var c = convs.get(a.conversation_id);
          if (c && c.msgs.has(a.message_id)) upsert(a.conversation_id, a.message_id, { seq: a.sequence });
          renderLists();
        }),
        client.on('ticket', function () { renderLists(); }),
        client.on('typing', function (t) {
          if (t.conversation_id !== current || t.user_id === me) return;
          clearTimeout(typingTimer);
          $('typing').textContent = t.active ? 'Customer is typing…' : '';
          if (t.active) typingTimer = setTimeout(typingOff, 6000);
        }),
        client.on('read', function (r) {
          if (r.user_id === me) return;
          var c = conv(r.conversation_id);
          if (r.sequence <= c.readBy) return;
          c.readBy = r.sequence;
          if (r.conversation_id === current) c.msgs.forEach(function (m) { if (m.mine) paint(m, c); });
        }),
        client.on('error', function (e) { if (e.code !== 'client') toast('Server: ' + e.code + (e.message ? ' — ' + e.message : '')); }),
      ];
      renderLists();
      return client.connect();
    }).catch(function (e) {
      setConn('closed');
      toast('Could not connect: ' + e.message);
    });
  }
  $('login').addEventListener('submit', function (e) {
    e.preventDefault();
    start($('agent').value.trim());
  });
  $('agent').value = load('agent', '1001');
  start($('agent').value);
})();
