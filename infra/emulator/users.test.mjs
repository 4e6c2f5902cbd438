// Tests of the emulator's user hooks: POST /__emulator/users/<login>/rename?to=<newLogin> and
// POST /__emulator/users?login=<login>[&password=<pw>], and POST /__emulator/reset undoing them.
//
//   cd infra && npm ci     # once
//   node --test infra/emulator/users.test.mjs
//
// The user functions of data.js are checked in-process; the hooks through an emulator started as a child
// process on a free loopback port (EMULATOR_PORT=0), signing in through the real authorize / login form /
// token flow. The back-channel logout URI points at a closed port: logout tokens are only fetched (send=false).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  after, before, beforeEach, describe, test,
} from 'node:test';
import { fileURLToPath } from 'node:url';

import { Jar, startEmulator, stopEmulator } from './child.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SERVER = path.join(HERE, 'server.js');
const CLIENT_ID = 'my.trusted.app/first';
const SECRET = 'local-dev-secret-change-me';
const REDIRECT = 'http://localhost:5173/auth/callback';
const DEMO_ID = '6f1e8d2c-5b1a-4c39-9a57-2f0d4c8e1a01';
const ALICE_ID = '0b7c3a52-9e4d-4f6a-8c21-5d3e7f9a2b02';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const decodeJwt = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());

// ---- a browser: cookie jar, redirects, the login form -------------------------------------------

function form(params) {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
  };
}

class Emulator {
  constructor(origin) {
    this.origin = origin;
    this.issuer = `${origin}/id`;
  }

  async hook(method, pathAndQuery) {
    const res = await fetch(`${this.origin}/__emulator${pathAndQuery}`, { method });
    return { status: res.status, body: await res.json() };
  }

  async request(jar, url, init = {}) {
    const headers = { ...(init.headers || {}) };
    const cookie = jar.header(url);
    if (cookie) headers.cookie = cookie;
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    jar.store(res);
    return res;
  }

  // Follows redirects on the emulator until one leaves it (to the app) or a page is served.
  async follow(jar, url, init) {
    let res = await this.request(jar, url, init);
    for (let i = 0; i < 10 && res.status >= 300 && res.status < 400; i += 1) {
      const next = new URL(res.headers.get('location'), url).href;
      if (!next.startsWith(this.origin)) return { res, location: next };
      url = next;
      res = await this.request(jar, url);
    }
    return { res, url };
  }

  authorizeParams(extra = {}) {
    const verifier = b64url(randomBytes(32));
    return {
      verifier,
      params: {
        client_id: CLIENT_ID,
        response_type: 'code',
        scope: 'openid profile offline_access read update',
        redirect_uri: REDIRECT,
        state: b64url(randomBytes(16)),
        nonce: b64url(randomBytes(16)),
        code_challenge: b64url(createHash('sha256').update(verifier).digest()),
        code_challenge_method: 'S256',
        ...extra,
      },
    };
  }

  // Opens the login page of a fresh authorization request; answers { jar, verifier, loginUrl }.
  async loginPage(jar = new Jar()) {
    const { verifier, params } = this.authorizeParams();
    const first = await this.follow(jar, `${this.issuer}/connect/authorize?${new URLSearchParams(params)}`);
    assert.equal(first.res.status, 200, 'login page expected');
    const html = await first.res.text();
    const action = /<form method="post" action="([^"]+)" id="login-form"/.exec(html)[1];
    return { jar, verifier, loginUrl: new URL(action, first.url).href };
  }

  // Submits the login form: { ok: true, code, verifier, jar } or { ok: false, html } (form shown again).
  async signIn(login, password, jar = new Jar()) {
    const page = await this.loginPage(jar);
    const out = await this.follow(jar, page.loginUrl, form({ login, password }));
    if (out.location) {
      const code = new URL(out.location).searchParams.get('code');
      assert.ok(code, `callback without a code: ${out.location}`);
      return { ok: true, code, verifier: page.verifier, jar };
    }
    assert.equal(out.res.status, 200);
    return { ok: false, html: await out.res.text() };
  }

  async token(params) {
    const res = await fetch(`${this.issuer}/connect/token`, form({ client_id: CLIENT_ID, client_secret: SECRET, ...params }));
    return { status: res.status, body: await res.json() };
  }

  async exchange({ code, verifier }) {
    const t = await this.token({
      grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier,
    });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    return t.body;
  }

  async userinfo(accessToken) {
    const res = await fetch(`${this.issuer}/connect/userinfo`, { headers: { authorization: `Bearer ${accessToken}` } });
    return { status: res.status, body: await res.json() };
  }

  // Signs in and exchanges the code: the token response.
  async tokensFor(login, password = login) {
    const r = await this.signIn(login, password);
    assert.ok(r.ok, `${login} should sign in`);
    return { ...(await this.exchange(r)), jar: r.jar };
  }

  // The token response's claims: { idToken, accessToken } payloads, and userinfo.
  async claimsOf(tokens) {
    const ui = await this.userinfo(tokens.access_token);
    assert.equal(ui.status, 200, JSON.stringify(ui.body));
    return { idToken: decodeJwt(tokens.id_token), accessToken: decodeJwt(tokens.access_token), userinfo: ui.body };
  }
}

function assertSubject(claims, sub, id) {
  for (const [where, c] of Object.entries(claims)) {
    assert.equal(c.sub, sub, `${where}.sub`);
    assert.equal(c.id, id, `${where}.id`);
  }
}

// ---- data.js in-process ----------------------------------------------------------------------

describe('data.js users (in-process)', () => {
  let data;
  before(async () => { data = await import('./data.js'); });
  beforeEach(() => { data.resetUsers(); });
  after(() => { data.resetUsers(); });

  test('a rename keeps the id; the account lookup by the new login gives it, the old login none', () => {
    const before = { ...data.USERS.get('demo') };
    const user = data.renameUser('demo', 'demo.renamed');
    assert.equal(user.id, DEMO_ID);
    assert.equal(data.USERS.get('demo'), undefined);
    const found = data.USERS.get('demo.renamed');
    assert.deepEqual(found, { ...before, sub: 'demo.renamed' });
    assert.equal(data.userById(DEMO_ID), found);
    assert.equal(data.subjectOf(DEMO_ID), 'demo.renamed');
    assert.equal(data.accountIdOf('demo.renamed'), DEMO_ID);
    assert.equal(data.accountIdOf('demo'), 'demo'); // unknown: matches no account
  });

  test('rename errors: unknown login 404, taken 409, empty 400', () => {
    assert.throws(() => data.renameUser('nobody', 'x'), { status: 404 });
    assert.throws(() => data.renameUser('demo', 'alice'), { status: 409 });
    assert.throws(() => data.renameUser('demo', 'demo'), { status: 409 });
    assert.throws(() => data.renameUser('demo', ''), { status: 400 });
    assert.equal(data.USERS.get('demo').id, DEMO_ID);
  });

  test('a namesake on a freed login gets a fresh id; reset restores the users and names the gone ones', () => {
    data.renameUser('alice', 'alice.old');
    const namesake = data.createUser('alice');
    assert.match(namesake.id, GUID);
    assert.notEqual(namesake.id, ALICE_ID);
    assert.equal(namesake.password, 'alice');
    assert.throws(() => data.createUser('alice'), { status: 409 });
    assert.deepEqual(data.resetUsers(), [namesake.id]);
    assert.equal(data.USERS.get('alice').id, ALICE_ID);
    assert.equal(data.USERS.get('alice.old'), undefined);
    assert.equal(data.userById(namesake.id), undefined);
    assert.equal(data.resetUsers(), null); // nothing changed
  });
});

// ---- the hooks, through a running emulator ------------------------------------------------------

describe('user hooks (emulator child process)', () => {
  let emu;
  let child;

  before(async () => {
    ({ origin: emu, child } = await startEmulator());
    emu = new Emulator(emu);
  });
  after(async () => { if (child) await stopEmulator(child); });
  beforeEach(async () => {
    const r = await emu.hook('POST', '/reset');
    assert.equal(r.status, 200);
  });

  test('rename answers 200 {id, sub}; 404 unknown, 409 taken, 400 without `to`, 405 on GET', async () => {
    assert.deepEqual(await emu.hook('POST', '/users/demo/rename?to=demo.renamed'), {
      status: 200, body: { id: DEMO_ID, sub: 'demo.renamed' },
    });
    assert.equal((await emu.hook('POST', '/users/demo/rename?to=x')).status, 404);
    assert.equal((await emu.hook('POST', '/users/demo.renamed/rename?to=alice')).status, 409);
    assert.equal((await emu.hook('POST', '/users/alice/rename')).status, 400);
    assert.equal((await emu.hook('POST', '/users/alice/rename?to=')).status, 400);
    assert.equal((await emu.hook('GET', '/users/alice/rename?to=y')).status, 405);
    // percent-encoded logins in the path and the query
    assert.deepEqual(await emu.hook('POST', `/users/demo.renamed/rename?to=${encodeURIComponent('d émo/1')}`), {
      status: 200, body: { id: DEMO_ID, sub: 'd émo/1' },
    });
    assert.deepEqual(await emu.hook('POST', `/users/${encodeURIComponent('d émo/1')}/rename?to=demo2`), {
      status: 200, body: { id: DEMO_ID, sub: 'demo2' },
    });
  });

  test('after a rename the new login signs in with the same id and password, the old one is refused', async () => {
    await emu.hook('POST', '/users/demo/rename?to=demo.renamed');

    const old = await emu.signIn('demo', 'demo');
    assert.equal(old.ok, false);
    assert.match(old.html, /Invalid login or password/);

    const tokens = await emu.tokensFor('demo.renamed', 'demo');
    const claims = await emu.claimsOf(tokens);
    assertSubject(claims, 'demo.renamed', DEMO_ID);
    assert.equal(claims.idToken.email, 'demo@example.com');
    assert.equal(claims.userinfo.email, 'demo@example.com');
  });

  test('sessions and grants opened before a rename keep working and get the new sub', async () => {
    const before = await emu.tokensFor('alice');
    assertSubject(await emu.claimsOf(before), 'alice', ALICE_ID);

    await emu.hook('POST', '/users/alice/rename?to=alice.renamed');

    // the access token issued before: its `sub` stays, userinfo (looked up by id) answers the new login
    assert.equal(decodeJwt(before.access_token).sub, 'alice');
    assert.deepEqual((await emu.userinfo(before.access_token)).body.sub, 'alice.renamed');

    // refresh: the same grant, the new sub
    const refreshed = await emu.token({ grant_type: 'refresh_token', refresh_token: before.refresh_token });
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    assertSubject(await emu.claimsOf(refreshed.body), 'alice.renamed', ALICE_ID);

    // the identity server's session (browser cookie): prompt=none signs in silently as the same account,
    // and an id_token_hint with the new sub matches it
    const hint = refreshed.body.id_token;
    const { verifier, params } = emu.authorizeParams({ prompt: 'none', id_token_hint: hint });
    const silent = await emu.follow(before.jar, `${emu.issuer}/connect/authorize?${new URLSearchParams(params)}`);
    const code = new URL(silent.location).searchParams.get('code');
    assert.ok(code, `prompt=none should give a code: ${silent.location}`);
    assertSubject(await emu.claimsOf(await emu.exchange({ code, verifier })), 'alice.renamed', ALICE_ID);

    // a hint with the old sub no longer matches the session's user
    const stale = emu.authorizeParams({ prompt: 'none', id_token_hint: before.id_token });
    const refused = await emu.follow(before.jar, `${emu.issuer}/connect/authorize?${new URLSearchParams(stale.params)}`);
    assert.equal(new URL(refused.location).searchParams.get('error'), 'login_required');

    // logout?sub= takes the current login: the old one finds nothing, the new one the session,
    // and the logout token carries the new sub
    assert.equal((await emu.hook('POST', '/logout?sub=alice&send=false')).body.sessions, 0);
    const out = await emu.hook('POST', '/logout?sub=alice.renamed&send=false');
    assert.equal(out.body.sub, 'alice.renamed');
    assert.equal(out.body.sessions, 1);
    assert.equal(out.body.logoutTokens.length, 1);
    assert.equal(decodeJwt(out.body.logoutTokens[0]).sub, 'alice.renamed');
    const dead = await emu.token({ grant_type: 'refresh_token', refresh_token: refreshed.body.refresh_token });
    assert.equal(dead.body.error, 'invalid_grant');
  });

  test('create answers 201 {id, sub}: a namesake on a freed login gets another id and none of the old grants', async () => {
    const alice = await emu.tokensFor('alice');
    await emu.hook('POST', '/users/alice/rename?to=alice.old');

    const created = await emu.hook('POST', '/users?login=alice&password=s3cret');
    assert.equal(created.status, 201);
    assert.equal(created.body.sub, 'alice');
    assert.match(created.body.id, GUID);
    assert.notEqual(created.body.id, ALICE_ID);
    assert.equal((await emu.hook('POST', '/users?login=alice')).status, 409);
    assert.equal((await emu.hook('POST', '/users?login=alice.old')).status, 409);
    assert.equal((await emu.hook('POST', '/users')).status, 400);

    assert.equal((await emu.signIn('alice', 'alice')).ok, false); // the namesake's password, not the old user's
    const namesake = await emu.tokensFor('alice', 's3cret');
    assertSubject(await emu.claimsOf(namesake), 'alice', created.body.id);

    // the renamed user's grant is still its own
    const refreshed = await emu.token({ grant_type: 'refresh_token', refresh_token: alice.refresh_token });
    assertSubject(await emu.claimsOf(refreshed.body), 'alice.old', ALICE_ID);
    // revoke?sub=alice is the namesake's
    assert.equal((await emu.hook('POST', '/revoke?sub=alice')).body.revokedGrants, 1);
    const still = await emu.token({ grant_type: 'refresh_token', refresh_token: refreshed.body.refresh_token });
    assert.equal(still.status, 200, JSON.stringify(still.body));

    // password defaults to the login
    const bob = await emu.hook('POST', '/users?login=bob');
    assert.equal(bob.status, 201);
    assertSubject(await emu.claimsOf(await emu.tokensFor('bob', 'bob')), 'bob', bob.body.id);
  });

  test('reset undoes renames and created users (their grants die), and keeps the renamed users\' grants', async () => {
    const demo = await emu.tokensFor('demo');
    await emu.hook('POST', '/users/demo/rename?to=demo.renamed');
    const created = await emu.hook('POST', '/users?login=demo');
    const namesake = await emu.tokensFor('demo', 'demo');
    assert.equal(decodeJwt(namesake.id_token).id, created.body.id);

    assert.deepEqual(await emu.hook('POST', '/reset'), { status: 200, body: { ok: true } });

    assert.equal((await emu.signIn('demo.renamed', 'demo')).ok, false);
    assertSubject(await emu.claimsOf(await emu.tokensFor('demo')), 'demo', DEMO_ID);
    // the created user is gone: its refresh token and access token no longer work
    const gone = await emu.token({ grant_type: 'refresh_token', refresh_token: namesake.refresh_token });
    assert.equal(gone.body.error, 'invalid_grant');
    assert.equal((await emu.userinfo(namesake.access_token)).status, 401);
    // the renamed (now restored) user's grant lives on, with the data.js login again
    const refreshed = await emu.token({ grant_type: 'refresh_token', refresh_token: demo.refresh_token });
    assertSubject(await emu.claimsOf(refreshed.body), 'demo', DEMO_ID);
    assert.equal((await emu.hook('POST', '/users?login=bob')).status, 201);
  });
});

// ---- EMULATOR_STATE_FILE keeps the users ------------------------------------------------------

describe('user hooks with EMULATOR_STATE_FILE', () => {
  let dir;
  let child;
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emulator-users-')); });
  after(async () => {
    if (child) await stopEmulator(child);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('renamed and created users survive a kill -9 and restart; reset after it restores data.js users', async () => {
    const stateFile = path.join(dir, 'state.json');
    let started = await startEmulator({ EMULATOR_STATE_FILE: stateFile });
    child = started.child;
    let emu = new Emulator(started.origin);
    const port = new URL(started.origin).port;

    const demo = await emu.tokensFor('demo');
    await emu.hook('POST', '/users/demo/rename?to=demo.renamed');
    const created = (await emu.hook('POST', '/users?login=demo')).body;
    await stopEmulator(child, 'SIGKILL');

    started = await startEmulator({ EMULATOR_STATE_FILE: stateFile, EMULATOR_PORT: port });
    child = started.child;
    emu = new Emulator(started.origin);
    const refreshed = await emu.token({ grant_type: 'refresh_token', refresh_token: demo.refresh_token });
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    assertSubject(await emu.claimsOf(refreshed.body), 'demo.renamed', DEMO_ID);
    assertSubject(await emu.claimsOf(await emu.tokensFor('demo', 'demo')), 'demo', created.id);

    await emu.hook('POST', '/reset');
    await stopEmulator(child, 'SIGKILL');
    started = await startEmulator({ EMULATOR_STATE_FILE: stateFile, EMULATOR_PORT: port });
    child = started.child;
    emu = new Emulator(started.origin);
    assertSubject(await emu.claimsOf(await emu.tokensFor('demo')), 'demo', DEMO_ID);
    assert.equal((await emu.signIn('demo.renamed', 'demo')).ok, false);
  });
});
