// Optional state file (EMULATOR_STATE_FILE): a stopped and restarted emulator keeps its signing
// keys (including keys retired by `rotateKeys`), cookie keys, grants/sessions/tokens (adapter
// entries, with their expiry and `consumed` marks), the sample data (and uploaded pictures) and the
// users (renamed or created by the /__emulator/users hooks) as modified. Counters, the request log,
// the secrets log and the fault switches are not kept.
//
// The file is read once, when this module is first imported (provider.js needs the keys before it
// builds the JWKS). It is rewritten atomically (temp file + rename) whenever something changed:
// synchronously just before a response goes out (server.js wraps res.write/res.end), so a client
// that got an answer can SIGKILL the emulator and still find the change after a restart; changes
// made outside a request are written shortly after; and once more on SIGTERM/SIGINT.
import fs from 'node:fs';
import path from 'node:path';

import { exportEntries, importEntries } from './adapter.js';
import {
  DATA, ENTITY_SETS, PICTURES, accountIdOf, restoreUsers, usersSnapshot,
} from './data.js';
import { config, onDirty, takeDirty } from './state.js';

const VERSION = 1;
const file = config.stateFile ? path.resolve(config.stateFile) : '';

export const persistenceEnabled = Boolean(file);

function readStateFile() {
  if (!file) return null;
  let raw;
  try {
    raw = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (err.code === 'ENOENT') return null;
    throw new Error(`EMULATOR_STATE_FILE ${file} cannot be read: ${err.message}`);
  }
  if (raw.trim() === '') return null; // e.g. a file made by mktemp: start fresh
  let parsed;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new Error(`EMULATOR_STATE_FILE ${file} is not valid JSON: ${err.message}`);
  }
  if (parsed?.version !== VERSION || !parsed.keys?.signing || !Array.isArray(parsed.entries)) {
    throw new Error(`EMULATOR_STATE_FILE ${file} is not an emulator state file (version ${VERSION})`);
  }
  return parsed;
}

// The saved state (null without a file, or when the file does not exist yet).
export const savedState = readStateFile();

let keys = null;
// provider.js hands over the keys it uses (restored from savedState.keys or freshly generated):
// { signing (current), previous (older signing keys, newest first, from `rotateKeys`), foreign, cookies }.
// The object is written as is on every save, so a key rotation only has to update it and markDirty().
export function registerKeys(k) {
  keys = k;
}

// Put the saved grants/sessions/tokens and data back. Call once, before the server takes requests.
export function restoreState() {
  if (!savedState) return;
  // users as renamed/created by the hooks (a file without them: data.js's users)
  if (Array.isArray(savedState.users)) {
    restoreUsers(savedState.users);
  } else {
    // written before accountIds were user GUIDs (they were logins then): give its entries the GUIDs
    for (const [, , payload] of savedState.entries) {
      if (typeof payload?.accountId === 'string') payload.accountId = accountIdOf(payload.accountId);
    }
  }
  importEntries(savedState.entries);
  for (const name of Object.keys(ENTITY_SETS)) {
    if (Array.isArray(savedState.data?.[name])) DATA[name] = savedState.data[name];
  }
  for (const [id, { contentType, base64 }] of Object.entries(savedState.pictures || {})) {
    PICTURES.set(id, { contentType, bytes: Buffer.from(base64, 'base64') });
  }
  if (savedState.issuer && savedState.issuer !== config.issuer) {
    console.warn(`emulator: ${file} was written by issuer ${savedState.issuer}, now ${config.issuer}: tokens issued before will not validate`);
  }
}

// `strict` (the first write at start-up): throw instead of logging, so a bad path stops the start.
export function saveNow({ strict = false } = {}) {
  if (!file || !keys) return;
  takeDirty();
  const snapshot = {
    version: VERSION,
    savedAt: new Date().toISOString(),
    issuer: config.issuer,
    keys,
    entries: exportEntries(),
    data: DATA,
    users: usersSnapshot(),
    pictures: Object.fromEntries([...PICTURES].map(([id, p]) => [id, { contentType: p.contentType, base64: p.bytes.toString('base64') }])),
  };
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, JSON.stringify(snapshot));
    fs.renameSync(tmp, file);
  } catch (err) {
    try { fs.unlinkSync(tmp); } catch { /* already gone */ }
    const message = `cannot write EMULATOR_STATE_FILE ${file}: ${err.message}`;
    if (strict) throw new Error(message);
    console.error(`emulator: ${message}`);
  }
}

export function saveIfDirty() {
  if (file && takeDirty()) saveNow();
}

// Changes outside a request (expiry sweep, late async work): write soon after.
let timer = null;
if (file) {
  onDirty(() => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = null;
      saveIfDirty();
    }, 200);
    timer.unref();
  });
}
