// ERP.net emulator: one origin serving the identity server (/id, oidc-provider) and a tiny
// Domain API (/api/domain/odata), plus test hooks under /__emulator.
//
//   node infra/emulator/server.js
//
// Configuration: environment variables, see README.md beside this file.
import http from 'node:http';

import { jwtVerify } from 'jose';

import {
  destroySession, grantIdsForAccount, revokeGrant, sessionsByAccount,
} from './adapter.js';
import {
  UserError, accountIdOf, createUser, renameUser, resetData, resetUsers, userById,
} from './data.js';
import { handleApi } from './domain-api.js';
import { handleInteraction } from './interactions.js';
import {
  persistenceEnabled, restoreState, saveIfDirty, saveNow,
} from './persist.js';
import {
  AUDIENCE, MOUNT, allKids, createProvider, currentKid, logoutAccount, rotateSigningKey, withdrawOldKeys, userClaims,
  verificationKeys,
} from './provider.js';
import {
  config, control, countTokenError, markDirty, recordBasicSecret, recordSecret, requests, resetCounters,
  secretsSnapshot, setControl, setOrigin, stats, takeFault,
} from './state.js';

const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

function sendJson(res, status, body, headers = {}) {
  const buf = Buffer.from(JSON.stringify(body));
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': buf.length,
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(buf);
}

async function readAll(req, limit) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) {
      const err = new Error('request body too large');
      err.status = 413;
      throw err;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

// ---- identity server --------------------------------------------------------------------------

let provider;
let providerCallback;

// Hand a request to oidc-provider, mounted under /id. `body` (a Buffer) is given when the front
// layer already read the request body; oidc-provider then parses it from req.body.
function toProvider(req, res, body) {
  req.originalUrl = req.url;
  req.url = req.url.slice(MOUNT.length) || '/';
  if (body !== undefined) req.body = body;
  return providerCallback(req, res);
}

// Authorize: ERP.net (IdentityServer) issues a refresh token for offline_access without
// prompt=consent; oidc-provider (per OIDC Core) drops offline_access unless prompt contains consent.
// Add it for the trusted client (never to prompt=none, which must stay alone).
function addConsentPrompt(req) {
  const qIdx = req.url.indexOf('?');
  if (qIdx === -1) return;
  const params = new URLSearchParams(req.url.slice(qIdx + 1));
  if (params.get('client_id') !== config.clientId) return;
  if (params.getAll('prompt').length > 1) return; // let oidc-provider reject duplicates
  const scope = (params.get('scope') || '').split(' ');
  if (!scope.includes('offline_access')) return;
  const prompts = (params.get('prompt') || '').split(' ').filter(Boolean);
  if (prompts.includes('none') || prompts.includes('consent')) return;
  prompts.push('consent');
  params.set('prompt', prompts.join(' '));
  req.url = `${req.url.slice(0, qIdx)}?${params.toString()}`;
}

// Per-artifact serialisation: two concurrent refreshes with one refresh token (or two exchanges of
// one code) are handled one after the other: one wins, the other sees a consumed artifact and gets
// invalid_grant, as with IdentityServer (no grace window).
const refreshLocks = new Map();
async function withLock(token, fn) {
  const prev = refreshLocks.get(token) || Promise.resolve();
  let release;
  const mine = new Promise((r) => { release = r; });
  const chain = prev.then(() => mine);
  refreshLocks.set(token, chain);
  await prev;
  try {
    return await fn();
  } finally {
    release();
    if (refreshLocks.get(token) === chain) refreshLocks.delete(token);
  }
}

function tokenError(res, status, error, description) {
  countTokenError(error);
  sendJson(res, status, { error, error_description: description }, { Pragma: 'no-cache' });
}

async function handleToken(req, res) {
  let body;
  try {
    body = await readAll(req, 56 * 1024);
  } catch {
    tokenError(res, 400, 'invalid_request', 'failed to parse the request body');
    return;
  }
  const form = new URLSearchParams(body.toString('utf8'));
  const grantType = form.get('grant_type');
  if (grantType === 'authorization_code' || grantType === 'refresh_token') stats.token[grantType] += 1;
  else stats.token.other += 1;

  const basic = /^basic /i.test(req.headers.authorization || '');
  const post = form.has('client_secret');
  if (basic) stats.tokenAuthMethods.client_secret_basic += 1;
  if (post) stats.tokenAuthMethods.client_secret_post += 1;
  if (!basic && !post) stats.tokenAuthMethods.none += 1;

  // GET /__emulator/secrets: every secret the request carries (the answer's: provider.js)
  recordSecret('codes', form.get('code'));
  recordSecret('codeVerifiers', form.get('code_verifier'));
  recordSecret('refreshTokens', form.get('refresh_token'));
  recordSecret('clientSecrets', form.get('client_secret'));
  if (basic) recordBasicSecret(req.headers.authorization);

  // (both faults are taken now, before any waiting, so one-shot counters are exact under concurrency)
  // `tokenDelayJitterMs`: a further random 0..N ms on every token call (a slow, uneven identity server).
  const jitter = control.tokenDelayJitterMs ? Math.floor(Math.random() * (control.tokenDelayJitterMs + 1)) : 0;
  const delay = (takeFault('tokenDelayMs') || 0) + jitter;
  const status = takeFault('tokenStatus');
  const statusError = control.tokenError;
  if (delay) {
    // The injected delay models transit time: a request whose sender died (its connection closed) while it was
    // "in transit" never arrives, so it is not processed (no refresh token is spent). Counted as
    // `tokenDroppedInTransit`.
    let gone = false;
    const onClose = () => { gone = true; };
    req.socket.once('close', onClose);
    await sleep(delay);
    req.socket.off('close', onClose);
    if (gone || req.socket.destroyed) {
      stats.tokenDroppedInTransit += 1;
      return;
    }
  }
  if (status) {
    const error = statusError || (status >= 500 ? 'server_error' : 'invalid_request');
    tokenError(res, status, error, `injected fault: HTTP ${status}`);
    return;
  }

  // Single-use artifacts: serialise requests per value, and in `reject` mode answer a reuse with
  // invalid_grant before oidc-provider sees it (oidc-provider would also revoke the whole grant).
  let artifact;
  if (grantType === 'refresh_token' && form.get('refresh_token')) artifact = ['RefreshToken', form.get('refresh_token')];
  if (grantType === 'authorization_code' && form.get('code')) artifact = ['AuthorizationCode', form.get('code')];
  if (artifact) {
    const [model, value] = artifact;
    await withLock(`${model}:${value}`, async () => {
      if (config.refreshReuse === 'reject') {
        const found = await provider[model].find(value, { ignoreExpiration: true });
        if (found?.consumed) {
          // IdentityServer: the reuse is refused, the rest of the grant lives on.
          tokenError(res, 400, 'invalid_grant', 'grant request is invalid');
          return;
        }
      }
      await toProvider(req, res, body);
    });
    return;
  }
  await toProvider(req, res, body);
}

// Userinfo: oidc-provider refuses its own JWT access tokens there (they are for the resource
// server); ERP.net's userinfo accepts them. Validate like the Domain API and answer the claims.
async function handleUserinfo(req, res) {
  stats.userinfo += 1;
  const challenge = { 'WWW-Authenticate': 'Bearer error="invalid_token"' };
  const m = /^Bearer[ ]+(\S+)$/i.exec(req.headers.authorization || '');
  if (!m) {
    sendJson(res, 401, { error: 'invalid_token', error_description: 'no access token provided' }, challenge);
    return;
  }
  try {
    const { payload } = await jwtVerify(m[1], verificationKeys, {
      issuer: config.issuer, audience: AUDIENCE, algorithms: ['RS256'], typ: 'at+jwt', clockTolerance: 0,
    });
    const scopes = new Set(Array.isArray(payload.scope) ? payload.scope : String(payload.scope || '').split(' '));
    // by the stable `id`: a token issued before a rename answers the current login, and a namesake on
    // the old login never answers for it
    const user = userById(payload.id);
    if (!user || !scopes.has('openid')) throw new Error('no openid scope');
    const claims = userClaims(user);
    const out = { sub: claims.sub, id: claims.id };
    if (scopes.has('profile')) Object.assign(out, { name: claims.name, email: claims.email, locale: claims.locale });
    sendJson(res, 200, out);
  } catch {
    sendJson(res, 401, { error: 'invalid_token', error_description: 'invalid token provided' }, challenge);
  }
}

// ---- test hooks -------------------------------------------------------------------------------

// Every grant (with its tokens) and session of an account: a user that no longer exists.
function dropAccount(accountId) {
  for (const g of grantIdsForAccount(accountId)) revokeGrant(g);
  for (const { id } of sessionsByAccount(accountId)) destroySession(id);
}

// POST /__emulator/users/<login>/rename?to=<newLogin> and POST /__emulator/users?login=<login>[&password=<pw>].
// Returns false when the request is not for these hooks.
function handleUsers(req, res, pathname, searchParams) {
  const m = /^\/__emulator\/users(?:\/([^/]+)\/rename)?$/.exec(pathname);
  if (!m) return false;
  if (req.method !== 'POST') {
    sendJson(res, 405, { error: 'method not allowed' }, { Allow: 'POST' });
    return true;
  }
  try {
    let user;
    if (m[1] !== undefined) {
      let login;
      try {
        login = decodeURIComponent(m[1]);
      } catch {
        throw new UserError(400, 'the login in the path is not valid percent-encoding');
      }
      user = renameUser(login, searchParams.get('to') ?? '');
    } else {
      const login = searchParams.get('login') ?? '';
      const password = searchParams.get('password');
      user = createUser(login, password === null || password === '' ? login : password);
    }
    markDirty(); // EMULATOR_STATE_FILE: the users are kept
    sendJson(res, m[1] !== undefined ? 200 : 201, { id: user.id, sub: user.sub });
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    sendJson(res, err.status, { error: err.message });
  }
  return true;
}

async function handleHooks(req, res, pathname, searchParams) {
  if (handleUsers(req, res, pathname, searchParams)) return;
  const route = `${req.method} ${pathname}`;
  switch (route) {
    case 'GET /__emulator/health':
      sendJson(res, 200, { ok: true, instance: config.instance });
      return;
    case 'GET /__emulator/stats':
      sendJson(res, 200, stats);
      return;
    case 'POST /__emulator/reset': {
      resetCounters();
      // the users of data.js again: renames undone, created users gone (with their sessions and grants)
      const goneUsers = resetUsers();
      if (goneUsers) {
        for (const id of goneUsers) dropAccount(id);
        markDirty();
      }
      if (searchParams.get('data') === 'true') {
        resetData();
        markDirty();
      }
      sendJson(res, 200, { ok: true });
      return;
    }
    case 'GET /__emulator/requests':
      sendJson(res, 200, requests);
      return;
    case 'GET /__emulator/secrets':
      sendJson(res, 200, secretsSnapshot());
      return;
    case 'GET /__emulator/control':
      sendJson(res, 200, control);
      return;
    case 'POST /__emulator/control': {
      let parsed;
      try {
        const raw = (await readAll(req, 64 * 1024)).toString('utf8');
        parsed = raw.trim() === '' ? {} : JSON.parse(raw);
        const next = setControl(parsed); // validates everything (rotateKeys too) before any action
        const out = { ...next };
        if (parsed.rotateKeys === true) out.rotatedKey = await rotateSigningKey();
        if (parsed.withdrawKeys === true) out.withdrawnKeys = withdrawOldKeys();
        sendJson(res, 200, out);
      } catch (err) {
        sendJson(res, 400, { error: String(err.message || err) });
      }
      return;
    }
    case 'POST /__emulator/revoke': {
      const sub = searchParams.get('sub');
      if (!sub) {
        sendJson(res, 400, { error: 'sub query parameter is required' });
        return;
      }
      const grants = grantIdsForAccount(accountIdOf(sub)); // the user who has that login now
      let tokens = 0;
      for (const g of grants) tokens += revokeGrant(g);
      sendJson(res, 200, { sub, revokedGrants: grants.length, revokedTokens: tokens });
      return;
    }
    case 'POST /__emulator/logout': {
      const sub = searchParams.get('sub');
      if (!sub) {
        sendJson(res, 400, { error: 'sub query parameter is required' });
        return;
      }
      const sid = searchParams.get('sid');
      sendJson(res, 200, await logoutAccount(sub, { send: searchParams.get('send') !== 'false', sid }));
      return;
    }
    case 'GET /__emulator/config':
      sendJson(res, 200, {
        instance: config.instance,
        issuer: config.issuer,
        clientId: config.clientId,
        redirectUris: config.redirectUris,
        postLogoutUris: config.postLogoutUris,
        accessTokenTtl: config.accessTokenTtl,
        idTokenTtl: config.idTokenTtl,
        refreshTokenTtl: config.refreshTokenTtl,
        refreshReuse: config.refreshReuse,
        signingKid: currentKid(),
        jwksKids: allKids(),
      });
      return;
    default:
      sendJson(res, 404, { error: 'not found' });
  }
}

// ---- front router -----------------------------------------------------------------------------

async function route(req, res) {
  const url = new URL(req.url, 'http://emulator.invalid');
  const { pathname } = url;
  if (!provider) {
    sendJson(res, 503, { error: 'starting' }, { 'Retry-After': '1' });
    return;
  }

  if (pathname === MOUNT || pathname.startsWith(`${MOUNT}/`)) {
    if (pathname.startsWith(`${MOUNT}/interaction/`)) {
      if (await handleInteraction(provider, req, res, pathname)) return;
    }
    if (pathname === `${MOUNT}/connect/token` && req.method === 'POST') {
      await handleToken(req, res);
      return;
    }
    if (pathname === `${MOUNT}/connect/userinfo` && (req.method === 'GET' || req.method === 'POST')) {
      await handleUserinfo(req, res);
      return;
    }
    if (pathname === `${MOUNT}/connect/authorize` && req.method === 'GET') addConsentPrompt(req);
    await toProvider(req, res);
    return;
  }
  if (pathname === '/api' || pathname.startsWith('/api/')) {
    await handleApi(req, res);
    return;
  }
  if (pathname.startsWith('/__emulator/')) {
    await handleHooks(req, res, pathname, url.searchParams);
    return;
  }
  if (pathname === '/' && req.method === 'GET') {
    sendJson(res, 200, { emulator: 'ERP.net', issuer: config.issuer, api: `${config.origin}/api/domain/odata/` });
    return;
  }
  sendJson(res, 404, { error: 'not found' });
}

async function main() {
  // The issuer is needed before the provider exists; resolve a port-0 request to a real port first.
  const server = http.createServer((req, res) => {
    if (persistenceEnabled) {
      // Save a changed state before the answer leaves, so a client that saw the answer can
      // kill the emulator (even with SIGKILL) and find the change after a restart.
      const { write, end } = res;
      res.write = function persistingWrite(...args) {
        saveIfDirty();
        return write.apply(this, args);
      };
      res.end = function persistingEnd(...args) {
        saveIfDirty();
        return end.apply(this, args);
      };
    }
    route(req, res).catch((err) => {
      console.error('emulator: unhandled error', err);
      if (!res.headersSent) sendJson(res, 500, { error: 'server_error' });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, resolve);
  });
  setOrigin(server.address().port);
  restoreState(); // EMULATOR_STATE_FILE: grants, sessions, tokens, data (keys: provider.js)

  provider = await createProvider();
  providerCallback = provider.callback();
  provider.on('server_error', (ctx, err) => console.error('emulator: oidc-provider server_error', err));

  saveNow({ strict: true }); // EMULATOR_STATE_FILE: write the keys right away
  console.log(`emulator listening on ${config.origin} (issuer ${config.issuer})`);
  if (persistenceEnabled) console.log(`emulator state file ${config.stateFile}`);

  let closing = false;
  const shutdown = () => {
    if (closing) return;
    closing = true;
    saveNow();
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

main().catch((err) => {
  console.error(`emulator: failed to start: ${err.message || err}`);
  process.exit(1);
});
