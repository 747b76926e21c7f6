// The customer chat widget (served at /widget, opened in an iframe by loader.js). Plain JavaScript on the
// SDK's IIFE build (window.Switchboard). Query parameters: server (ws:// or wss:// URL; default this
// server's /ws), lang (zh or en; default from navigator.language).
//
// Tokens come from /demo/token (a development server); the customer's user id and conversation id are
// kept in localStorage so a reload is the same customer in the same conversation, and unacknowledged
// sends are kept in IndexedDB by the SDK and re-sent after a reconnect or a reload.
(function () {
  'use strict';
  var S = window.Switchboard;
  var params = new URLSearchParams(location.search);
  var lang = (params.get('lang') || navigator.language || 'en').toLowerCase().indexOf('zh') === 0 ? 'zh' : 'en';
  var STR = {
    en: {
      title: 'Customer service', label: 'Message', send: 'Send', hint: 'Enter sends, Shift+Enter starts a new line.',
      connecting: 'Connecting…', online: 'Online', offline: 'Offline', reconnecting: 'Reconnecting…',
      you: 'You', ai: 'Assistant', agent: 'Agent', system: 'Notice', sending: 'Sending…', sent: 'Sent', read: 'Read',
      typing: 'Agent is typing…', botTyping: 'Assistant is typing…', waiting: 'Waiting for an agent…', joined: 'An agent has joined.',
      resolved: 'This conversation is resolved. Write again to reopen it.', bot: 'You are talking to the assistant.',
      earlier: 'Load earlier messages', welcome: 'Hello! Ask us anything, or type “human” to talk to an agent.',
      ticket: 'Ticket', tokenFail: 'Could not get a chat token; retrying.', messages: 'Messages', tickets: 'Tickets',
      status: { opened: 'opened', assigned: 'being handled', pending: 'waiting for you', resolved: 'resolved', closed: 'closed' },
    },
    zh: {
      title: '在线客服', label: '消息', send: '发送', hint: '回车发送，Shift+回车换行。',
      connecting: '正在连接…', online: '在线', offline: '离线', reconnecting: '正在重连…',
      you: '我', ai: '智能助手', agent: '人工客服', system: '通知', sending: '发送中…', sent: '已发送', read: '已读',
      typing: '客服正在输入…', botTyping: '助手正在输入…', waiting: '正在等待人工客服…', joined: '人工客服已接入。',
      resolved: '本次会话已结束，再次发送消息即可重新开始。', bot: '您正在与智能助手对话。',
      earlier: '加载更早的消息', welcome: '您好！有什么可以帮您？输入“转人工”可联系人工客服。',
      ticket: '工单', tokenFail: '获取令牌失败，正在重试。', messages: '消息', tickets: '工单',
      status: { opened: '已创建', assigned: '处理中', pending: '等待您的回复', resolved: '已解决', closed: '已关闭' },
    },
  }[lang];
  var server = params.get('server') || (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws';
  var $ = function (id) { return document.getElementById(id); };
  var log = $('log'), text = $('text'), conn = $('conn'), banner = $('banner'), typingEl = $('typing'), ticketsEl = $('tickets');

  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  document.title = STR.title;
  $('title').textContent = STR.title;
  $('text-label').textContent = STR.label;
  $('send').textContent = STR.send;
  $('hint').textContent = STR.hint;
  log.setAttribute('aria-label', STR.messages);
  ticketsEl.setAttribute('aria-label', STR.tickets);

  // --- what survives a reload: the customer's id and conversation ---------------------------------------
  var KEY = 'switchboard.widget.' + server;
  var saved = {};
  try { saved = JSON.parse(localStorage.getItem(KEY) || '{}') || {}; } catch (e) { saved = {}; }
  function persist() { try { localStorage.setItem(KEY, JSON.stringify(saved)); } catch (e) { /* storage off */ } }
  var conversation = saved.conversation || '0';

  // --- tokens ------------------------------------------------------------------------------------------
  var firstToken;
  function fetchToken() {
    var url = '/demo/token?role=customer' + (saved.user ? '&user=' + encodeURIComponent(saved.user) : '');
    return fetch(url, { cache: 'no-store' }).then(function (r) {
      if (!r.ok) throw new Error('token: HTTP ' + r.status);
      return r.json();
    }).then(function (t) {
      saved.user = t.user;
      persist();
      return t.token;
    });
  }
  // The SDK calls this before every connection attempt (reason connect, reconnect, unauthorized): a
  // fresh token each time, so an expired one is never presented twice.
  function getToken(reason) {
    if (reason === 'connect' && firstToken) { var t = firstToken; firstToken = null; return t; }
    return fetchToken();
  }

  // --- messages ----------------------------------------------------------------------------------------
  var byId = new Map(); // message id -> { seq, role, mine, text, el, state }
  var readUpTo = 0; // the highest sequence another participant has read
  var client;

  function roleName(m) {
    if (m.mine) return STR.you;
    return STR[m.role] || STR.system;
  }
  function renderMeta(m) {
    if (!m.mine) return '';
    if (m.seq && m.seq <= readUpTo) return STR.read;
    return m.seq ? STR.sent : STR.sending;
  }
  function place(m) {
    // Sorted by sequence, before the sends not yet acknowledged; notices and buttons stay where they are.
    var node = null;
    if (m.seq) {
      for (var n = log.firstElementChild; n; n = n.nextElementSibling) {
        if (n !== m.el && (n.dataset.seq ? Number(n.dataset.seq) > m.seq : n.dataset.id)) { node = n; break; }
      }
    }
    log.insertBefore(m.el, node);
  }
  function upsert(id, fields) {
    var m = byId.get(id);
    var fresh = !m;
    if (!m) {
      m = { seq: 0, role: 'system', mine: false, text: '', state: '' };
      m.el = document.createElement('li');
      m.el.innerHTML = '<span class="who"></span><span class="body"></span><span class="meta"></span>';
      m.el.dataset.id = id;
      byId.set(id, m);
    }
    var moved = fields.seq && fields.seq !== m.seq;
    Object.assign(m, fields);
    m.el.className = 'msg ' + (m.mine ? 'mine' : m.role);
    if (m.seq) m.el.dataset.seq = String(m.seq);
    m.el.querySelector('.who').textContent = roleName(m);
    m.el.querySelector('.body').textContent = m.text;
    m.el.querySelector('.meta').textContent = renderMeta(m);
    if (fresh || moved) {
      var stick = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
      place(m);
      if (stick || m.mine) log.scrollTop = log.scrollHeight;
    }
    return m;
  }
  var early = []; // frames of a conversation being opened that came before the opening send's ack
  function delivered(d) {
    if (conversation === '0' && opening) return early.push(d);
    if (d.conversation_id !== conversation) return;
    var mine = d.sender_role === 'customer';
    upsert(d.message_id, { seq: d.sequence, role: typeof d.sender_role === 'string' ? d.sender_role : 'system', mine: mine, text: d.text });
    if (!mine) { showTyping(false); markRead(); }
  }
  function refreshMeta() {
    byId.forEach(function (m) { if (m.mine) m.el.querySelector('.meta').textContent = renderMeta(m); });
  }

  // Read receipts out: everything held contiguously, when the page is visible.
  var readSent = 0, readTimer;
  function markRead() {
    clearTimeout(readTimer);
    readTimer = setTimeout(function () {
      if (conversation === '0' || document.visibilityState !== 'visible' || !client) return;
      var seq = 0;
      byId.forEach(function (m) { if (m.seq > seq) seq = m.seq; });
      if (seq > readSent && client.readReceipt(conversation, seq)) readSent = seq;
    }, 300);
  }
  document.addEventListener('visibilitychange', markRead);

  // --- status: connection, conversation state, tickets, typing -----------------------------------------
  function setConn(state) {
    conn.dataset.state = state;
    conn.textContent = STR[state];
  }
  function setBanner(kind, textValue) {
    banner.hidden = !textValue;
    banner.dataset.kind = kind;
    banner.textContent = textValue || '';
  }
  var tickets = new Map();
  function ticket(t) {
    if (t.conversation_id !== conversation) return;
    var li = tickets.get(t.ticket_id);
    if (!li) { li = document.createElement('li'); tickets.set(t.ticket_id, li); ticketsEl.appendChild(li); }
    li.dataset.status = String(t.status);
    li.textContent = STR.ticket + ' #' + t.ticket_id + (t.subject ? ' (' + t.subject + ')' : '') + ': ' +
      (STR.status[t.status] || t.status) + (t.note ? ' — ' + t.note : '');
  }
  var typingTimer;
  function showTyping(on, who) {
    clearTimeout(typingTimer);
    typingEl.textContent = on ? (who === 'ai' ? STR.botTyping : STR.typing) : '';
    if (on) typingTimer = setTimeout(function () { typingEl.textContent = ''; }, 6000);
  }

  // Typing out: a "started" at most every 3 s while typing, "stopped" after 4 s idle or on send.
  var typingSentAt = 0, lastStart = 0, typingIdle, typingRetry;
  function typed() {
    if (conversation === '0' || !client) return;
    var now = Date.now();
    if (now - typingSentAt > 3000) {
      // The server drops a "started" within 1 s of the previous one from this connection: wait it out.
      var wait = lastStart + 1100 - now;
      clearTimeout(typingRetry);
      if (wait > 0) typingRetry = setTimeout(typed, wait);
      else if (client.typing(conversation, true)) typingSentAt = lastStart = now;
    }
    clearTimeout(typingIdle);
    typingIdle = setTimeout(stopTyping, 4000);
  }
  function stopTyping() {
    clearTimeout(typingIdle);
    clearTimeout(typingRetry);
    if (typingSentAt && client && conversation !== '0') client.typing(conversation, false);
    typingSentAt = 0;
  }

  // --- sending -----------------------------------------------------------------------------------------
  // Only one send may open the conversation (conversation "0"): later ones wait for its ack.
  var opening = false, waiting = [];
  // Frames about a conversation can overtake the ack of the send that opened it (a ticket or a handoff
  // on the urgent lane: docs/protocol.md section 4): those that come while the opening send waits for its
  // ack are kept and handled once the ack names the conversation.
  var earlyEvents = [];
  function forConversation(handle) {
    return function (frame) {
      if (conversation === '0' && opening) return earlyEvents.push([handle, frame]);
      handle(frame);
    };
  }
  function opened(id) {
    if (conversation !== '0' || !id || id === '0') return;
    conversation = id;
    saved.conversation = id;
    persist();
    opening = false;
    var queue = waiting; waiting = [];
    queue.forEach(function (w) { transmit(w.id, w.text); });
    var frames = early; early = [];
    frames.forEach(delivered);
    var events = earlyEvents; earlyEvents = [];
    events.forEach(function (e) { e[0](e[1]); });
  }
  function transmit(id, body) {
    if (conversation === '0') {
      if (opening) return waiting.push({ id: id, text: body });
      opening = true;
    }
    client.send(conversation, body, id).then(function (ack) {
      opened(ack.conversation_id);
      upsert(id, { seq: ack.sequence });
    }, function () { upsert(id, { state: 'failed' }); });
  }
  function submit(event) {
    event.preventDefault();
    var body = text.value.trim();
    if (!body || !client) return;
    text.value = '';
    stopTyping();
    var id = S.newMessageId();
    upsert(id, { mine: true, role: 'customer', text: body });
    transmit(id, body);
  }
  $('form').addEventListener('submit', submit);
  text.addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) submit(e);
    else if (e.key === 'Escape') parent.postMessage({ switchboard: 'close' }, '*');
  });
  text.addEventListener('input', typed);
  // The loader asks for focus when it opens the widget.
  addEventListener('message', function (e) {
    if (e.source === parent && e.data && e.data.switchboard === 'focus') text.focus();
  });
  text.addEventListener('blur', stopTyping);

  // Older messages (after a reload the server replays only the newest ones and reports a gap).
  var moreBtn;
  function showEarlier(before) {
    if (moreBtn) return;
    moreBtn = document.createElement('li');
    moreBtn.className = 'more';
    moreBtn.innerHTML = '<button type="button"></button>';
    moreBtn.firstChild.textContent = STR.earlier;
    moreBtn.firstChild.onclick = function () { loadEarlier(before); };
    log.insertBefore(moreBtn, log.firstChild);
  }
  function loadEarlier(before) {
    client.history(conversation, before, 50).then(function (page) {
      page.messages.forEach(delivered);
      moreBtn.remove(); moreBtn = null;
      if (page.has_more && page.messages.length) showEarlier(page.messages[0].sequence);
    }, function () { /* offline: the button stays */ });
  }

  // --- the connection ----------------------------------------------------------------------------------
  function start() {
    setConn('connecting');
    fetchToken().then(function (token) {
      firstToken = token;
      client = new S.SwitchboardClient({
        url: server,
        getToken: getToken,
        outbox: new S.IndexedDbOutboxStorage('switchboard-outbox-' + saved.user),
        // After a reload: follow the saved conversation from 0, so the server replays its newest messages.
        positions: conversation !== '0' ? [{ conversation_id: conversation, last_sequence: 0 }] : [],
      });
      client.on('state', function (s) {
        if (!navigator.onLine && s.state !== 'open') return setConn('offline');
        setConn({ idle: 'connecting', connecting: 'connecting', open: 'online', reconnecting: 'reconnecting', closed: 'offline' }[s.state]);
      });
      client.on('message', delivered);
      client.on('ack', function (a) {
        opened(a.conversation_id);
        if (byId.has(a.message_id)) upsert(a.message_id, { seq: a.sequence });
      });
      client.on('typing', function (t) {
        if (t.conversation_id === conversation && t.user_id !== saved.user) showTyping(t.active);
      });
      client.on('read', function (r) {
        if (r.conversation_id === conversation && r.user_id !== saved.user && r.sequence > readUpTo) {
          readUpTo = r.sequence;
          refreshMeta();
        }
      });
      client.on('handoff', forConversation(function (h) {
        if (h.conversation_id !== conversation) return;
        var assigned = h.agent_id !== '0';
        // `reason` is the server's customer-facing text, in the customer's language.
        setBanner(assigned ? 'assigned' : 'queued', h.reason || (assigned ? STR.joined : STR.waiting));
      }));
      client.on('conversation', forConversation(function (c) {
        if (c.conversation_id !== conversation) return;
        // The handoff just before says more (the place in the queue, the agent): keep its text.
        if (c.state === 'queued') { if (banner.dataset.kind !== 'queued') setBanner('queued', STR.waiting); }
        else if (c.state === 'assigned') { if (banner.dataset.kind !== 'assigned') setBanner('assigned', STR.joined); }
        else if (c.state === 'resolved') setBanner('resolved', STR.resolved);
        else if (c.state === 'bot') setBanner('bot', STR.bot);
      }));
      client.on('ticket', forConversation(ticket));
      client.on('gap', function (g) {
        if (g.conversation_id === conversation && g.reason === 'unavailable') showEarlier(g.to_sequence + 1);
      });
      client.on('welcome', markRead);
      return client.connect().then(function () {
        // Sends a reload found in the outbox are shown (and re-sent by the SDK).
        client.pendingSends().forEach(function (p) {
          if (p.conversation_id === '0') opening = true;
          if (p.conversation_id === conversation || p.conversation_id === '0') upsert(p.message_id, { mine: true, role: 'customer', text: p.text });
        });
      });
    }).catch(function () {
      setConn('offline');
      setBanner('error', STR.tokenFail);
      setTimeout(start, 3000);
    });
  }

  // The browser knows when the network is gone: stop at once (instead of waiting for a heartbeat
  // timeout), keep the outbox, and reconnect (resuming every conversation) when it is back.
  addEventListener('offline', function () {
    if (!client) return;
    client.close();
    setConn('offline');
  });
  addEventListener('online', function () {
    if (client && client.state === 'closed') client.connect();
  });

  var hello = document.createElement('li');
  hello.className = 'msg system';
  hello.textContent = STR.welcome;
  log.appendChild(hello);
  start();
})();
