// Harness for the browser end-to-end tests. The stack is the project's one definition of it (xtask/src/stack/):
// `cargo xtask stack --spa` starts a private one on free ports — the ERP.net emulator on 127.0.0.1, the BFF
// functions under `cargo lambda watch`, the example SPA under Vite on `localhost` (so the sign-in crosses sites as in
// production) — against the DynamoDB Local that `cargo xtask with-dynamodb` started (BFF_TEST_DYNAMODB), with a
// table of its own, and prints one JSON line describing it. It runs in its own process group until its stdin closes
// or it gets SIGTERM, and then stops everything it started (TERM, then KILL, per process group).
//
// The browser is Debian's Chromium (/usr/bin/chromium, or CHROMIUM_PATH) driven by playwright-core; nothing is
// downloaded. Playwright starts it with a fresh, temporary user-data-dir.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SCREENSHOTS = path.join(ROOT, 'tests', 'e2e', 'screenshots');
const LOGS = path.join(ROOT, 'target', 'test-logs');

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

// ---- the stack

const live = new Set();

function signalGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

// Safety net: whatever happens to this process, the stacks stop (SIGTERM lets xtask stop its services; so does
// its stdin closing when this process dies).
process.on('exit', () => {
  for (const s of live) signalGroup(s.pid, 'SIGTERM');
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => {
    for (const s of live) signalGroup(s.pid, 'SIGTERM');
    process.exit(130);
  });
}

function tail(file, lines = 25) {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * Starts emulator + BFF + SPA for one test run (`cargo xtask stack`). `accessTokenTtl` is the emulator's
 * access-token lifetime (seconds). `instances`: multi-instance mode (`--instances`): a second emulator and the
 * instance registry, the app on `acme.localhost:<port>` and `globex.localhost:<port>` too (`stack.instances`).
 * Returns handles and helpers; `stop()` ends everything (call it in an `after` hook).
 */
export async function startStack({ accessTokenTtl = 3600, instances = false } = {}) {
  const dynamodb = process.env.BFF_TEST_DYNAMODB;
  if (!dynamodb) {
    throw new Error(
      'BFF_TEST_DYNAMODB is not set: DynamoDB Local must be running. Run `make e2e` (or the tests under ' +
        '`cargo xtask with-dynamodb -- ...`).',
    );
  }
  fs.mkdirSync(LOGS, { recursive: true });
  const log = path.join(LOGS, `e2e-stack-${process.pid}-${Date.now().toString(36)}.log`);
  const fd = fs.openSync(log, 'w');
  const child = spawn(
    'cargo',
    ['xtask', 'stack', '--spa', '--access-token-ttl', String(accessTokenTtl), ...(instances ? ['--instances'] : [])],
    { cwd: ROOT, stdio: ['pipe', 'pipe', fd], detached: true },
  );
  fs.closeSync(fd);
  live.add(child);
  let exitCode = null;
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      exitCode = code ?? signal ?? 'exited';
      live.delete(child);
      resolve();
    });
    child.once('error', (e) => {
      exitCode = `spawn error: ${e.message}`;
      live.delete(child);
      resolve();
    });
  });

  async function stop() {
    if (exitCode !== null) return;
    child.stdin.end();
    signalGroup(child.pid, 'SIGTERM');
    const timer = (ms) => new Promise((r) => setTimeout(r, ms));
    await Promise.race([exited, timer(20_000)]);
    if (exitCode === null) signalGroup(child.pid, 'SIGKILL');
    await Promise.race([exited, timer(2_000)]);
  }

  let out = '';
  let info = null;
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    out += chunk;
    // Complete lines only (a chunk may end inside the JSON).
    const line = out.split('\n').slice(0, -1).find((l) => l.startsWith('{'));
    if (!info && line) info = JSON.parse(line);
  });
  try {
    // The first call of each function builds/starts it: give it time.
    await waitFor('cargo xtask stack to describe the stack', () => {
      if (exitCode !== null) throw new Error(`cargo xtask stack stopped (${exitCode}); log ${log}:\n${tail(log)}`);
      return info;
    }, { timeoutMs: 300_000, onTimeout: () => `log ${log}:\n${tail(log)}` });
  } catch (e) {
    await stop();
    throw e;
  }
  const { origin, emulatorOrigin, table } = info;
  if (instances && !info.instances) throw new Error(`cargo xtask stack --instances described no instances: ${JSON.stringify(info)}`);

  return {
    origin,
    emulatorOrigin,
    dynamodb,
    table,
    info,
    log,
    /**
     * Multi-instance mode: per registered instance (`acme`, `globex`) its app `origin`, `emulatorOrigin`, `issuer`,
     * `url(path)` and the emulator's `stats()`. `{}` otherwise.
     */
    instances: Object.fromEntries(
      Object.entries(info.instances ?? {}).map(([key, i]) => [key, {
        ...i,
        key,
        url: (p) => i.origin + p,
        stats: () => emulatorStats(i.emulatorOrigin),
      }]),
    ),
    url: (p) => origin + p,
    stop,
    /** The emulator's counters (`token.refresh_token`, `endSession`, …). */
    stats: () => emulatorStats(emulatorOrigin),
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
}

/** An emulator's counters (`login.ok`, `token.authorization_code`, `endSession`, …). */
async function emulatorStats(emulatorOrigin) {
  const res = await fetch(`${emulatorOrigin}/__emulator/stats`);
  if (!res.ok) throw new Error(`emulator stats: HTTP ${res.status}`);
  return res.json();
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

/** Screenshots of an earlier run would only confuse: start each run with none (or none whose name has `infix`). */
export function clearScreenshots(infix) {
  if (!infix) {
    fs.rmSync(SCREENSHOTS, { recursive: true, force: true });
    return;
  }
  for (const f of fs.existsSync(SCREENSHOTS) ? fs.readdirSync(SCREENSHOTS) : []) {
    if (f.includes(infix)) fs.rmSync(path.join(SCREENSHOTS, f), { force: true });
  }
}

export async function screenshot(page, name) {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/**
 * A page on another site than the app: served on 127.0.0.1 (the app is on localhost, and the two are different
 * sites), from a free port. Returns `{ url, close }`.
 */
export async function serveOtherSite(html) {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(html);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
