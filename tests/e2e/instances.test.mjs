// Many ERP.net instances in one deployment (issue 16), in a real browser: the stack runs in multi-instance mode
// (`cargo xtask stack --instances`): two emulators, `acme` (customers C0001…) and `globex` (customers G0001…),
// each with its own keys and client secret, both in the instance registry; the app is served on
// `acme.localhost:<port>` and `globex.localhost:<port>` (Chromium resolves `*.localhost` to the loopback address),
// and the host chooses the instance. See harness.mjs.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { clearScreenshots, launchBrowser, newContext, screenshot, skipReason, startStack } from './harness.mjs';

const TEST_TIMEOUT = 180_000;
const SESSION_COOKIE = '__Host-Http-bff-session';

let stack;
let browser;

/** `fetch` from the page (same origin: its own host's session cookie goes along). */
async function pageFetch(page, path) {
  return page.evaluate(async (p) => {
    const r = await fetch(p, { headers: { 'X-CSRF': '1' } });
    const body = await r.text();
    let json;
    try {
      json = JSON.parse(body);
    } catch {
      json = undefined;
    }
    return { status: r.status, body, json };
  }, path);
}

async function sessionOf(page) {
  const r = await pageFetch(page, '/auth/session');
  assert.equal(r.status, 200, r.body);
  return r.json;
}

/** Waits for the signed-in view with its list loaded; fails at once on a JSON (problem) page instead of the app. */
async function signedIn(page) {
  const outcome = await page.waitForFunction(() => {
    if (document.getElementById('signed-in')?.hidden === false) return 'ok';
    if (document.contentType.includes('json')) return `a JSON page instead of the app: ${document.body?.innerText}`;
    return false;
  });
  const v = await outcome.jsonValue();
  if (v !== 'ok') throw new Error(`${page.url()}: ${v}`);
  await page.locator('#customers-table[data-state="ready"][aria-busy="false"]').waitFor({ state: 'attached' });
}

/** The customer numbers the page shows. */
async function shownNumbers(page) {
  return page.$$eval('#customers tr', (trs) => trs.map((tr) => tr.dataset.number));
}

/** Every customer number the page's session gets from the Domain API (through its host's BFF). */
async function apiNumbers(page) {
  const r = await pageFetch(page, '/api/domain/odata/Crm_Sales_Customers?$top=100&$select=Number');
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json['@emulator.user'], 'demo');
  return r.json.value.map((c) => c.Number);
}

/**
 * Signs in as demo on instance `inst`'s host: the app's sign-in button leads to THAT instance's emulator (its login
 * page names it), and back to that host.
 */
async function signIn(page, inst) {
  await page.goto(inst.url('/'));
  await page.locator('#anonymous').waitFor();
  assert.equal(await page.locator('#app-host').textContent(), new URL(inst.origin).host);
  await page.locator('#signin').click();
  await page.waitForURL((u) => u.origin === inst.emulatorOrigin && u.pathname.startsWith('/id/interaction/'));
  assert.equal(await page.locator('#instance').textContent(), inst.key, 'the login page is the instance’s own');
  await page.fill('#login', 'demo');
  await page.fill('#password', 'demo');
  await page.click('#submit');
  await page.waitForURL((u) => u.origin !== inst.emulatorOrigin);
  assert.equal(new URL(page.url()).origin, inst.origin, 'the sign-in comes back to the instance’s own host');
  await signedIn(page);
}

const allStartWith = (numbers, prefix) => numbers.length > 0 && numbers.every((n) => n.startsWith(prefix));

describe('one deployment, many ERP.net instances, in Chromium', { skip: skipReason() }, () => {
  before(
    async () => {
      clearScreenshots('instances-');
      browser = await launchBrowser(); // first: under CI=true a missing Chromium fails here, at once
      stack = await startStack({ instances: true });
    },
    { timeout: 300_000 },
  );

  after(async () => {
    await browser?.close().catch(() => {});
    await stack?.stop();
  });

  test(
    'one browser is signed in to acme and globex as demo at once; each sees only its own data; signing out of one leaves the other; globex’s back-channel logout ends globex’s session',
    { timeout: TEST_TIMEOUT },
    async () => {
      const { acme, globex } = stack.instances;
      const ctx = await newContext(browser);
      const errors = [];
      ctx.on('page', (p) => p.on('pageerror', (e) => errors.push(`${p.url()}: ${e.message}`)));
      try {
        const wasAcme = await acme.stats();
        const wasGlobex = await globex.stats();
        const a = await ctx.newPage();
        const g = await ctx.newPage();
        await signIn(a, acme);
        await signIn(g, globex);
        // Each instance's own identity server signed its user in, once.
        assert.equal((await acme.stats()).login.ok - wasAcme.login.ok, 1);
        assert.equal((await globex.stats()).login.ok - wasGlobex.login.ok, 1);

        // Both signed in at once, each with a session (cookie) of its own host, each seeing its own instance's data.
        await a.reload();
        await signedIn(a);
        for (const [page, prefix] of [[a, 'C'], [g, 'G']]) {
          const s = await sessionOf(page);
          assert.equal(s.authenticated, true);
          assert.equal(s.user.sub, 'demo');
          const shown = await shownNumbers(page);
          assert.ok(allStartWith(shown, prefix), `${page.url()} shows ${shown}`);
          const all = await apiNumbers(page);
          assert.ok(allStartWith(all, prefix), `${page.url()} gets ${all}`);
        }
        assert.equal((await apiNumbers(a)).length, 36);
        assert.equal((await apiNumbers(g)).length, 12);
        const cookieOf = async (inst) => (await ctx.cookies(inst.origin)).find((c) => c.name === SESSION_COOKIE);
        const [ca, cg] = [await cookieOf(acme), await cookieOf(globex)];
        assert.ok(ca && cg, 'a session cookie on each host');
        assert.equal(ca.domain, new URL(acme.origin).hostname);
        assert.equal(cg.domain, new URL(globex.origin).hostname);
        assert.notEqual(ca.value, cg.value);
        // The default instance's bare host shares neither session.
        const d = await ctx.newPage();
        await d.goto(stack.url('/'));
        await d.locator('#anonymous').waitFor();
        assert.deepEqual(await sessionOf(d), { authenticated: false });
        await screenshot(a, 'instances-01-acme-signed-in');
        await screenshot(g, 'instances-02-globex-signed-in');

        // Signing out of acme ends acme's session (at acme's identity server), and only that one.
        await a.click('#signout');
        await a.waitForURL((u) => u.href === acme.url('/'));
        await a.locator('#anonymous').waitFor();
        assert.equal((await acme.stats()).endSession - wasAcme.endSession, 1);
        assert.equal((await globex.stats()).endSession - wasGlobex.endSession, 0);
        assert.deepEqual(await sessionOf(a), { authenticated: false });
        assert.equal(await cookieOf(acme), undefined);

        await g.reload();
        await signedIn(g);
        assert.equal((await sessionOf(g)).authenticated, true);
        assert.ok(allStartWith(await apiNumbers(g), 'G'));
        await screenshot(g, 'instances-03-globex-still-signed-in');

        // globex's identity server ends demo's ERP.net session: its back-channel logout token (sent with globex's
        // host, as CloudFront would) ends the globex session, and the page shows it at once.
        const res = await fetch(`${globex.emulatorOrigin}/__emulator/logout?sub=demo`, { method: 'POST' });
        assert.equal(res.status, 200);
        const out = await res.json();
        assert.ok(out.backchannel.length > 0 && out.backchannel.every((b) => b.ok), JSON.stringify(out.backchannel));
        assert.deepEqual(await sessionOf(g), { authenticated: false });
        await g.reload();
        await g.locator('#anonymous').waitFor();
        assert.deepEqual(errors, [], 'uncaught errors in the pages');
      } catch (e) {
        let n = 0;
        for (const p of ctx.pages()) await screenshot(p, `FAILED-instances-${n++}`).catch(() => {});
        throw e;
      } finally {
        await ctx.close().catch(() => {});
      }
    },
  );
});
