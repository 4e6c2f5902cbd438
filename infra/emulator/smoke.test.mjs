// Smoke test of the ERP.net emulator: full code flow (query mode), hybrid form_post, Domain API, refresh rotation
// and reuse, end session, counters, the secrets log, key rotation, the API header/redirect switches, binary picture
// round trips and the request log's headers. `make test` runs it (node --test infra/emulator/*.test.mjs) against an
// emulator of its own; with EMULATOR_URL (plus EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET, EMULATOR_REDIRECT_URIS,
// EMULATOR_POST_LOGOUT_URIS if changed) against a running one.
import { createHash, randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import http from 'node:http';
import { test } from 'node:test';

import { Jar, startEmulator, stopEmulator } from './child.mjs';

let BASE = process.env.EMULATOR_URL || 'http://127.0.0.1:5005';
const CLIENT_ID = process.env.EMULATOR_CLIENT_ID || 'my.trusted.app/first';
const SECRET = process.env.EMULATOR_CLIENT_SECRET || 'local-dev-secret-change-me';
const REDIRECT = (process.env.EMULATOR_REDIRECT_URIS || 'http://localhost:5173/auth/callback').split(',')[0].trim();
const POST_LOGOUT = (process.env.EMULATOR_POST_LOGOUT_URIS || 'http://localhost:5173/').split(',')[0].trim();
let ISSUER = `${BASE}/id`;

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const rnd = () => b64url(randomBytes(32));
const decodeJwt = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
let step = 0;
const ok = (msg) => console.log(`ok ${++step} - ${msg}`);

async function request(jar, url, init = {}) {
  const headers = { ...(init.headers || {}) };
  const cookie = jar.header(url);
  if (cookie) headers.cookie = cookie;
  const res = await fetch(url, { ...init, headers, redirect: 'manual' });
  jar.store(res);
  return res;
}

// Follow redirects on the emulator until one leaves it (to the app) or a page is served.
async function follow(jar, url, init) {
  let res = await request(jar, url, init);
  for (let i = 0; i < 10 && res.status >= 300 && res.status < 400; i += 1) {
    const next = new URL(res.headers.get('location'), url).href;
    if (!next.startsWith(BASE)) return { res, location: next };
    url = next;
    res = await request(jar, url);
  }
  return { res, url };
}

function form(params) {
  return { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(params).toString() };
}

async function json(res) {
  const text = await res.text();
  try { return JSON.parse(text); } catch { throw new Error(`not JSON (${res.status}): ${text.slice(0, 200)}`); }
}

async function login(jar, authorizeParams, { user = 'demo', password = 'demo' } = {}) {
  const url = `${ISSUER}/connect/authorize?${new URLSearchParams(authorizeParams)}`;
  const first = await follow(jar, url);
  assert.equal(first.res.status, 200, 'login page expected');
  const html = await first.res.text();
  assert.match(html, /name="login"/);
  assert.match(html, /name="password"/);
  const action = /<form method="post" action="([^"]+)" id="login-form"/.exec(html)[1];
  const loginUrl = new URL(action, first.url).href;

  // wrong password first
  const bad = await request(jar, loginUrl, form({ login: user, password: 'wrong' }));
  assert.equal(bad.status, 200);
  assert.match(await bad.text(), /Invalid login or password/);

  return follow(jar, loginUrl, form({ login: user, password }));
}

async function main() {
  const health = await fetch(`${BASE}/__emulator/health`);
  assert.equal(health.status, 200);
  await fetch(`${BASE}/__emulator/reset`, { method: 'POST' });
  await fetch(`${BASE}/__emulator/control`, { method: 'POST', body: '{}' });

  const disco = await json(await fetch(`${ISSUER}/.well-known/openid-configuration`));
  assert.equal(disco.issuer, ISSUER);
  assert.equal(disco.token_endpoint, `${ISSUER}/connect/token`);
  assert.equal(disco.end_session_endpoint, `${ISSUER}/connect/endsession`);
  assert.equal(disco.revocation_endpoint, `${ISSUER}/connect/revocation`);
  assert.equal(disco.jwks_uri, `${ISSUER}/.well-known/openid-configuration/jwks`);
  assert.equal(disco.authorization_response_iss_parameter_supported, true);
  ok('discovery');

  // ---- code flow, query mode ----
  const jar = new Jar();
  const verifier = rnd();
  const state = rnd();
  const nonce = rnd();
  const authorizeParams = {
    client_id: CLIENT_ID,
    response_type: 'code',
    scope: 'openid profile offline_access read update',
    redirect_uri: REDIRECT,
    state,
    nonce,
    code_challenge: b64url(createHash('sha256').update(verifier).digest()),
    code_challenge_method: 'S256',
  };
  const { location } = await login(jar, authorizeParams);
  assert.ok(location?.startsWith(`${REDIRECT}?`), `redirect to the app expected, got ${location}`);
  const cb = new URL(location).searchParams;
  assert.equal(cb.get('state'), state);
  assert.equal(cb.get('iss'), ISSUER);
  const code = cb.get('code');
  assert.ok(code);
  ok('login (wrong password refused, then demo/demo) and callback with code, state, iss');

  const tokenUrl = `${ISSUER}/connect/token`;
  let res = await fetch(tokenUrl, form({
    grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier,
    client_id: CLIENT_ID, client_secret: SECRET,
  }));
  const tokens = await json(res);
  assert.equal(res.status, 200, JSON.stringify(tokens));
  assert.ok(tokens.access_token && tokens.refresh_token && tokens.id_token);
  assert.equal(tokens.token_type, 'Bearer');
  const at = decodeJwt(tokens.access_token);
  const atHeader = JSON.parse(Buffer.from(tokens.access_token.split('.')[0], 'base64url').toString());
  assert.equal(atHeader.typ, 'at+jwt');
  assert.equal(atHeader.alg, 'RS256');
  assert.equal(at.aud, 'DomainAPI');
  assert.equal(at.sub, 'demo');
  assert.equal(at.client_id, CLIENT_ID);
  assert.equal(at.id, '6f1e8d2c-5b1a-4c39-9a57-2f0d4c8e1a01');
  assert.ok(Array.isArray(at.scope) && at.scope.includes('read') && at.scope.includes('update'));
  const idt = decodeJwt(tokens.id_token);
  assert.equal(idt.iss, ISSUER);
  assert.equal(idt.aud, CLIENT_ID);
  assert.equal(idt.nonce, nonce);
  assert.equal(idt.sub, 'demo');
  assert.equal(idt.name, 'Demo User');
  assert.equal(idt.email, 'demo@example.com');
  assert.equal(idt.id, '6f1e8d2c-5b1a-4c39-9a57-2f0d4c8e1a01');
  assert.ok(idt.sid && idt.at_hash, JSON.stringify(idt));
  ok(`code exchange (client_secret_post + PKCE): at+jwt aud=${at.aud}, id_token sub=${idt.sub} id=${idt.id}`);

  // code reuse fails
  res = await fetch(tokenUrl, form({
    grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier,
    client_id: CLIENT_ID, client_secret: SECRET,
  }));
  assert.equal(res.status, 400);
  assert.equal((await json(res)).error, 'invalid_grant');
  ok('code reuse -> invalid_grant');

  // ---- Domain API ----
  const api = `${BASE}/api/domain/odata/Crm_Sales_Customers?$top=5&$filter=contains(Name,'a%20b')`;
  res = await fetch(api, { headers: { authorization: `Bearer ${tokens.access_token}` } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('odata-version'), '4.0');
  assert.match(res.headers.get('content-type'), /^application\/json;odata\.metadata=minimal/);
  const page1 = await json(res);
  assert.equal(page1['@emulator.user'], 'demo');
  assert.equal(page1['@odata.context'], `${BASE}/api/domain/odata/$metadata#Crm_Sales_Customers`);
  assert.equal(page1.value.length, 5);
  assert.ok(page1.value.some((c) => c.Name === 'Sofia a b Trading'));
  assert.ok(page1['@odata.nextLink']?.startsWith(`${BASE}/api/domain/odata/Crm_Sales_Customers?`), 'absolute nextLink');
  res = await fetch(page1['@odata.nextLink'], { headers: { authorization: `Bearer ${tokens.access_token}` } });
  const page2 = await json(res);
  assert.equal(res.status, 200);
  assert.ok(page2.value.length >= 1);
  ok(`API page 1 (5 rows) + nextLink ${page1['@odata.nextLink']} -> ${page2.value.length} more`);

  const logged = await json(await fetch(`${BASE}/__emulator/requests`));
  // (fetch's URL parser turns ' into %27 in the query; the log shows what came over the wire)
  const sent = new URL(api);
  assert.equal(logged.at(-2).rawUrl, `${sent.pathname}${sent.search}`);
  assert.equal(logged.at(-2).headers.authorization, `Bearer ${tokens.access_token}`);
  ok('request log keeps the raw URL');

  res = await fetch(`${BASE}/api/domain/odata/Crm_Sales_Customers`);
  assert.equal(res.status, 401);
  assert.match(res.headers.get('www-authenticate'), /invalid_token/);
  res = await fetch(`${BASE}/api/domain/odata/Crm_Sales_Customers?$filter=Name eqq 'x'`.replace(/ /g, '%20'), { headers: { authorization: `Bearer ${tokens.access_token}` } });
  assert.equal(res.status, 400);
  const first = page1.value[0];
  res = await fetch(`${BASE}/api/domain/odata/Crm_Sales_Customers(${first.Id})`, {
    method: 'PATCH', headers: { authorization: `Bearer ${tokens.access_token}`, 'content-type': 'application/json' }, body: JSON.stringify({ Name: 'FAIL me' }),
  });
  assert.equal(res.status, 500);
  assert.equal((await json(res)).error.code, 'BusinessRuleViolation');
  ok('API: 401 without token, 400 bad $filter, 500 business error');

  // ---- refresh rotation ----
  res = await fetch(tokenUrl, form({
    grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: CLIENT_ID, client_secret: SECRET,
  }));
  const t2 = await json(res);
  assert.equal(res.status, 200, JSON.stringify(t2));
  assert.ok(t2.refresh_token && t2.refresh_token !== tokens.refresh_token);
  ok('refresh: new refresh token issued (rotation)');

  res = await fetch(tokenUrl, form({
    grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: CLIENT_ID, client_secret: SECRET,
  }));
  assert.equal(res.status, 400);
  assert.equal((await json(res)).error, 'invalid_grant');
  ok('reuse of the rotated refresh token -> invalid_grant');

  res = await fetch(tokenUrl, form({
    grant_type: 'refresh_token', refresh_token: t2.refresh_token, client_id: CLIENT_ID, client_secret: SECRET,
  }));
  const t3 = await json(res);
  const cfg = await json(await fetch(`${BASE}/__emulator/config`));
  if (cfg.refreshReuse === 'reject') {
    assert.equal(res.status, 200, JSON.stringify(t3));
    ok('reject mode: the new refresh token still works after the reuse');
  } else {
    assert.equal(res.status, 400);
    ok('revoke-grant mode: the reuse revoked the grant');
  }

  // ---- end session ----
  const endUrl = `${ISSUER}/connect/endsession?${new URLSearchParams({ id_token_hint: tokens.id_token, post_logout_redirect_uri: POST_LOGOUT, state: 'bye' })}`;
  res = await request(jar, endUrl);
  assert.equal(res.status, 302);
  const after = new URL(res.headers.get('location'));
  assert.equal(`${after.origin}${after.pathname}`, new URL(POST_LOGOUT).href.replace(/\?.*$/, ''));
  assert.equal(after.searchParams.get('state'), 'bye');
  ok(`end session -> 302 ${after.href}`);

  if (cfg.refreshReuse === 'reject') {
    res = await fetch(tokenUrl, form({
      grant_type: 'refresh_token', refresh_token: t3.refresh_token, client_id: CLIENT_ID, client_secret: SECRET,
    }));
    assert.equal(res.status, 400);
    ok('refresh after end session -> invalid_grant');
  }

  // after logout the emulator asks for the password again
  const again = await follow(jar, `${ISSUER}/connect/authorize?${new URLSearchParams({ ...authorizeParams, state: rnd() })}`);
  assert.equal(again.res.status, 200);
  assert.match(await again.res.text(), /name="password"/);
  ok('session ended at the emulator (login form shown again)');

  // ---- hybrid, form_post ----
  const jar2 = new Jar();
  const v2 = rnd();
  const s2 = rnd();
  const n2 = rnd();
  const hybrid = await login(jar2, {
    client_id: CLIENT_ID,
    response_type: 'code id_token',
    response_mode: 'form_post',
    scope: 'openid profile offline_access read update',
    redirect_uri: REDIRECT,
    state: s2,
    nonce: n2,
    code_challenge: b64url(createHash('sha256').update(v2).digest()),
    code_challenge_method: 'S256',
  }, { user: 'alice', password: 'alice' });
  assert.equal(hybrid.res.status, 200);
  const postHtml = await hybrid.res.text();
  assert.ok(postHtml.includes(`action="${REDIRECT}"`), 'form posts to the redirect URI');
  const field = (name) => new RegExp(`name="${name}" value="([^"]*)"`).exec(postHtml)?.[1];
  assert.equal(field('state'), s2);
  assert.ok(field('code'));
  const hid = decodeJwt(field('id_token'));
  assert.equal(hid.nonce, n2);
  assert.equal(hid.sub, 'alice');
  const half = (v) => b64url(createHash('sha256').update(v).digest().subarray(0, 16));
  assert.equal(hid.c_hash, half(field('code')));
  assert.equal(hid.s_hash, half(s2));
  const { createRemoteJWKSet, jwtVerify } = await import('jose');
  await jwtVerify(field('id_token'), createRemoteJWKSet(new URL(disco.jwks_uri)), { issuer: ISSUER, audience: CLIENT_ID });
  res = await fetch(tokenUrl, form({
    grant_type: 'authorization_code', code: field('code'), redirect_uri: REDIRECT, code_verifier: v2,
    client_id: CLIENT_ID, client_secret: SECRET,
  }));
  const ht = await json(res);
  assert.equal(res.status, 200, JSON.stringify(ht));
  assert.ok(ht.refresh_token);
  ok('hybrid code id_token + form_post: auto-post form with code, state, id_token (c_hash, s_hash), exchange ok');

  // ---- counters ----
  const stats = await json(await fetch(`${BASE}/__emulator/stats`));
  console.log(JSON.stringify(stats));
  assert.equal(stats.token.authorization_code, 3);
  assert.ok(stats.token.refresh_token >= 3);
  assert.ok(stats.tokenAuthMethods.client_secret_post >= 6);
  assert.equal(stats.tokenAuthMethods.client_secret_basic, 0);
  assert.ok(stats.tokenErrors.invalid_grant >= 2);
  assert.equal(stats.authorize, 3);
  assert.equal(stats.endSession, 1);
  assert.equal(stats.login.ok, 2);
  assert.equal(stats.login.failed, 2);
  assert.ok(stats.api >= 5);
  ok('stats counted everything');

  // everything secret seen or issued since the reset at the start
  const secrets = await json(await fetch(`${BASE}/__emulator/secrets`));
  const has = (kind, values) => {
    for (const v of values.filter(Boolean)) assert.ok(secrets[kind].includes(v), `${kind} lacks ${v.slice(0, 20)}…`);
  };
  has('codes', [code, field('code')]);
  has('codeVerifiers', [verifier, v2]);
  has('accessTokens', [tokens.access_token, t2.access_token, t3.access_token, ht.access_token]);
  has('refreshTokens', [tokens.refresh_token, t2.refresh_token, t3.refresh_token, ht.refresh_token]);
  has('idTokens', [tokens.id_token, t2.id_token, field('id_token'), ht.id_token]);
  assert.deepEqual(secrets.clientSecrets, [SECRET]);
  ok(`secrets log: ${Object.entries(secrets).map(([k, v]) => `${k} ${v.length}`).join(', ')}`);

  await extras();
  await newHooks();
  console.log('SMOKE PASSED');
}

// A full code flow for `user`, returning the token response and the jar.
async function codeFlow(user = 'demo', { scope = 'openid profile offline_access read update' } = {}) {
  const jar = new Jar();
  const verifier = rnd();
  const nonce = rnd();
  const first = await follow(jar, `${ISSUER}/connect/authorize?${new URLSearchParams({
    client_id: CLIENT_ID, response_type: 'code', scope, redirect_uri: REDIRECT, state: rnd(), nonce,
    code_challenge: b64url(createHash('sha256').update(verifier).digest()), code_challenge_method: 'S256',
  })}`);
  const html = await first.res.text();
  const action = /<form method="post" action="([^"]+)" id="login-form"/.exec(html)[1];
  const { location } = await follow(jar, new URL(action, first.url).href, form({ login: user, password: user }));
  const code = new URL(location).searchParams.get('code');
  const res = await fetch(`${ISSUER}/connect/token`, form({
    grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier,
    client_id: CLIENT_ID, client_secret: SECRET,
  }));
  assert.equal(res.status, 200);
  return { jar, nonce, tokens: await res.json() };
}

const control = (body) => fetch(`${BASE}/__emulator/control`, { method: 'POST', body: JSON.stringify(body) });
const refresh = (rt) => fetch(`${ISSUER}/connect/token`, form({
  grant_type: 'refresh_token', refresh_token: rt, client_id: CLIENT_ID, client_secret: SECRET,
}));

// Hooks, faults and the rest of the Domain API.
async function extras() {
  const { createRemoteJWKSet, jwtVerify } = await import('jose');
  const jwks = createRemoteJWKSet(new URL(`${ISSUER}/.well-known/openid-configuration/jwks`));
  const verifyId = (jwt, nonce) => jwtVerify(jwt, jwks, { issuer: ISSUER, audience: CLIENT_ID, clockTolerance: 0 })
    .then(({ payload }) => { if (payload.nonce !== nonce) throw new Error('nonce mismatch'); return 'valid'; }, (e) => e.code || e.message)
    .catch((e) => e.message);

  const { tokens, nonce } = await codeFlow('alice');
  assert.equal(await verifyId(tokens.id_token, nonce), 'valid');
  const atHash = createHash('sha256').update(tokens.access_token).digest();
  assert.equal(decodeJwt(tokens.id_token).at_hash, b64url(atHash.subarray(0, 16)));
  ok('token-endpoint ID token verifies against JWKS, at_hash correct');

  // ID-token faults
  const expect = {
    'wrong-audience': 'ERR_JWT_CLAIM_VALIDATION_FAILED',
    'wrong-issuer': 'ERR_JWT_CLAIM_VALIDATION_FAILED',
    expired: 'ERR_JWT_EXPIRED',
    'foreign-key': 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
    'wrong-nonce': 'nonce mismatch',
  };
  let rt = tokens.refresh_token;
  for (const [fault, want] of Object.entries(expect)) {
    await control({ idToken: fault });
    const res = await refresh(rt);
    const t = await res.json();
    assert.equal(res.status, 200);
    rt = t.refresh_token;
    const got = await verifyId(t.id_token, fault === 'wrong-nonce' ? decodeJwt(tokens.id_token).nonce : nonce);
    assert.equal(got, want, `idToken=${fault}`);
  }
  await control({});
  ok('idToken faults: wrong-audience, wrong-issuer, expired, foreign-key, wrong-nonce each fail validation');

  // token endpoint faults
  await control({ tokenStatus: 503 });
  let res = await refresh(rt);
  assert.equal(res.status, 503);
  assert.equal((await res.json()).error, 'server_error');
  await control({ tokenDelayMs: 300 });
  let t0 = Date.now();
  res = await refresh(rt);
  assert.ok(Date.now() - t0 >= 300);
  assert.equal(res.status, 200);
  rt = (await res.json()).refresh_token;
  await control({});
  ok('tokenStatus and tokenDelayMs faults');

  // concurrent refresh with one token: exactly one wins
  const both = await Promise.all([refresh(rt), refresh(rt)]);
  const statuses = both.map((r) => r.status).sort();
  assert.deepEqual(statuses, [200, 400]);
  const winner = await both.find((r) => r.status === 200).json();
  rt = winner.refresh_token;
  ok('two concurrent refreshes with one token: one 200, one invalid_grant');

  // Basic auth is counted separately (oidc-provider accepts it)
  const before = (await (await fetch(`${BASE}/__emulator/stats`)).json()).tokenAuthMethods.client_secret_basic;
  res = await fetch(`${ISSUER}/connect/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(CLIENT_ID)}:${encodeURIComponent(SECRET)}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: rt }).toString(),
  });
  assert.equal(res.status, 200);
  rt = (await res.json()).refresh_token;
  const after = (await (await fetch(`${BASE}/__emulator/stats`)).json()).tokenAuthMethods.client_secret_basic;
  assert.equal(after, before + 1);
  ok('client_secret_basic counted');

  // revocation endpoint
  res = await fetch(`${ISSUER}/connect/revocation`, form({
    token: rt, token_type_hint: 'refresh_token', client_id: CLIENT_ID, client_secret: SECRET,
  }));
  assert.equal(res.status, 200);
  res = await refresh(rt);
  assert.equal(res.status, 400);
  ok('revocation endpoint revokes the refresh token');

  // /__emulator/revoke?sub=
  const demo = await codeFlow('demo');
  res = await fetch(`${BASE}/__emulator/revoke?sub=demo`, { method: 'POST' });
  assert.ok((await res.json()).revokedGrants >= 1);
  res = await refresh(demo.tokens.refresh_token);
  assert.equal(res.status, 400);
  assert.equal((await res.json()).error, 'invalid_grant');
  ok('/__emulator/revoke?sub=demo -> next refresh invalid_grant');

  // API: faults, CRUD, scopes
  const bearer = { authorization: `Bearer ${demo.tokens.access_token}` };
  const odata = `${BASE}/api/domain/odata`;
  await control({ apiStatus: 503 });
  res = await fetch(`${odata}/Crm_Sales_Customers`, { headers: bearer });
  assert.equal(res.status, 503);
  await control({ apiDelayMs: 200 });
  t0 = Date.now();
  res = await fetch(`${odata}/Crm_Sales_Customers?$top=1`, { headers: bearer });
  assert.ok(Date.now() - t0 >= 200);
  assert.equal(res.status, 200);
  await control({});
  ok('apiStatus and apiDelayMs faults');

  // one-shot faults: the next N requests only, then the switch clears itself
  await control({ apiStatus: 401, apiStatusTimes: 1 });
  const postBody = JSON.stringify({ Name: 'One Shot Ltd' });
  const post = () => fetch(`${odata}/Crm_Sales_Customers`, {
    method: 'POST', headers: { ...bearer, 'content-type': 'application/json', prefer: 'return=minimal' }, body: postBody,
  });
  res = await post();
  assert.equal(res.status, 401);
  assert.match(res.headers.get('www-authenticate'), /invalid_token/);
  res = await post();
  assert.equal(res.status, 204);
  const twice = (await json(await fetch(`${BASE}/__emulator/requests`))).slice(-2);
  assert.deepEqual(twice.map((r) => Buffer.from(r.body, 'base64').toString()), [postBody, postBody]);
  const cleared = await json(await fetch(`${BASE}/__emulator/control`));
  assert.equal(cleared.apiStatus, null);
  assert.equal(cleared.apiStatusTimes, null);
  await control({ apiDelayMs: 200, apiDelayTimes: 1 });
  t0 = Date.now();
  await (await fetch(`${odata}/Crm_Sales_Customers?$top=1`, { headers: bearer })).arrayBuffer();
  assert.ok(Date.now() - t0 >= 200);
  t0 = Date.now();
  await (await fetch(`${odata}/Crm_Sales_Customers?$top=1`, { headers: bearer })).arrayBuffer();
  assert.ok(Date.now() - t0 < 200);
  await control({ tokenStatus: 500, tokenStatusTimes: 2, tokenDelayMs: 100, tokenDelayTimes: 1 });
  const fresh = await codeFlow('demo').catch((e) => e);
  assert.ok(fresh instanceof Error, 'code exchange fails while tokenStatus is on');
  const tokenTry = await refresh('nonexistent');
  assert.equal(tokenTry.status, 500);
  assert.equal((await refresh('nonexistent')).status, 400);
  assert.equal((await json(await fetch(`${BASE}/__emulator/control`))).tokenStatus, null);
  ok('one-shot faults: apiStatusTimes (POST logged twice, same body), apiDelayTimes, tokenStatusTimes, tokenDelayTimes');

  await control({ apiGarbage: true, apiGarbageTimes: 1 });
  res = await fetch(`${odata}/Crm_Sales_Customers`, { headers: bearer });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^application\/json/);
  assert.equal(await res.text(), '{"value":[');
  res = await fetch(`${odata}/Crm_Sales_Customers?$top=1`, { headers: bearer });
  assert.equal((await res.json()).value.length, 1);
  await control({ apiCloseMidBody: true });
  res = await fetch(`${odata}/Crm_Sales_Customers`, { headers: bearer });
  assert.equal(res.status, 200);
  await assert.rejects(res.text());
  await control({});
  for (const bad of [{ apiStatusTimes: 1 }, { apiStatus: 500, apiStatusTimes: 0 }, { apiGarbage: 'yes' }, { tokenDelayTimes: 2 }]) {
    assert.equal((await control(bad)).status, 400, JSON.stringify(bad));
  }
  ok('apiGarbage (200 JSON content type, body not JSON), apiCloseMidBody (body cut off), bad control values -> 400');

  res = await fetch(`${odata}/Crm_Sales_Customers`, {
    method: 'POST', headers: { ...bearer, 'content-type': 'application/json' }, body: JSON.stringify({ Name: 'Smoke Test Ltd', City: 'Sofia' }),
  });
  assert.equal(res.status, 201);
  const loc = res.headers.get('location');
  assert.ok(loc.startsWith(`${odata}/Crm_Sales_Customers(`));
  const created = await res.json();
  res = await fetch(loc, {
    method: 'PATCH', headers: { ...bearer, 'content-type': 'application/json', prefer: 'return=representation' }, body: JSON.stringify({ City: 'Varna' }),
  });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).City, 'Varna');
  res = await fetch(loc, { method: 'PATCH', headers: { ...bearer, 'content-type': 'application/json' }, body: JSON.stringify({ Active: false }) });
  assert.equal(res.status, 204);
  res = await fetch(`${odata}/Crm_Sales_Customers?$filter=Id eq ${created.Id} and Active eq false&$count=true`.replace(/ /g, '%20'), { headers: bearer });
  const found = await res.json();
  assert.equal(found['@odata.count'], 1);
  res = await fetch(loc, { method: 'DELETE', headers: bearer });
  assert.equal(res.status, 204);
  res = await fetch(loc, { headers: bearer });
  assert.equal(res.status, 404);
  assert.equal((await res.json()).error.code, 'NotFound');
  res = await fetch(`${odata}/Crm_Sales_Customers`, {
    method: 'POST', headers: { ...bearer, 'content-type': 'application/json' }, body: JSON.stringify({ Name: 'Do FAIL' }),
  });
  assert.equal(res.status, 500);
  assert.equal(await res.text(), JSON.stringify({
    error: {
      code: 'BusinessRuleViolation', message: 'The name must not contain FAIL.', type: 'Aloe.SystemFrameworks.Domain.BusinessRuleViolationException', info: '',
    },
  }));
  res = await fetch(`${odata}/General_Products_Products?$filter=Active eq true and UnitPrice eq 24`.replace(/ /g, '%20'), { headers: bearer });
  assert.equal((await res.json()).value[0].PartNumber, 'P-1006');
  res = await fetch(`${BASE}/api/other`, { headers: bearer });
  assert.equal(res.status, 404);
  ok('API CRUD: POST 201 + Location, PATCH 200/204, filter by GUID/bool/number, DELETE 204, 404, business 500');

  const readOnly = await codeFlow('demo', { scope: 'openid profile read' });
  assert.equal(readOnly.tokens.refresh_token, undefined);
  res = await fetch(`${odata}/Crm_Sales_Customers?$top=1`, { headers: { authorization: `Bearer ${readOnly.tokens.access_token}` } });
  assert.equal(res.status, 200);
  res = await fetch(loc, { method: 'DELETE', headers: { authorization: `Bearer ${readOnly.tokens.access_token}` } });
  assert.equal(res.status, 403);
  ok('read-only token: GET 200, DELETE 403; no offline_access -> no refresh token');
}

// A raw HTTP request (lets the smoke set Host and repeat a header), answering { status, headers, body }.
function rawRequest(url, method, rawHeaders, body) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, method, headers: rawHeaders,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

// Test hooks for a BFF in front of the emulator: request log headers, binary pictures, the API
// header/redirect switches, rotateKeys, and the secrets log's reset and revocation capture.
async function newHooks() {
  const { createLocalJWKSet, createRemoteJWKSet, jwtVerify } = await import('jose');
  const odata = `${BASE}/api/domain/odata`;
  const { tokens, nonce, jar } = await codeFlow('demo');
  const bearer = { authorization: `Bearer ${tokens.access_token}` };
  const lastLogged = async () => (await json(await fetch(`${BASE}/__emulator/requests`))).at(-1);

  // request log: headers exactly as received (Host, Cookie, a repeated X-Forwarded-For, Authorization)
  let r = await rawRequest(`${odata}/Crm_Sales_Customers?$top=1`, 'GET', [
    'Host', 'bff.example:8443', 'Cookie', 'a=1; b=2', 'X-Forwarded-For', '203.0.113.7',
    'X-Forwarded-For', '10.0.0.1', 'Authorization', bearer.authorization,
  ]);
  assert.equal(r.status, 200);
  let entry = await lastLogged();
  assert.equal(entry.headers.host, 'bff.example:8443');
  assert.equal(entry.headers.cookie, 'a=1; b=2');
  assert.equal(entry.headers['x-forwarded-for'], '203.0.113.7, 10.0.0.1');
  assert.equal(entry.headers.authorization, bearer.authorization);
  assert.deepEqual(entry.rawHeaders.filter(([n]) => n === 'X-Forwarded-For'), [['X-Forwarded-For', '203.0.113.7'], ['X-Forwarded-For', '10.0.0.1']]);
  ok('request log: host, cookie, x-forwarded-for (repeats joined; rawHeaders keeps both), authorization as received');

  // binary round trip: PUT …/Picture stores the raw bytes and their content type, GET gives them back
  const products = (await json(await fetch(`${odata}/General_Products_Products?$top=2`, { headers: bearer }))).value;
  const pictureUrl = (p) => `${odata}/General_Products_Products(${p.Id})/Picture`;
  const bytes = Buffer.concat([Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0x80, 0xbf, 0xed, 0xa0, 0x80, 0x0d, 0x0a, 0x1a]), randomBytes(4096)]);
  assert.equal(isUtf8(bytes), false);
  for (const [contentType, body] of [['application/octet-stream', bytes], ['image/png', Buffer.concat([bytes, bytes])]]) {
    let res = await fetch(pictureUrl(products[0]), { method: 'PUT', headers: { ...bearer, 'content-type': contentType }, body });
    assert.equal(res.status, 204);
    assert.equal(Buffer.from((await lastLogged()).body, 'base64').compare(body), 0, 'request log keeps the raw body');
    res = await fetch(pictureUrl(products[0]), { headers: bearer });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), contentType);
    assert.equal(Buffer.from(await res.arrayBuffer()).compare(body), 0, `picture bytes (${contentType})`);
  }
  r = await fetch(pictureUrl(products[1]), { headers: bearer });
  assert.equal(r.headers.get('content-type'), 'image/png');
  assert.equal((await r.arrayBuffer()).byteLength, 264);
  ok(`binary round trip: PUT/GET …/Picture (${bytes.length} non-UTF-8 bytes, octet-stream and image/png), others keep the default`);

  // API header switches and redirect
  await control({ apiSetCookie: 'emu=1; Path=/', apiExtraHeaders: { 'X-Powered-By': 'x', Server: 'y', ETag: 'W/"1"' } });
  for (const headers of [bearer, {}]) {
    r = await fetch(`${odata}/Crm_Sales_Customers?$top=1`, { headers });
    assert.equal(r.status, headers.authorization ? 200 : 401);
    assert.deepEqual(r.headers.getSetCookie(), ['emu=1; Path=/']);
    assert.equal(r.headers.get('x-powered-by'), 'x');
    assert.equal(r.headers.get('server'), 'y');
    assert.equal(r.headers.get('etag'), 'W/"1"');
    await r.arrayBuffer();
  }
  const customer = (await json(await fetch(`${odata}/Crm_Sales_Customers?$top=1`, { headers: bearer }))).value[0];
  await control({ apiRedirect: 'http://127.0.0.1:1/elsewhere' });
  const apiBefore = (await json(await fetch(`${BASE}/__emulator/stats`))).api;
  r = await fetch(`${odata}/Crm_Sales_Customers(${customer.Id})`, {
    method: 'PATCH', redirect: 'manual', headers: { ...bearer, 'content-type': 'application/json' }, body: JSON.stringify({ Name: 'Redirected' }),
  });
  assert.equal(r.status, 302);
  assert.equal(r.headers.get('location'), 'http://127.0.0.1:1/elsewhere');
  assert.equal((await json(await fetch(`${BASE}/__emulator/stats`))).api, apiBefore + 1);
  assert.equal((await lastLogged()).method, 'PATCH');
  await control({});
  r = await fetch(`${odata}/Crm_Sales_Customers(${customer.Id})`, { headers: bearer });
  assert.equal((await json(r)).Name, customer.Name, 'the redirected PATCH was not processed');
  assert.equal(r.headers.get('set-cookie'), null);
  assert.equal(r.headers.get('x-powered-by'), null);
  for (const bad of [{ apiSetCookie: 1 }, { apiSetCookie: 'a=b\r\nX: y' }, { apiRedirect: '' }, { apiExtraHeaders: { 'Bad Name': 'x' } },
    { apiExtraHeaders: { 'X-A': 1 } }, { apiExtraHeaders: 'x' }, { apiExtraHeaders: { 'Content-Length': '1' } }]) {
    assert.equal((await control(bad)).status, 400, JSON.stringify(bad));
  }
  ok('apiSetCookie + apiExtraHeaders on 200 and 401, apiRedirect 302 (counted, logged, not processed), {} resets, bad values 400');

  // rotateKeys: a new kid signs from now on, the JWKS keeps the old key too
  const jwksUrl = `${ISSUER}/.well-known/openid-configuration/jwks`;
  const jwksBefore = await json(await fetch(jwksUrl));
  const kidOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString()).kid;
  const oldKid = kidOf(tokens.id_token);
  assert.equal(jwksBefore.keys[0].kid, oldKid);
  for (const bad of [{ rotateKeys: 'yes' }, { rotateKeys: true, nope: 1 }]) assert.equal((await control(bad)).status, 400);
  assert.deepEqual(await json(await fetch(jwksUrl)), jwksBefore, 'a refused control body rotates nothing');
  r = await control({ rotateKeys: true });
  const rotated = (await json(r)).rotatedKey;
  assert.equal(r.status, 200);
  assert.equal(rotated.previousKid, oldKid);
  assert.notEqual(rotated.kid, oldKid);
  assert.equal('rotateKeys' in (await json(await fetch(`${BASE}/__emulator/control`))), false, 'one-shot action, not a switch');
  const jwksAfter = await json(await fetch(jwksUrl));
  assert.deepEqual(jwksAfter.keys.map((k) => k.kid), [rotated.kid, ...jwksBefore.keys.map((k) => k.kid)]);
  assert.equal((await json(await fetch(`${BASE}/__emulator/config`))).signingKid, rotated.kid);
  r = await refresh(tokens.refresh_token);
  const t = await json(r);
  assert.equal(r.status, 200);
  assert.equal(kidOf(t.id_token), rotated.kid);
  assert.equal(kidOf(t.access_token), rotated.kid);
  const verifyOpts = { issuer: ISSUER, audience: CLIENT_ID, clockTolerance: 0 };
  const stale = createLocalJWKSet(jwksBefore);
  await assert.rejects(jwtVerify(t.id_token, stale, verifyOpts), { code: 'ERR_JWKS_NO_MATCHING_KEY' });
  const fresh = createRemoteJWKSet(new URL(jwksUrl));
  assert.equal((await jwtVerify(t.id_token, fresh, verifyOpts)).payload.nonce, nonce);
  assert.equal((await jwtVerify(tokens.id_token, fresh, verifyOpts)).payload.nonce, nonce, 'old ID token still verifies');
  assert.equal(decodeJwt(t.id_token).at_hash, b64url(createHash('sha256').update(t.access_token).digest().subarray(0, 16)));
  for (const at of [tokens.access_token, t.access_token]) {
    r = await fetch(`${odata}/Crm_Sales_Customers?$top=1`, { headers: { authorization: `Bearer ${at}` } });
    assert.equal(r.status, 200, 'old and new access tokens both work at the API');
    await r.arrayBuffer();
  }
  r = await fetch(`${ISSUER}/connect/userinfo`, { headers: { authorization: `Bearer ${t.access_token}` } });
  assert.equal((await json(r)).sub, 'demo');
  await control({ idToken: 'wrong-audience' });
  const tampered = await json(await refresh(t.refresh_token));
  await control({});
  assert.equal(kidOf(tampered.id_token), rotated.kid);
  await assert.rejects(jwtVerify(tampered.id_token, fresh, verifyOpts), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED' });
  r = await request(jar, `${ISSUER}/connect/endsession?${new URLSearchParams({ id_token_hint: t.id_token, post_logout_redirect_uri: POST_LOGOUT, state: 'rotated' })}`);
  assert.equal(r.status, 302);
  assert.equal(new URL(r.headers.get('location')).searchParams.get('state'), 'rotated');
  ok(`rotateKeys: kid ${oldKid} -> ${rotated.kid}; JWKS serves both, stale JWKS misses the kid, old and new tokens verify (API, userinfo, end session hint), faults still work`);

  // the secrets log: POST /__emulator/reset empties it; revocation requests are captured
  await fetch(`${BASE}/__emulator/reset`, { method: 'POST' });
  const empty = await json(await fetch(`${BASE}/__emulator/secrets`));
  assert.deepEqual(empty, {
    codes: [], codeVerifiers: [], accessTokens: [], refreshTokens: [], idTokens: [], clientSecrets: [],
  });
  const other = await codeFlow('alice');
  r = await fetch(`${ISSUER}/connect/revocation`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(CLIENT_ID)}:${encodeURIComponent(SECRET)}`).toString('base64')}`,
    },
    body: new URLSearchParams({ token: other.tokens.refresh_token }).toString(),
  });
  assert.equal(r.status, 200);
  const after = await json(await fetch(`${BASE}/__emulator/secrets`));
  assert.deepEqual(after.clientSecrets, [SECRET]);
  assert.deepEqual(after.refreshTokens, [other.tokens.refresh_token]);
  assert.equal(after.codes.length, 1);
  assert.deepEqual(after.accessTokens, [other.tokens.access_token]);
  ok('secrets log: emptied by POST /__emulator/reset, code flow + revocation (Basic auth) captured');
}

// Against EMULATOR_URL when given (a running emulator), else a child emulator of its own.
test('the emulator smoke: flows, hooks, faults and the Domain API', { timeout: 120_000 }, async () => {
  let started = null;
  if (!process.env.EMULATOR_URL) {
    started = await startEmulator({ EMULATOR_BACKCHANNEL_LOGOUT_URI: '' });
    BASE = started.origin;
    ISSUER = `${BASE}/id`;
  }
  try {
    await main();
  } finally {
    if (started) await stopEmulator(started.child);
  }
});
