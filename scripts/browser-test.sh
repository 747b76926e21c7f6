#!/usr/bin/env bash
# Browser test of the embedded customer widget and agent console (issue 17), in headless Chromium.
#
# - Installs Debian's `chromium` with apt-get when /usr/bin/chromium is missing, and playwright-core
#   (pinned, no browser download) from the npm registry into target/browser-test/npm.
# - Builds the switchboard binary and starts `switchboard serve` on a free loopback port with a fresh data
#   directory (chat mode, development signing key, so /demo/token works).
# - Drives /console (agent 1001) and / (the loader's bubble and the widget iframe) in two browser contexts:
#   agent presence away/online; the customer asks a knowledge-base question and gets the bot's answer;
#   asks for a human; the conversation reaches the agent's inbox (assigned to the online agent, or taken
#   from the queue); typing both ways; the agent replies; the customer sees it; read receipts; the
#   customer's network goes offline and back while both sides write, and every message is then shown
#   exactly once on both sides; the customer reloads and gets the same conversation; the agent reloads
#   and its inbox and conversation are rebuilt; the agent resolves; a second customer's refund opens a
#   ticket that the agent assigns, resolves (the customer sees it) and closes, with notes.
# - Tests docs/tokens.md for real: the JavaScript and Python examples (extracted from the document) mint
#   tokens with a configured key; a second server configured with that key accepts both (welcome), refuses
#   a tampered one, and the SDK's token callback replaces an expired token (reasons connect, unauthorized).
# - Screenshots and logs go to target/browser-test/. Every wait is bounded; servers are killed by PID.
#
# Usage: bash scripts/browser-test.sh   (CARGO_BUILD_JOBS is honoured; needs node >= 20, npm, cargo,
# python3; root or sudo-less apt-get only if chromium is missing)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out="$root/target/browser-test"
mkdir -p "$out"
rm -f "$out"/*.png "$out"/*.log
started=$SECONDS
PLAYWRIGHT_CORE_VERSION=1.65.2
CHROMIUM=/usr/bin/chromium

if [ ! -x "$CHROMIUM" ]; then
  echo "browser-test: installing Debian's chromium"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium
fi
"$CHROMIUM" --version || true
# Chinese glyphs in the screenshots (best effort: the test itself does not need them).
if command -v fc-list >/dev/null && [ -z "$(fc-list :lang=zh 2>/dev/null)" ]; then
  echo "browser-test: installing a Chinese font (Debian fonts-wqy-zenhei) for the screenshots"
  { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends fonts-wqy-zenhei; } >"$out/apt-fonts.log" 2>&1 || \
    echo "browser-test: no Chinese font (see $out/apt-fonts.log); screenshots show boxes for Chinese text"
fi

npm_dir="$out/npm"
if [ "$(node -p "try{require('$npm_dir/node_modules/playwright-core/package.json').version}catch(e){''}")" != "$PLAYWRIGHT_CORE_VERSION" ]; then
  echo "browser-test: installing playwright-core@$PLAYWRIGHT_CORE_VERSION"
  mkdir -p "$npm_dir"
  echo '{"private":true}' > "$npm_dir/package.json"
  (cd "$npm_dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --ignore-scripts \
    "playwright-core@$PLAYWRIGHT_CORE_VERSION")
fi

echo "browser-test: building the switchboard binary"
cargo build --locked -p switchboard-shards --bin switchboard
bin="${CARGO_TARGET_DIR:-$root/target}/debug/switchboard"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_port() {
  for _ in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "browser-test: nothing listens on $1"; return 1
}

tmp=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# The demo server: default chat mode, development key.
port=$(free_port)
"$bin" serve --listen "127.0.0.1:$port" --admin-listen off --data-dir "$tmp/data" >"$out/server.log" 2>&1 &
pids+=($!)

# A server with a configured key, for the docs/tokens.md examples.
key_id=browser-test
key_hex=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
port2=$(free_port)
cat >"$tmp/keyed.toml" <<EOF
listen = "127.0.0.1:$port2"
admin_listen = "off"
data_dir = "$tmp/keyed-data"
[auth]
active_key_id = "$key_id"
clock_skew_s = 0
keys = [{ id = "$key_id", secret_hex = "$key_hex" }]
EOF
"$bin" serve --config "$tmp/keyed.toml" >"$out/server-keyed.log" 2>&1 &
pids+=($!)
wait_port "$port"
wait_port "$port2"

# The examples of docs/tokens.md, extracted as written (between <!-- example: FILE --> and the block's end).
extract() {
  awk -v name="$1" '
    $0 == "<!-- example: " name " -->" { want = 1; next }
    want && /^```/ { if (inside) exit; inside = 1; next }
    inside { print }
  ' docs/tokens.md
}
extract mint-token.mjs >"$tmp/mint-token.mjs"
extract mint_token.py >"$tmp/mint_token.py"
[ -s "$tmp/mint-token.mjs" ] && [ -s "$tmp/mint_token.py" ] || { echo "browser-test: examples not found in docs/tokens.md"; exit 1; }
export SWITCHBOARD_KEY_ID=$key_id SWITCHBOARD_KEY_HEX=$key_hex
token_js=$(node "$tmp/mint-token.mjs" 1 42 customer)
token_py=$(python3 "$tmp/mint_token.py" 1 1001 agent 1,2,11)
token_short=$(node "$tmp/mint-token.mjs" 1 43 customer "" 1)
token_fresh=$(python3 "$tmp/mint_token.py" 1 43 customer)
# The payload matches `switchboard token`'s but for the times (bytes 2+len(id)+1+16 .. +16).
node -e '
  const [a, b, idLen] = process.argv.slice(1);
  const p = (t) => Buffer.from(t.split(".")[0], "base64url");
  const strip = (x) => Buffer.concat([x.subarray(0, 3 + +idLen + 16), x.subarray(3 + +idLen + 32)]).toString("hex");
  if (strip(p(a)) !== strip(p(b))) { console.error("browser-test: the JS example payload differs from switchboard token"); process.exit(1); }
' "$token_js" "$("$bin" token --tenant 1 --user 42 --role customer --key-id "$key_id" --key-hex "$key_hex" 2>/dev/null)" "${#key_id}"
echo "browser-test: docs/tokens.md examples minted tokens (JS payload = switchboard token payload)"

cat >"$out/test.mjs" <<'EOF'
// Written by scripts/browser-test.sh; run with node from target/browser-test.
import { createRequire } from 'node:module';
const require = createRequire(process.env.NPM_DIR + '/');
const { chromium } = require('playwright-core');

const base = process.env.BASE;
const keyed = process.env.KEYED;
const out = process.env.OUT;
const T = 20_000;
const t0 = Date.now();
const log = (...a) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s]`, ...a);
const errors = [];
let shot = 0;
const snap = (page, name) => page.screenshot({ path: `${out}/${String(++shot).padStart(2, '0')}-${name}.png` });
function check(ok, what) {
  if (!ok) throw new Error('check failed: ' + what);
  log('ok:', what);
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM, args: ['--no-sandbox'], timeout: 30_000 });
const watch = (page, who) => {
  page.on('pageerror', (e) => errors.push(`${who}: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') console.log(`  [${who} console] ${m.text()}`); });
};
try {
  // --- the agent goes online -------------------------------------------------------------------------
  const agentContext = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  let agent = await agentContext.newPage();
  watch(agent, 'console');
  await agent.goto(base + '/console');
  await agent.locator('#conn[data-state=online]').waitFor({ timeout: T });
  await agent.locator('#presence:not([disabled])').waitFor({ timeout: T });
  await agent.selectOption('#presence', 'away');
  await agent.locator('#presence[data-server=away]').waitFor({ timeout: T });
  await agent.selectOption('#presence', 'online');
  await agent.locator('#presence[data-server=online]').waitFor({ timeout: T });
  check(true, 'agent 1001 connected, went away and back online (presence answered by the server)');
  await snap(agent, 'console-online');

  // --- the customer asks the bot ---------------------------------------------------------------------
  const customerContext = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1000, height: 800 } });
  const customer = await customerContext.newPage();
  watch(customer, 'customer');
  await customer.goto(base + '/');
  const bubble = customer.locator('#switchboard-chat button');
  await bubble.click({ timeout: T });
  check((await bubble.getAttribute('aria-expanded')) === 'true', 'the loader bubble opens the widget iframe');
  const widget = customer.frameLocator('#switchboard-chat iframe');
  await widget.locator('#conn[data-state=online]').waitFor({ timeout: T });
  check((await widget.locator('#send').textContent()) === '发送', 'the widget speaks Chinese for a zh browser');
  const text = widget.locator('#text');
  await text.fill('三连是什么意思');
  await text.press('Enter');
  const bot = widget.locator('.msg.ai').first();
  await bot.waitFor({ timeout: T });
  const answer = await bot.locator('.body').textContent();
  check(answer.length > 0, 'the bot answered the KB question: ' + answer.slice(0, 60).replace(/\n/g, ' '));
  await snap(customer, 'widget-bot-answer');

  // --- handoff to a human ----------------------------------------------------------------------------
  await text.fill('转人工');
  await text.press('Enter');
  await widget.locator('#banner:not([hidden])').waitFor({ timeout: T });
  log('customer banner:', await widget.locator('#banner').textContent());
  const conversation = await customer.evaluate(() => {
    const frame = document.querySelector('#switchboard-chat').shadowRoot.querySelector('iframe');
    for (const [k, v] of Object.entries(frame.contentWindow.localStorage)) if (k.startsWith('switchboard.widget.')) return JSON.parse(v).conversation;
  });
  check(!!conversation, 'the customer opened conversation ' + conversation);
  const entry = agent.locator(`#assigned button[data-conversation="${conversation}"], #queued button[data-conversation="${conversation}"]`).first();
  await entry.waitFor({ timeout: T });
  if (await agent.locator(`#queued button[data-conversation="${conversation}"]`).count()) {
    await entry.click();
    await agent.click('#take button');
  }
  await agent.locator(`#assigned button[data-conversation="${conversation}"]`).waitFor({ timeout: T });
  await widget.locator('#banner[data-kind=assigned]').waitFor({ timeout: T });
  check(true, 'the conversation is assigned to the agent; the customer is told an agent joined');
  await agent.locator(`#assigned button[data-conversation="${conversation}"]`).click();
  await agent.locator('#log .msg.customer', { hasText: '三连是什么意思' }).waitFor({ timeout: T });
  const summary = await agent.locator('#summary').textContent();
  check(/intent/.test(summary) && (await agent.locator('#sentiment').textContent()) !== '—', 'the console shows the handoff summary and sentiment: ' + summary.slice(0, 80));

  // --- typing both ways, reply, read receipt ---------------------------------------------------------
  await text.pressSequentially('你好', { delay: 50 });
  await agent.locator('#typing', { hasText: 'typing' }).waitFor({ timeout: T });
  check(true, 'the agent sees the customer typing');
  await text.fill('');
  await agent.locator('#text').pressSequentially('Hi', { delay: 50 });
  await widget.locator('#typing', { hasText: '输入' }).waitFor({ timeout: T });
  check(true, 'the customer sees the agent typing');
  await agent.locator('#text').fill('您好，我是客服 1001，三连就是点赞、投币、收藏。');
  await agent.locator('#text').press('Enter');
  await widget.locator('.msg.agent', { hasText: '我是客服 1001' }).waitFor({ timeout: T });
  check(true, 'the customer sees the agent reply');
  await agent.locator('#log .msg.mine .meta', { hasText: 'Read' }).waitFor({ timeout: T });
  check(true, 'the agent sees the read receipt of the customer');
  await snap(agent, 'console-conversation');
  await snap(customer, 'widget-agent-reply');

  // --- the customer goes offline and back ------------------------------------------------------------
  await customerContext.setOffline(true);
  await widget.locator('#conn[data-state=offline]').waitFor({ timeout: T });
  check(true, 'the widget shows offline');
  await text.fill('离线时发送的消息');
  await text.press('Enter');
  await agent.locator('#text').fill('agent reply while the customer is offline');
  await agent.locator('#text').press('Enter');
  await agent.locator('#log .msg.mine', { hasText: 'while the customer is offline' }).locator('.meta', { hasText: 'Sent' }).waitFor({ timeout: T });
  await snap(customer, 'widget-offline');
  await customer.waitForTimeout(1000);
  await customerContext.setOffline(false);
  await widget.locator('#conn[data-state=online]').waitFor({ timeout: T });
  await widget.locator('.msg.agent', { hasText: 'while the customer is offline' }).waitFor({ timeout: T });
  await agent.locator('#log .msg.customer', { hasText: '离线时发送的消息' }).waitFor({ timeout: T });
  await widget.locator('.msg.mine[data-seq]', { hasText: '离线时发送的消息' }).waitFor({ timeout: T });
  check(true, 'after reconnecting both messages written during the outage arrived');
  const expected = ['三连是什么意思', '转人工', '我是客服 1001', '离线时发送的消息', 'while the customer is offline'];
  async function countOnce(frame, who) {
    const rows = await frame.locator('#log .msg[data-id]').evaluateAll((els) => els.map((e) => ({ seq: e.dataset.seq, text: e.querySelector('.body').textContent })));
    const seqs = rows.map((r) => r.seq);
    check(rows.every((r) => r.seq) && new Set(seqs).size === seqs.length, `${who}: ${rows.length} messages, every one acknowledged, no sequence twice`);
    const sorted = seqs.map(Number);
    check(sorted.every((s, i) => i === 0 || s > sorted[i - 1]), `${who}: messages in sequence order`);
    for (const e of expected) check(rows.filter((r) => r.text.includes(e)).length === 1, `${who}: "${e}" shown exactly once`);
    return rows.length;
  }
  const widgetCount = await countOnce(widget, 'widget');
  await countOnce(agent, 'console');
  await snap(customer, 'widget-after-reconnect');

  // --- the customer reloads: same customer, same conversation ----------------------------------------
  await customer.reload();
  await customer.locator('#switchboard-chat button').click({ timeout: T });
  await widget.locator('#conn[data-state=online]').waitFor({ timeout: T });
  await widget.locator('.msg.agent', { hasText: 'while the customer is offline' }).waitFor({ timeout: T });
  await customer.waitForTimeout(500);
  check((await widget.locator('#log .msg[data-id]').count()) === widgetCount, 'after a reload the widget shows the same conversation, nothing twice');

  // --- the agent reloads: the inbox is rebuilt -------------------------------------------------------
  await agent.reload();
  await agent.locator('#conn[data-state=online]').waitFor({ timeout: T });
  await agent.locator(`#assigned button[data-conversation="${conversation}"]`).waitFor({ timeout: T });
  check(true, 'after a reload the console lists the assigned conversation again');
  await agent.locator(`#assigned button[data-conversation="${conversation}"]`).click();
  await agent.locator('#log .msg', { hasText: 'while the customer is offline' }).waitFor({ timeout: T });
  await agent.waitForTimeout(500);
  await countOnce(agent, 'console after reload');
  await snap(agent, 'console-after-reload');

  // --- resolve ---------------------------------------------------------------------------------------
  await agent.fill('#resolve-note', 'answered');
  await agent.click('#resolve button');
  await widget.locator('#banner[data-kind=resolved]').waitFor({ timeout: T });
  await agent.locator(`#assigned button[data-conversation="${conversation}"]`).waitFor({ state: 'detached', timeout: T });
  check(true, 'the agent resolves; the customer is told and the inbox drops it');
  await snap(customer, 'widget-resolved');

  // --- a refund ticket, worked by the agent ---------------------------------------------------------
  const second = await (await browser.newContext({ locale: 'zh-CN' })).newPage();
  watch(second, 'customer 2');
  // The urgent lane may overtake the chat lane (docs/protocol.md section 6): here the ticket is made to
  // arrive before the ack of the send that opened the conversation, as it can on a busy server (the
  // widget used to drop such a ticket: it did not know the conversation yet).
  let heldAck = null;
  await second.routeWebSocket(/\/ws/, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((m) => server.send(m));
    server.onMessage((m) => {
      const kind = typeof m === 'string' ? JSON.parse(m).kind : m[0];
      if ((kind === 'ack' || kind === 0x04) && heldAck === null) { heldAck = m; return; }
      ws.send(m);
      if ((kind === 'ticket' || kind === 0x0b) && heldAck) { ws.send(heldAck); heldAck = false; }
    });
  });
  await second.goto(base + '/widget?lang=zh');
  await second.locator('#conn[data-state=online]').waitFor({ timeout: T });
  await second.locator('#text').fill('我要退款，订单号202403150001234567');
  await second.locator('#text').press('Enter');
  await second.locator('#tickets li').first().waitFor({ timeout: T });
  log('customer 2 ticket:', await second.locator('#tickets li').first().textContent());
  const ticketButton = agent.locator('#tickets button', { hasText: 'Ticket #' }).first();
  await ticketButton.waitFor({ timeout: T });
  check(true, 'the bot opened a refund ticket: the customer sees it, the console lists it');
  await ticketButton.click();
  const ticketBox = agent.locator('#conv-tickets .ticket').first();
  await ticketBox.locator('input').fill('checking the order');
  await ticketBox.locator('button', { hasText: 'Assign to me' }).click();
  await agent.locator('#conv-tickets .ticket p', { hasText: 'assigned · agent 1001' }).waitFor({ timeout: T });
  await agent.locator('#conv-tickets .ticket input').fill('refunded to the original payment method');
  await agent.locator('#conv-tickets .ticket button', { hasText: 'Resolve' }).click();
  await second.locator('#tickets li[data-status=resolved]').waitFor({ timeout: T });
  check(true, 'the agent assigned and resolved the ticket with notes; the customer sees it resolved: ' + (await second.locator('#tickets li').first().textContent()));
  await snap(agent, 'console-ticket');
  await agent.locator('#conv-tickets .ticket button', { hasText: 'Close' }).click();
  await agent.locator('#tickets button', { hasText: 'Ticket #' }).waitFor({ state: 'detached', timeout: T });
  check(true, 'a closed ticket leaves the console');
  await snap(second, 'widget-ticket');

  // --- docs/tokens.md: tokens minted by the examples -------------------------------------------------
  const page = await (await browser.newContext()).newPage();
  watch(page, 'keyed');
  await page.goto(keyed + '/');
  check((await page.request.get(keyed + '/demo/token?role=customer')).status() === 404, 'a server with configured keys mints no demo tokens');
  await page.addScriptTag({ url: keyed + '/switchboard.js' });
  const connect = (tokens) => page.evaluate(async ({ url, tokens }) => {
    const reasons = [];
    const errors = [];
    const client = new Switchboard.SwitchboardClient({
      url,
      getToken: (reason) => (reasons.push(reason), tokens.shift() ?? 'none'),
      outbox: new Switchboard.MemoryOutboxStorage(),
      reconnect: { baseMs: 50, capMs: 200, attemptsMax: 3 },
    });
    client.on('error', (e) => errors.push(e.code));
    const welcome = new Promise((resolve) => client.on('welcome', () => resolve(true)));
    const closed = new Promise((resolve) => client.on('state', (s) => s.state === 'closed' && resolve(false)));
    await client.connect();
    const ok = await Promise.race([welcome, closed, new Promise((r) => setTimeout(() => r(false), 10_000))]);
    client.close();
    return { ok, reasons, errors };
  }, { url: keyed.replace(/^http/, 'ws') + '/ws', tokens });
  const js = await connect([process.env.TOKEN_JS]);
  check(js.ok, 'the JavaScript example\'s customer token is accepted (welcome)');
  const py = await connect([process.env.TOKEN_PY]);
  check(py.ok, 'the Python example\'s agent token is accepted (welcome)');
  const forged = process.env.TOKEN_JS.slice(0, -2) + (process.env.TOKEN_JS.endsWith('AA') ? 'AB' : 'AA');
  const bad = await connect([forged]);
  check(!bad.ok && bad.errors.includes('unauthorized'), 'a tampered token is refused (unauthorized)');
  const refresh = await connect([process.env.TOKEN_SHORT, process.env.TOKEN_FRESH]);
  check(refresh.ok && refresh.reasons.join() === 'connect,unauthorized', 'an expired token is replaced through the token callback (reasons: ' + refresh.reasons.join() + ')');

  check(errors.length === 0, 'no script errors in the pages' + (errors.length ? ': ' + errors.join('; ') : ''));
  log('browser-test: passed');
} catch (error) {
  for (const context of browser.contexts()) for (const page of context.pages()) await page.screenshot({ path: `${out}/failure-${++shot}.png` }).catch(() => {});
  console.error(error);
  if (errors.length) console.error('page errors:', errors);
  process.exitCode = 1;
} finally {
  await browser.close();
}
EOF

# (The 1 s token has long expired, with clock_skew_s = 0, when the last step presents it.)
echo "browser-test: running the browser (server on 127.0.0.1:$port, keyed server on 127.0.0.1:$port2)"
status=0
BASE="http://127.0.0.1:$port" KEYED="http://127.0.0.1:$port2" OUT="$out" NPM_DIR="$npm_dir" CHROMIUM="$CHROMIUM" \
  TOKEN_JS="$token_js" TOKEN_PY="$token_py" TOKEN_SHORT="$token_short" TOKEN_FRESH="$token_fresh" \
  timeout 170 node "$out/test.mjs" || status=$?
echo "browser-test: screenshots and server logs in $out; $((SECONDS - started)) s"
exit "$status"
