// Harness for the browser end-to-end tests: starts a private stack on free ports — the ERP.net emulator on
// 127.0.0.1, the BFF functions under `cargo lambda watch`, the example SPA under Vite on `localhost` (so the sign-in
// crosses sites as in production) — against the DynamoDB Local that `infra/with-dynamodb.sh` started
// (BFF_TEST_DYNAMODB), with a table of its own. Every child runs in its own process group, tracked by PID, and is
// stopped (TERM, then KILL) at the end — also when a test fails or the run is interrupted.
//
// The browser is Debian's Chromium (/usr/bin/chromium, or CHROMIUM_PATH) driven by playwright-core; nothing is
// downloaded. Playwright starts it with a fresh, temporary user-data-dir.

import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SCREENSHOTS = path.join(ROOT, 'tests', 'e2e', 'screenshots');
const LOGS = path.join(ROOT, 'target', 'test-logs');

export const CLIENT_ID = 'my.trusted.app/first';
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const IN_CI = process.env.CI === 'true';

// ---- waiting: conditions with deadlines, never sleeps as synchronisation

const pause = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a truthy value (which is returned) or `timeoutMs` passes (then throws). */
export async function waitFor(what, check, { timeoutMs = 30_000, onTimeout } = {}) {
  const deadline = Date.now() + timeoutMs;
  let delay = 20;
  let last;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() >= deadline) {
      const extra = onTimeout ? `\n${onTimeout()}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${last.message})` : ''}${extra}`);
    }
    await pause(delay);
    delay = Math.min(delay * 2, 250);
  }
}

// ---- child processes

const live = new Set();

function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

// Safety net: whatever happens to this process, its children's process groups die with it.
process.on('exit', () => {
  for (const p of live) killGroup(p.pid, 'SIGKILL');
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => {
    for (const p of live) killGroup(p.pid, 'SIGKILL');
    process.exit(130);
  });
}

/** A child in its own process group, its output in a log file. */
export class Proc {
  constructor(name, cmd, args, { cwd = ROOT, env = process.env, log }) {
    this.name = name;
    this.log = log;
    const fd = fs.openSync(log, 'w');
    this.child = spawn(cmd, args, { cwd, env, stdio: ['ignore', fd, fd], detached: true });
    fs.closeSync(fd);
    this.pid = this.child.pid;
    this.exitCode = null;
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitCode = code ?? signal ?? 'exited';
        live.delete(this);
        resolve();
      });
      this.child.once('error', (e) => {
        this.exitCode = `spawn error: ${e.message}`;
        live.delete(this);
        resolve();
      });
    });
    if (this.pid) live.add(this);
  }

  /** The end of its log, for error messages. */
  tail(lines = 25) {
    try {
      return fs.readFileSync(this.log, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /** Throws if the process has already ended (it should be serving). */
  assertRunning() {
    if (this.exitCode !== null) {
      throw new Error(`${this.name} stopped (${this.exitCode}); log ${this.log}:\n${this.tail()}`);
    }
  }

  async stop() {
    if (!this.pid || this.exitCode !== null) return;
    killGroup(this.pid, 'SIGTERM');
    const timer = new Promise((r) => setTimeout(r, 5000));
    await Promise.race([this.exited, timer]);
    killGroup(this.pid, 'SIGKILL'); // the group may hold grandchildren even when the leader is gone
    await Promise.race([this.exited, new Promise((r) => setTimeout(r, 2000))]);
  }
}

/** Free TCP ports on 127.0.0.1, all different. */
async function freePorts(n) {
  const servers = [];
  try {
    for (let i = 0; i < n; i++) {
      const s = net.createServer();
      await new Promise((resolve, reject) => {
        s.once('error', reject);
        s.listen(0, '127.0.0.1', resolve);
      });
      servers.push(s);
    }
    return servers.map((s) => s.address().port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
}

async function status(url, init) {
  const res = await fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(10_000) });
  await res.arrayBuffer();
  return res.status;
}

// ---- the stack

/**
 * Starts emulator + BFF + SPA for one test run. `accessTokenTtl` is the emulator's access-token lifetime (seconds).
 * Returns handles and helpers; `stop()` ends everything (call it in an `after` hook).
 */
export async function startStack({ accessTokenTtl = 3600 } = {}) {
  const dynamodb = process.env.BFF_TEST_DYNAMODB;
  if (!dynamodb) {
    throw new Error(
      'BFF_TEST_DYNAMODB is not set: DynamoDB Local must be running. Run `make e2e` (or the tests under ' +
        '`bash infra/with-dynamodb.sh ...`).',
    );
  }
  fs.mkdirSync(LOGS, { recursive: true });
  const id = `e2e-${process.pid}-${Date.now().toString(36)}`;
  const [emuPort, bffPort, spaPort] = await freePorts(3);
  const origin = `http://localhost:${spaPort}`; // the app: SPA and BFF on one origin
  const emulatorOrigin = `http://127.0.0.1:${emuPort}`; // ERP.net: another site
  const secret = `e2e-${randomBytes(12).toString('hex')}`;
  const table = `sessions-${id}`;
  const procs = [];

  const stack = {
    id,
    origin,
    emulatorOrigin,
    dynamodb,
    table,
    procs,
    url: (p) => origin + p,
    async stop() {
      await Promise.all(procs.map((p) => p.stop()));
    },
    /** The emulator's counters (`token.refresh_token`, `endSession`, …). */
    async stats() {
      const res = await fetch(`${emulatorOrigin}/__emulator/stats`);
      if (!res.ok) throw new Error(`emulator stats: HTTP ${res.status}`);
      return res.json();
    },
    /** Fault switches of the emulator (the body replaces the whole set; `{}` switches all off). */
    async control(body) {
      const res = await fetch(`${emulatorOrigin}/__emulator/control`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`emulator control: HTTP ${res.status} ${await res.text()}`);
    },
    /** Restores the emulator's sample data (and zeroes its counters). */
    async resetData() {
      const res = await fetch(`${emulatorOrigin}/__emulator/reset?data=true`, { method: 'POST' });
      if (!res.ok) throw new Error(`emulator reset: HTTP ${res.status}`);
    },
    /** Deletes every session of this run's table: what the session's expiry (TTL / idle timeout) does. */
    async deleteSessions() {
      const scan = await dynamo(dynamodb, 'Scan', { TableName: table, ConsistentRead: true });
      const keys = (scan.Items ?? []).filter((i) => i.pk?.S?.startsWith('session#')).map((i) => ({ pk: i.pk }));
      for (const Key of keys) await dynamo(dynamodb, 'DeleteItem', { TableName: table, Key });
      return keys.length;
    },
  };

  try {
    // The table, from template.yaml's definition.
    const created = spawnSync('cargo', ['xtask', 'create-table', '--endpoint', dynamodb, '--name', table], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    if (created.status !== 0) {
      throw new Error(`cargo xtask create-table failed:\n${created.stdout}\n${created.stderr}`);
    }

    const emulator = new Proc('ERP.net emulator', process.execPath, ['infra/emulator/server.js'], {
      log: path.join(LOGS, `${id}-emulator.log`),
      env: {
        ...process.env,
        EMULATOR_HOST: '127.0.0.1',
        EMULATOR_PORT: String(emuPort),
        EMULATOR_CLIENT_ID: CLIENT_ID,
        EMULATOR_CLIENT_SECRET: secret,
        EMULATOR_REDIRECT_URIS: `${origin}/auth/callback`,
        EMULATOR_POST_LOGOUT_URIS: `${origin}/`,
        EMULATOR_ACCESS_TOKEN_TTL: String(accessTokenTtl),
      },
    });
    procs.push(emulator);

    const envFile = path.join(LOGS, `${id}-bff.env`);
    const bffEnv = {
      ERPNET_URL: emulatorOrigin,
      CLIENT_ID,
      CLIENT_SECRET: secret,
      PUBLIC_ORIGIN: origin,
      SESSION_TABLE: table,
      AWS_ENDPOINT_URL_DYNAMODB: dynamodb,
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_REGION: 'eu-west-1',
      RUST_LOG: 'info',
    };
    fs.writeFileSync(envFile, Object.entries(bffEnv).map(([k, v]) => `${k}=${v}\n`).join(''));
    const venvBin = path.join(ROOT, '.venv', 'bin');
    const bff = new Proc(
      'cargo lambda watch',
      'cargo',
      ['lambda', 'watch', '--ignore-changes', '--disable-cors', '-A', '127.0.0.1', '-P', String(bffPort), '--env-file', envFile],
      { log: path.join(LOGS, `${id}-bff.log`), env: { ...process.env, PATH: `${venvBin}:${process.env.PATH}` } },
    );
    procs.push(bff);

    const spaDir = path.join(ROOT, 'examples', 'spa');
    const vite = new Proc('Vite (example SPA)', process.execPath, [path.join(spaDir, 'node_modules', 'vite', 'bin', 'vite.js')], {
      cwd: spaDir,
      log: path.join(LOGS, `${id}-spa.log`),
      env: { ...process.env, SPA_PORT: String(spaPort), BFF_TARGET: `http://127.0.0.1:${bffPort}` },
    });
    procs.push(vite);

    const ready = (proc, url, init, { timeoutMs, want = 200 }) =>
      waitFor(`${proc.name} at ${url}`, async () => {
        proc.assertRunning();
        return (await status(url, init)) === want;
      }, { timeoutMs, onTimeout: () => `log ${proc.log}:\n${proc.tail()}` });

    await ready(emulator, `${emulatorOrigin}/__emulator/health`, {}, { timeoutMs: 30_000 });
    // The first call of each function builds/starts it (`cargo run`): give it time.
    await ready(bff, `http://127.0.0.1:${bffPort}/auth/session`, { headers: { 'X-CSRF': '1' } }, { timeoutMs: 180_000 });
    await ready(vite, `${origin}/`, {}, { timeoutMs: 60_000 });
    // And the BFF through the SPA's origin (Vite's proxy), as the browser will call it.
    await ready(vite, `${origin}/auth/session`, { headers: { 'X-CSRF': '1' } }, { timeoutMs: 30_000 });
    return stack;
  } catch (e) {
    await stack.stop();
    throw e;
  }
}

/** One DynamoDB Local API call (it checks no signature, but wants the header's shape). */
async function dynamo(endpoint, op, body) {
  const date = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-amz-json-1.0',
      'X-Amz-Target': `DynamoDB_20120810.${op}`,
      'X-Amz-Date': date,
      Authorization: `AWS4-HMAC-SHA256 Credential=local/${date.slice(0, 8)}/eu-west-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=${'0'.repeat(64)}`,
    },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`DynamoDB ${op}: HTTP ${res.status} ${text}`);
  return JSON.parse(text);
}

// ---- the browser

/** Why the browser tests cannot run here, or null when Chromium is present. */
export function chromiumMissing() {
  if (fs.existsSync(CHROMIUM)) return null;
  return (
    `Chromium is not installed at ${CHROMIUM}. Install Debian's package: ` +
    '`apt-get install -y --no-install-recommends chromium` (`make e2e` does it when run as root), ' +
    'or set CHROMIUM_PATH. Never `npx playwright install`.'
  );
}

/** Under CI=true a missing browser fails the run; elsewhere the tests are skipped with the reason. */
export function skipReason() {
  const missing = chromiumMissing();
  return missing && !IN_CI ? missing : false;
}

export async function launchBrowser() {
  const missing = chromiumMissing();
  if (missing) throw new Error(`${missing}${IN_CI ? ' (CI=true: the browser tests fail rather than skip)' : ''}`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, timeout: 60_000 });
}

/** A fresh browser context (its own cookies: another "browser profile") with sane defaults. */
export async function newContext(browser) {
  const context = await browser.newContext({ viewport: { width: 960, height: 720 }, deviceScaleFactor: 1 });
  context.setDefaultTimeout(30_000);
  context.setDefaultNavigationTimeout(60_000);
  return context;
}

/** Screenshots of an earlier run would only confuse: start each run with none. */
export function clearScreenshots() {
  fs.rmSync(SCREENSHOTS, { recursive: true, force: true });
}

export async function screenshot(page, name) {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
