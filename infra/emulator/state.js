// Configuration (environment), counters, fault switches, the API request log, the secrets log and
// the persistence dirty flag.
import { validateHeaderName, validateHeaderValue } from 'node:http';

function int(name, def) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) {
    throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  }
  return n;
}

function list(name, def) {
  const raw = process.env[name];
  const value = raw === undefined || raw.trim() === '' ? def : raw;
  return value.split(',').map((s) => s.trim()).filter(Boolean);
}

function str(name, def) {
  const raw = process.env[name];
  return raw === undefined || raw === '' ? def : raw;
}

const refreshReuse = str('EMULATOR_REFRESH_REUSE', 'reject');
if (!['reject', 'revoke-grant'].includes(refreshReuse)) {
  throw new Error(`EMULATOR_REFRESH_REUSE must be "reject" or "revoke-grant", got ${JSON.stringify(refreshReuse)}`);
}

const instance = str('EMULATOR_INSTANCE', 'acme');
if (!/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(instance)) {
  throw new Error(`EMULATOR_INSTANCE must be a DNS label (a-z, 0-9, inner -), got ${JSON.stringify(instance)}`);
}

export const config = {
  // which ERP.net instance this process plays: its sample data (data.js) and its cookie names depend on it
  instance,
  host: str('EMULATOR_HOST', '127.0.0.1'),
  port: int('EMULATOR_PORT', 5005),
  clientId: str('EMULATOR_CLIENT_ID', 'my.trusted.app/first'),
  clientSecret: str('EMULATOR_CLIENT_SECRET', 'local-dev-secret-change-me'),
  redirectUris: list('EMULATOR_REDIRECT_URIS', 'http://localhost:5173/auth/callback'),
  postLogoutUris: list('EMULATOR_POST_LOGOUT_URIS', 'http://localhost:5173/'),
  accessTokenTtl: int('EMULATOR_ACCESS_TOKEN_TTL', 3600),
  idTokenTtl: int('EMULATOR_ID_TOKEN_TTL', 300),
  refreshTokenTtl: int('EMULATOR_REFRESH_TOKEN_TTL', 2592000),
  refreshReuse,
  // the BFF's back-channel logout URI (OpenID Connect Back-Channel Logout 1.0); empty = none registered
  backchannelLogoutUri: str('EMULATOR_BACKCHANNEL_LOGOUT_URI', ''),
  // sent as X-Forwarded-Host with the logout tokens (as CloudFront sets it from an instance's host), so that a BFF
  // serving many instances by host knows whose tokens they are; a comma-separated list = an emulator that plays
  // several instances (each host gets a logout token of its own); empty = not sent
  backchannelLogoutHosts: list('EMULATOR_BACKCHANNEL_LOGOUT_HOST', ''),
  // optional JSON file that keeps keys, grants/sessions and sample data across restarts (persist.js)
  stateFile: str('EMULATOR_STATE_FILE', ''),
  // set once the server listens (EMULATOR_PORT=0 picks a free port)
  origin: undefined,
  issuer: undefined,
};

for (const k of ['accessTokenTtl', 'idTokenTtl', 'refreshTokenTtl']) {
  if (config[k] < 1) throw new Error(`${k} must be at least 1 second`);
}

export function setOrigin(port) {
  config.port = port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  config.origin = `http://${host}:${port}`;
  config.issuer = `${config.origin}/id`;
}

// ---- persistence: "something worth saving changed" (see persist.js) -----------------------------

let dirty = false;
let dirtyListener = null;
export function markDirty() {
  dirty = true;
  if (dirtyListener) dirtyListener();
}
export function takeDirty() {
  const was = dirty;
  dirty = false;
  return was;
}
export function onDirty(fn) {
  dirtyListener = fn;
}

// ---- counters ---------------------------------------------------------------------------------

function freshStats() {
  return {
    token: { authorization_code: 0, refresh_token: 0, other: 0 },
    tokenAuthMethods: { client_secret_post: 0, client_secret_basic: 0, none: 0 },
    tokenErrors: { invalid_grant: 0, invalid_client: 0, invalid_request: 0 },
    tokenDroppedInTransit: 0,
    authorize: 0,
    endSession: 0,
    revocation: 0,
    userinfo: 0,
    jwks: 0,
    backchannelLogout: { sent: 0, ok: 0, failed: 0 },
    api: 0,
    login: { ok: 0, failed: 0 },
  };
}

export let stats = freshStats();

export function countTokenError(code) {
  stats.tokenErrors[code] = (stats.tokenErrors[code] || 0) + 1;
}

// ---- API request log --------------------------------------------------------------------------

const MAX_REQUESTS = 200;
export let requests = [];

export function recordRequest(entry) {
  requests.push(entry);
  if (requests.length > MAX_REQUESTS) requests.splice(0, requests.length - MAX_REQUESTS);
}

// ---- secrets seen or issued (GET /__emulator/secrets) -------------------------------------------

const SECRET_KINDS = ['codes', 'codeVerifiers', 'accessTokens', 'refreshTokens', 'idTokens', 'clientSecrets'];
function freshSecrets() {
  return Object.fromEntries(SECRET_KINDS.map((k) => [k, new Set()]));
}
let secretSets = freshSecrets();

// Remember a secret value (kind: one of SECRET_KINDS). Empty and non-string values are ignored.
export function recordSecret(kind, value) {
  if (typeof value === 'string' && value !== '') secretSets[kind].add(value);
}

// The client secret of an `Authorization: Basic` header (form-urlencoded id:secret, RFC 6749 2.3.1).
export function recordBasicSecret(authorization) {
  const m = /^basic +(\S+)$/i.exec(authorization || '');
  if (!m) return;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) return;
  const raw = decoded.slice(colon + 1);
  let secret = raw;
  try {
    secret = decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch { /* not percent-encoded: keep it raw */ }
  recordSecret('clientSecrets', secret);
}

export function secretsSnapshot() {
  return Object.fromEntries(SECRET_KINDS.map((k) => [k, [...secretSets[k]]]));
}

export function resetCounters() {
  stats = freshStats();
  requests = [];
  secretSets = freshSecrets();
}

// ---- fault switches ---------------------------------------------------------------------------

const ID_TOKEN_FAULTS = new Set(['wrong-audience', 'wrong-azp', 'wrong-nonce', 'foreign-key', 'withdrawn-key', 'expired', 'wrong-issuer']);

function freshControl() {
  return {
    tokenDelayMs: 0,
    tokenDelayJitterMs: 0,
    tokenDelayTimes: null,
    tokenStatus: null,
    tokenStatusTimes: null,
    tokenError: null,
    tokenType: null,
    idToken: null,
    apiDelayMs: 0,
    apiDelayTimes: null,
    apiStatus: null,
    apiStatusTimes: null,
    apiCloseMidBody: false,
    apiCloseMidBodyTimes: null,
    apiGarbage: false,
    apiGarbageTimes: null,
    apiResponseBytes: 0,
    apiResponsePadding: null,
    apiPauseMidBodyMs: 0,
    apiSetCookie: null,
    apiRedirect: null,
    apiExtraHeaders: null,
  };
}

// Keys of POST /__emulator/control that are actions, not switches (not kept in the control state).
export const CONTROL_ACTIONS = new Set(['rotateKeys', 'withdrawKeys']);

// Header names the API header switches must not set (they would break the HTTP framing).
const FRAMING_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection']);

function checkHeader(key, name, value) {
  try {
    validateHeaderName(name);
    validateHeaderValue(name, value);
  } catch (err) {
    throw new Error(`${key}: invalid header ${JSON.stringify(name)}: ${err.message}`);
  }
  if (FRAMING_HEADERS.has(name.toLowerCase())) throw new Error(`${key} must not set ${name}`);
}

// Fault -> its "only the next N requests" counter (null = forever).
const TIMES = {
  tokenDelayMs: 'tokenDelayTimes',
  tokenStatus: 'tokenStatusTimes',
  apiDelayMs: 'apiDelayTimes',
  apiStatus: 'apiStatusTimes',
  apiCloseMidBody: 'apiCloseMidBodyTimes',
  apiGarbage: 'apiGarbageTimes',
};

export let control = freshControl();

// Use a fault for one request: returns its value (falsy = not set). A fault with a `…Times` counter
// counts down and switches itself off after the last use. Synchronous, so concurrent requests
// cannot both take the last use.
export function takeFault(key) {
  const value = control[key];
  if (!value) return value;
  const timesKey = TIMES[key];
  if (timesKey && control[timesKey] !== null) {
    control[timesKey] -= 1;
    if (control[timesKey] <= 0) {
      control[key] = freshControl()[key];
      control[timesKey] = null;
    }
  }
  return value;
}

// Replace the whole fault state (so `{}` switches every fault off). Throws on bad input.
export function setControl(body) {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new Error('control body must be a JSON object');
  }
  const next = freshControl();
  for (const [key, value] of Object.entries(body)) {
    if (CONTROL_ACTIONS.has(key)) {
      if (typeof value !== 'boolean') throw new Error(`${key} must be true or false`);
      continue;
    }
    if (!(key in next)) throw new Error(`unknown control key ${key}`);
    if (value === null) continue;
    switch (key) {
      case 'tokenDelayMs':
      case 'tokenDelayJitterMs':
      case 'apiDelayMs':
      case 'apiResponseBytes':
      case 'apiPauseMidBodyMs':
        if (!Number.isInteger(value) || value < 0) throw new Error(`${key} must be a non-negative integer`);
        next[key] = value;
        break;
      case 'tokenStatus':
      case 'apiStatus':
        if (!Number.isInteger(value) || value < 100 || value > 599) throw new Error(`${key} must be an HTTP status`);
        next[key] = value;
        break;
      case 'apiCloseMidBody':
      case 'apiGarbage':
        if (typeof value !== 'boolean') throw new Error(`${key} must be true or false`);
        next[key] = value;
        break;
      case 'tokenDelayTimes':
      case 'tokenStatusTimes':
      case 'apiDelayTimes':
      case 'apiStatusTimes':
      case 'apiCloseMidBodyTimes':
      case 'apiGarbageTimes':
        if (!Number.isInteger(value) || value < 1) throw new Error(`${key} must be a positive integer`);
        next[key] = value;
        break;
      case 'apiResponsePadding':
        if (!['x', 'quotes', 'binary'].includes(value)) throw new Error(`${key} must be x, quotes or binary`);
        next[key] = value;
        break;
      case 'tokenType':
        if (typeof value !== 'string' || !value) throw new Error(`${key} must be a non-empty string`);
        next[key] = value;
        break;
      case 'tokenError':
        if (typeof value !== 'string' || !value) throw new Error('tokenError must be a string');
        next[key] = value;
        break;
      case 'idToken':
        if (!ID_TOKEN_FAULTS.has(value)) throw new Error(`idToken must be one of ${[...ID_TOKEN_FAULTS].join(', ')} or null`);
        next[key] = value;
        break;
      case 'apiSetCookie':
      case 'apiRedirect':
        if (typeof value !== 'string' || !value) throw new Error(`${key} must be a non-empty string`);
        checkHeader(key, key === 'apiSetCookie' ? 'Set-Cookie' : 'Location', value);
        next[key] = value;
        break;
      case 'apiExtraHeaders':
        if (typeof value !== 'object' || Array.isArray(value)) throw new Error('apiExtraHeaders must be an object of header name -> string value');
        for (const [name, v] of Object.entries(value)) {
          if (typeof v !== 'string') throw new Error(`apiExtraHeaders.${name} must be a string`);
          checkHeader(key, name, v);
        }
        next[key] = Object.keys(value).length ? { ...value } : null;
        break;
      default:
        break;
    }
  }
  for (const [fault, timesKey] of Object.entries(TIMES)) {
    if (next[timesKey] !== null && !next[fault]) throw new Error(`${timesKey} needs ${fault}`);
  }
  control = next;
  return control;
}
