// Unbounded in-memory storage adapter for oidc-provider.
// (oidc-provider's bundled MemoryAdapter is an LRU of 1000 entries: under test load it would silently
// evict grants and sessions. This one only forgets what has expired, and lets the emulator's test
// hooks find grants and sessions by user. With EMULATOR_STATE_FILE, persist.js saves and restores
// the entries: every change marks the state dirty.)
import { markDirty } from './state.js';

const stores = new Map(); // model name -> Map(id -> { payload, expiresAt })
const grantIndex = new Map(); // grantId -> Set of `${model}\u0000${id}`
const uidIndex = new Map(); // session uid -> session id
const userCodeIndex = new Map(); // user code -> id

const GRANTABLE = new Set([
  'AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode',
  'BackchannelAuthenticationRequest', 'PreAuthorizedCode',
]);

function storeFor(name) {
  let s = stores.get(name);
  if (!s) {
    s = new Map();
    stores.set(name, s);
  }
  return s;
}

function live(entry) {
  return entry && entry.expiresAt > Date.now();
}

function destroyEntry(name, id) {
  const store = storeFor(name);
  const entry = store.get(id);
  if (!entry) return;
  store.delete(id);
  markDirty();
  const { payload } = entry;
  if (payload.grantId && grantIndex.has(payload.grantId)) {
    grantIndex.get(payload.grantId).delete(`${name}\u0000${id}`);
  }
  if (name === 'Session' && payload.uid && uidIndex.get(payload.uid) === id) uidIndex.delete(payload.uid);
  if (payload.userCode && userCodeIndex.get(payload.userCode) === id) userCodeIndex.delete(payload.userCode);
}

function putEntry(name, id, payload, expiresAt) {
  storeFor(name).set(id, { payload, expiresAt });
  if (GRANTABLE.has(name) && payload.grantId) {
    let members = grantIndex.get(payload.grantId);
    if (!members) {
      members = new Set();
      grantIndex.set(payload.grantId, members);
    }
    members.add(`${name}\u0000${id}`);
  }
  if (name === 'Session' && payload.uid) uidIndex.set(payload.uid, id);
  if (payload.userCode) userCodeIndex.set(payload.userCode, id);
}

// Every live entry as [model, id, payload, expiresAt (epoch ms, null = never)], for the state file.
// (Consumed codes and rotated refresh tokens are entries with `consumed` set: the `reject` reuse
// mode's memory travels with them.)
export function exportEntries() {
  const now = Date.now();
  const out = [];
  for (const [name, store] of stores) {
    for (const [id, { payload, expiresAt }] of store) {
      if (expiresAt > now) out.push([name, id, payload, expiresAt === Infinity ? null : expiresAt]);
    }
  }
  return out;
}

// Load entries written by exportEntries() (indexes are rebuilt; expired ones are skipped).
export function importEntries(entries) {
  const now = Date.now();
  for (const [name, id, payload, expiresAt] of entries) {
    const exp = expiresAt === null ? Infinity : expiresAt;
    if (exp > now) putEntry(name, id, payload, exp);
  }
}

export default class MemoryAdapter {
  constructor(name) {
    this.name = name;
    this.store = storeFor(name);
  }

  async upsert(id, payload, expiresIn) {
    const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity;
    putEntry(this.name, id, structuredClone(payload), expiresAt);
    markDirty();
  }

  async find(id) {
    const entry = this.store.get(id);
    if (!entry) return undefined;
    if (!live(entry)) {
      destroyEntry(this.name, id);
      return undefined;
    }
    return structuredClone(entry.payload);
  }

  async findByUid(uid) {
    const id = uidIndex.get(uid);
    return id ? this.find(id) : undefined;
  }

  async findByUserCode(userCode) {
    const id = userCodeIndex.get(userCode);
    return id ? this.find(id) : undefined;
  }

  async consume(id) {
    const entry = this.store.get(id);
    if (entry) {
      entry.payload.consumed = Math.floor(Date.now() / 1000);
      markDirty();
    }
  }

  async destroy(id) {
    destroyEntry(this.name, id);
  }

  async revokeByGrantId(grantId) {
    revokeGrantMembers(grantId);
  }
}

// Remove every token that belongs to the grant (all models at once).
function revokeGrantMembers(grantId) {
  const members = grantIndex.get(grantId);
  if (!members) return 0;
  let n = 0;
  for (const key of [...members]) {
    const [name, id] = key.split('\u0000');
    destroyEntry(name, id);
    n += 1;
  }
  grantIndex.delete(grantId);
  return n;
}

// Revoke a whole grant: its tokens and the grant record itself.
export function revokeGrant(grantId) {
  const tokens = revokeGrantMembers(grantId);
  destroyEntry('Grant', grantId);
  return tokens;
}

// Grant ids of every live grant of an account (login name).
export function grantIdsForAccount(accountId) {
  const out = [];
  for (const [id, entry] of storeFor('Grant')) {
    if (live(entry) && entry.payload.accountId === accountId) out.push(id);
  }
  return out;
}

// Sessions (id + payload) whose authorization for clientId carries this sid.
export function sessionsBySid(clientId, sid) {
  const out = [];
  for (const [id, entry] of storeFor('Session')) {
    if (live(entry) && entry.payload.authorizations?.[clientId]?.sid === sid) {
      out.push({ id, payload: structuredClone(entry.payload) });
    }
  }
  return out;
}

// Sessions (id + payload) of an account.
export function sessionsByAccount(accountId) {
  const out = [];
  for (const [id, entry] of storeFor('Session')) {
    if (live(entry) && entry.payload.accountId === accountId) out.push({ id, payload: structuredClone(entry.payload) });
  }
  return out;
}

export function destroySession(id) {
  destroyEntry('Session', id);
}

// Drop expired entries now and then (lazy expiry handles correctness; this bounds memory).
setInterval(() => {
  const now = Date.now();
  for (const [name, store] of stores) {
    for (const [id, entry] of store) {
      if (entry.expiresAt <= now) destroyEntry(name, id);
    }
  }
}, 60_000).unref();
