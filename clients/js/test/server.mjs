// Test helpers: a real `switchboard serve --mode chat` process on a free loopback port with its own config
// and data directory (restartable on the same directory), token minting with `switchboard token`, and a
// TCP proxy whose connections a test can cut to kill a client's socket without touching the server.
//
// Every wait is bounded; servers are killed by PID in `stop`/`kill`.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './golden.mjs';

export const KEY_HEX = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';
export const KEY_ID = 'js-test';
/** The agent groups of the built-in routing configuration. */
export const GROUPS = '1,2,3,4,5,6,7,8,9,10,11';

/**
 * The id of the agent group that works `skill` in the built-in routing configuration: groups are numbered
 * from 1 in the order the knowledge base (shards/kb/video-platform.toml) first names each skill.
 */
export function groupForSkill(skill) {
  const kb = readFileSync(join(repoRoot, 'shards/kb/video-platform.toml'), 'utf8');
  const skills = [...new Set([...kb.matchAll(/^skill = "([^"]+)"/gm)].map((m) => m[1]))];
  const index = skills.indexOf(skill);
  if (index < 0) throw new Error('no group for skill ' + skill);
  return index + 1;
}

let binaryPath;
/** The switchboard binary: $SWITCHBOARD_BIN, or built here with cargo (as scripts/js-client-test.sh does). */
export function switchboardBinary() {
  if (binaryPath) return binaryPath;
  if (process.env.SWITCHBOARD_BIN) return (binaryPath = process.env.SWITCHBOARD_BIN);
  execFileSync('nice', ['-n', '10', 'cargo', 'build', '--locked', '-p', 'switchboard-shards', '--bin', 'switchboard', '-j', '1'], {
    cwd: repoRoot,
    stdio: 'inherit',
  });
  const target = process.env.CARGO_TARGET_DIR ?? join(repoRoot, 'target');
  binaryPath = join(target, 'debug/switchboard');
  if (!existsSync(binaryPath)) throw new Error('no switchboard binary at ' + binaryPath);
  return binaryPath;
}

/** A free loopback port (bound, read, released). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 25 ms until it returns a truthy value or `ms` pass (then throws `what`). */
export async function waitFor(what, check, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const value = await check();
    if (value) return value;
    await sleep(25);
  }
  throw new Error('timed out waiting for ' + what);
}

function canConnect(port) {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/** A chat server in a temp directory. `start()` and `kill()` may alternate (same port, same data dir). */
export class ChatServer {
  constructor({ shards = 2, routing = true } = {}) {
    this.dir = mkdtempSync(join(tmpdir(), 'switchboard-js-'));
    this.shards = shards;
    this.routing = routing;
    this.log = join(this.dir, 'server.log');
  }

  async start() {
    this.port ??= await freePort();
    const config = [
      'mode = "chat"',
      `listen = "127.0.0.1:${this.port}"`,
      `shards = ${this.shards}`,
      'admin_listen = "off"',
      `data_dir = "${join(this.dir, 'data')}"`,
      '[limits]',
      'drain_timeout_ms = 2000',
      '[overload]',
      // A shared test machine makes slow ticks; load shedding has tests of its own in the server.
      'enabled = false',
      '[chat]',
      `routing_enabled = ${this.routing}`,
      'connection_requests_per_second_max = 10000000',
      'user_requests_per_second_max = 10000000',
      'tenant_requests_per_second_max = 10000000',
      '[auth]',
      `active_key_id = "${KEY_ID}"`,
      // No skew allowance, so a token minted with a 1 s lifetime is refused after 1 s (token refresh test).
      'clock_skew_s = 0',
      `keys = [{ id = "${KEY_ID}", secret_hex = "${KEY_HEX}" }]`,
    ].join('\n');
    writeFileSync(join(this.dir, 'chat.toml'), config + '\n');
    const { openSync } = await import('node:fs');
    const out = openSync(this.log, 'a');
    this.process = spawn(switchboardBinary(), ['serve', '--mode', 'chat', '--config', join(this.dir, 'chat.toml')], {
      stdio: ['ignore', out, out],
    });
    const child = this.process;
    // Should the test process die first, its server dies with it (by PID).
    process.once('exit', () => {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    });
    let exited = false;
    child.once('exit', () => (exited = true));
    await waitFor('the server to listen', async () => {
      if (exited) throw new Error('the server exited; log: ' + this.log);
      return canConnect(this.port);
    }, 60_000);
    return this;
  }

  get url() {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  /** SIGKILL by PID and wait for the exit. */
  async kill() {
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    process.kill(child.pid, 'SIGKILL');
    await Promise.race([exited, sleep(10_000)]);
  }

  async stop() {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** A token minted by `switchboard token`. */
  token(user, role = 'customer', { tenant = 1, ttl = 3600, groups = GROUPS } = {}) {
    const args = ['token', '--tenant', String(tenant), '--user', String(user), '--role', role, '--key-id', KEY_ID, '--key-hex', KEY_HEX, '--ttl-secs', String(ttl)];
    if (role === 'agent') args.push('--groups', String(groups));
    return execFileSync(switchboardBinary(), args, { encoding: 'utf8' }).trim();
  }
}

/** A loopback TCP proxy to `port`; `cut()` destroys every open connection (a network failure). */
export class CuttableProxy {
  constructor(port) {
    this.target = port;
    this.pairs = new Set();
    this.cuts = 0;
  }

  async start() {
    this.port = await freePort();
    this.server = createServer((client) => {
      const upstream = connect(this.target, '127.0.0.1');
      const pair = [client, upstream];
      this.pairs.add(pair);
      const end = () => {
        client.destroy();
        upstream.destroy();
        this.pairs.delete(pair);
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise((r) => this.server.listen(this.port, '127.0.0.1', r));
    return this;
  }

  get url() {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  cut() {
    this.cuts++;
    for (const [a, b] of [...this.pairs]) {
      a.resetAndDestroy?.() ?? a.destroy();
      b.destroy();
    }
    this.pairs.clear();
  }

  async stop() {
    this.cut();
    await new Promise((r) => this.server.close(r));
  }
}

/** `promise`, or a rejection naming `what` after `ms`. */
export function within(what, promise, ms = 20_000) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out: ' + what)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
