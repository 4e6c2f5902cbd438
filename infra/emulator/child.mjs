// Test support for the emulator's node --test suites: the emulator as a child process on a free loopback port, and
// a minimal cookie jar.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SERVER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'server.js');

// Starts server.js and resolves with { origin, child } once it prints its "listening" line and
// /__emulator/health answers 200 (deadline: 20 s, no sleeps: the line is awaited, health is polled
// back to back).
export async function startEmulator(env = {}) {
  const child = spawn(process.execPath, [SERVER], {
    env: {
      ...process.env,
      EMULATOR_HOST: '127.0.0.1',
      EMULATOR_PORT: '0',
      EMULATOR_BACKCHANNEL_LOGOUT_URI: 'http://127.0.0.1:9/backchannel-logout',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const deadline = Date.now() + 20_000;
  const origin = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`emulator did not start in 20 s:\n${output}`)), 20_000);
    const onData = (chunk) => {
      output += chunk;
      const m = /emulator listening on (http:\/\/\S+) /.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk) => { output += chunk; });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`emulator exited (${code}):\n${output}`));
    });
  });
  child.stdout.resume();
  child.stderr.resume();
  for (;;) {
    try {
      const res = await fetch(`${origin}/__emulator/health`);
      if (res.status === 200) break;
    } catch { /* not ready yet */ }
    if (Date.now() > deadline) throw new Error(`emulator not healthy in 20 s:\n${output}`);
  }
  return { origin, child };
}

export async function stopEmulator(child, signal = 'SIGTERM') {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => { child.once('exit', resolve); });
  child.kill(signal);
  await exited;
}

// Minimal cookie jar (name + path scoped; one host).
export class Jar {
  constructor() { this.cookies = new Map(); }

  store(res) {
    for (const sc of res.headers.getSetCookie()) {
      const [pair, ...attrs] = sc.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      let path = '/';
      let expired = value === '';
      for (const a of attrs) {
        const [k, v] = a.split('=');
        if (k.toLowerCase() === 'path') path = v;
        if (k.toLowerCase() === 'expires' && Date.parse(v) < Date.now()) expired = true;
        if (k.toLowerCase() === 'max-age' && Number(v) <= 0) expired = true;
      }
      const key = `${name}\u0000${path}`;
      if (expired) this.cookies.delete(key);
      else this.cookies.set(key, { name, value, path });
    }
  }

  header(url) {
    const { pathname } = new URL(url);
    return [...this.cookies.values()]
      .filter((c) => pathname === c.path || pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`))
      .map((c) => `${c.name}=${c.value}`).join('; ');
  }
}
