// A tiny client for the BFF — copy it into your own SPA. No dependencies.
//
// The browser never sees a token: it holds only the BFF's HttpOnly session cookie, which a same-origin fetch sends.
// Every non-navigation call carries `X-CSRF: 1` (the BFF refuses fetch calls without it).
//
//   import { api, BffProblem, ErpError, login, logout, session, watchSession } from './bff';
//   const s = await session();
//   if (!s.authenticated) login();                       // back to this page after sign-in
//   const page = await api<{ value: Customer[] }>('domain/odata/Crm_Sales_Customers?$top=10');
//   await api(`domain/odata/Crm_Sales_Customers(${id})`, { method: 'PATCH', json: { Name: 'New name' } });
//   watchSession((change) => (change === 'signed-out' ? showSignedOut() : location.reload()));
//   logout(s.logoutUrl);
//
// Every tab learns of a sign-in, a sign-out or the session's end at once, without polling: the BFF keeps a
// script-readable hint cookie (`__Host-bff-hint`: an opaque generation and the expiry, nothing that opens a session)
// and `watchSession` notices it change (Cookie Store change events where the browser has them; a BroadcastChannel
// message from the tab that acted; a look at the cookie when a tab becomes visible). Idle tabs make no requests.

export type User = { sub?: string; id?: string; name?: string; email?: string; [claim: string]: unknown };

export type Session =
  | { authenticated: false }
  | {
      authenticated: true;
      user: User;
      accessTokenExpiresAt: string; // RFC 3339
      sessionExpiresAt: string; // RFC 3339
      logoutUrl: string; // /auth/logout?sid=… — navigate to it to sign out
    };

/** An RFC 9457 problem answered by the BFF itself, e.g. `{status: 401, code: "session_expired", title: "…"}`. */
export class BffProblem extends Error {
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly detail?: string;

  constructor(p: { status: number; code: string; title: string; detail?: string }) {
    super(p.detail ? `${p.title}: ${p.detail}` : p.title);
    this.name = 'BffProblem';
    this.status = p.status;
    this.code = p.code;
    this.title = p.title;
    this.detail = p.detail;
  }

  /** The user has to sign in (again): nothing else will fix this. */
  get needsSignIn(): boolean {
    return this.code === 'session_expired' || this.code === 'not_authenticated';
  }
}

/**
 * An error answered by the ERP.net API and passed through unchanged by the BFF (e.g. a business rule violation:
 * HTTP 500 `{"error":{"code":"BusinessRuleViolation","message":"…"}}`). `message` is ERP.net's message.
 */
export class ErpError extends Error {
  readonly status: number;
  readonly code?: string;
  readonly body: unknown;

  constructor(status: number, message: string, code: string | undefined, body: unknown) {
    super(message);
    this.name = 'ErpError';
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

export type ApiInit = Omit<RequestInit, 'body'> & {
  body?: BodyInit | null;
  /** A value to send as JSON (sets `Content-Type: application/json`). */
  json?: unknown;
  /**
   * On `session_expired` / `not_authenticated`: start a sign-in that returns to the current page (default true).
   * It is not started twice within a short time, so a session that cannot be repaired never loops.
   */
  signInOnExpiry?: boolean;
};

const CSRF = { 'X-CSRF': '1' } as const;
const AUTO_SIGN_IN_KEY = 'bff.autoSignInAt';
const AUTO_SIGN_IN_GUARD_MS = 60_000;

/** Who is signed in. Anonymous (or an expired session) → `{authenticated: false}`. */
export async function session(): Promise<Session> {
  const res = await fetch('/auth/session', { headers: CSRF, credentials: 'same-origin', cache: 'no-store' });
  const s = (await read(res)) as Session;
  announce('state');
  return s;
}

// ---- every tab learns at once

const HINT = '__Host-bff-hint';
// Set when this tab navigates to sign in or out: the cookie changes its own navigation makes are not news to react
// to (reacting would cancel that navigation).
let leaving = false;
const channel: BroadcastChannel | null = typeof BroadcastChannel === 'function' ? new BroadcastChannel('bff-session') : null;

/** The hint cookie's value (`<generation>.<expiry>`), or null when this browser has no session. */
export function sessionHint(): string | null {
  for (const part of document.cookie.split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === HINT) return value.join('=') || null;
  }
  return null;
}

export type SessionChange = 'signed-out' | 'changed';

/**
 * Calls `onChange` once this browser's session changes in any tab: `'signed-out'` (signed out, ended, expired) or
 * `'changed'` (a new sign-in, maybe as someone else: reload). Makes no requests. Returns a function that stops it.
 */
export function watchSession(onChange: (change: SessionChange) => void): () => void {
  let known = sessionHint();
  let expiry: ReturnType<typeof setTimeout> | undefined;
  let poll: ReturnType<typeof setInterval> | undefined;
  const stopPolling = () => poll !== undefined && clearInterval(poll);
  const check = (): boolean => {
    if (leaving) return false;
    const now = sessionHint();
    if (now === known) return false;
    known = now;
    stopPolling();
    armExpiry();
    onChange(now === null ? 'signed-out' : 'changed');
    return true;
  };
  const armExpiry = () => {
    if (expiry !== undefined) clearTimeout(expiry);
    const at = Number((known ?? '').split('.')[1]) * 1000;
    if (!at) return;
    // The absolute expiry: the session is over then whatever happens (timers only: no request).
    expiry = setTimeout(() => {
      known = null;
      onChange('signed-out');
    }, Math.min(Math.max(at - Date.now(), 0), 2 ** 31 - 1));
  };
  armExpiry();
  const onCookie = (e: Event) => {
    const { changed = [], deleted = [] } = e as Event & { changed?: { name: string }[]; deleted?: { name: string }[] };
    if ([...changed, ...deleted].some((c) => c.name === HINT)) check();
  };
  const onMessage = (e: MessageEvent) => {
    if (check() || (e.data as { type?: string } | null)?.type !== 'signing-out') return;
    // Another tab is signing out: its answer changes the cookie in a moment. Look at the cookie (not the network)
    // every 50 ms for a few seconds.
    stopPolling();
    const until = Date.now() + 5000;
    poll = setInterval(() => (check() || Date.now() > until) && stopPolling(), 50);
  };
  const onVisible = () => document.visibilityState === 'visible' && check();
  // Any navigation away (a link, the address bar) starts with beforeunload: from then on the cookie changes are the
  // navigation's own.
  addEventListener('beforeunload', () => (leaving = true), { once: true });
  const store = (globalThis as { cookieStore?: EventTarget }).cookieStore;
  store?.addEventListener('change', onCookie);
  channel?.addEventListener('message', onMessage);
  document.addEventListener('visibilitychange', onVisible);
  return () => {
    store?.removeEventListener('change', onCookie);
    channel?.removeEventListener('message', onMessage);
    document.removeEventListener('visibilitychange', onVisible);
    stopPolling();
    if (expiry !== undefined) clearTimeout(expiry);
  };
}

/** Tells the other tabs to look at the hint cookie now (what this tab knows may be news to them). */
function announce(type: 'state' | 'signing-out'): void {
  channel?.postMessage({ type });
}

// ---- the user's sessions

export type SessionInfo = {
  id: string;
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
  device: string; // "Chrome on Windows"
  current: boolean; // this browser's
};

/** The user's sessions on every device, newest first (`GET /auth/sessions`). */
export async function sessions(): Promise<SessionInfo[]> {
  const res = await fetch('/auth/sessions', { headers: CSRF, credentials: 'same-origin', cache: 'no-store' });
  return ((await read(res)) as { sessions: SessionInfo[] }).sessions;
}

/** Ends one of the user's other sessions (`DELETE /auth/sessions/{id}`). */
export async function endSession(id: string): Promise<void> {
  const res = await fetch(`/auth/sessions/${encodeURIComponent(id)}`, { method: 'DELETE', headers: CSRF, credentials: 'same-origin' });
  await read(res);
}

/** Sign out everywhere: every other session ends (`DELETE /auth/sessions`), then this one signs out as `logout`. */
export async function signOutEverywhere(logoutUrl: string): Promise<void> {
  const res = await fetch('/auth/sessions', { method: 'DELETE', headers: CSRF, credentials: 'same-origin' });
  await read(res);
  logout(logoutUrl);
}

/** Start a sign-in; the BFF brings the browser back to `returnUrl` (a local path) afterwards. */
export function login(returnUrl: string = location.pathname + location.search + location.hash): void {
  leaving = true;
  location.assign('/auth/login?returnUrl=' + encodeURIComponent(returnUrl));
}

/** Sign out here and at ERP.net; `logoutUrl` comes from `session()`. */
export function logout(logoutUrl: string): void {
  announce('signing-out');
  leaving = true;
  location.assign(logoutUrl);
}

/**
 * Call the ERP.net API through the BFF. `path` is relative to `/api/` (e.g. `domain/odata/Crm_Sales_Customers`)
 * or a same-origin path already starting with `/api/` (e.g. an `@odata.nextLink`, which the BFF rewrites so).
 * Resolves with the parsed JSON (or text; `undefined` for 204). Throws `BffProblem` on a problem+json answer from
 * the BFF and `ErpError` on an error answered by ERP.net. On `session_expired` / `not_authenticated` it also starts
 * a sign-in that returns to the current page (see `signInOnExpiry`).
 */
export async function api<T = unknown>(path: string, init: ApiInit = {}): Promise<T> {
  const { json, signInOnExpiry = true, ...rest } = init;
  const headers = new Headers(rest.headers);
  headers.set('X-CSRF', '1');
  if (!headers.has('Accept')) headers.set('Accept', 'application/json');
  let body = rest.body;
  if (json !== undefined) {
    headers.set('Content-Type', 'application/json');
    body = JSON.stringify(json);
  }
  if (body !== undefined && body !== null) body = await withBodyHash(body, headers);
  const res = await fetch(apiUrl(path), { ...rest, body, headers, credentials: 'same-origin', cache: 'no-store' });
  try {
    const value = (await read(res)) as T;
    sessionStorage.removeItem(AUTO_SIGN_IN_KEY);
    return value;
  } catch (e) {
    if (e instanceof BffProblem && e.needsSignIn && signInOnExpiry && mayAutoSignIn()) {
      sessionStorage.setItem(AUTO_SIGN_IN_KEY, String(Date.now()));
      login();
    }
    throw e;
  }
}

/**
 * The front door signs `/api/*` requests for the BFF (CloudFront origin access control in front of a Lambda
 * function URL), and it cannot hash a body itself: every request with a body carries the body's SHA-256 (hex) in
 * `x-amz-content-sha256`, else AWS refuses it. The body is read once into bytes, hashed, and those same bytes are
 * sent (a `FormData` body keeps the boundary it was serialised with).
 */
async function withBodyHash(body: BodyInit, headers: Headers): Promise<ArrayBuffer> {
  const serialised = new Response(body);
  const type = serialised.headers.get('Content-Type');
  if (type && !headers.has('Content-Type')) headers.set('Content-Type', type);
  const bytes = await serialised.arrayBuffer();
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  headers.set('x-amz-content-sha256', Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join(''));
  return bytes;
}

function mayAutoSignIn(): boolean {
  const last = Number(sessionStorage.getItem(AUTO_SIGN_IN_KEY) ?? 0);
  return !(Date.now() - last < AUTO_SIGN_IN_GUARD_MS);
}

function apiUrl(path: string): string {
  if (!path.startsWith('/')) return '/api/' + path;
  const url = new URL(path, location.origin);
  if (url.origin !== location.origin || !url.pathname.startsWith('/api/')) {
    throw new Error(`refusing to call ${path}: not a same-origin /api/ path`);
  }
  return url.pathname + url.search;
}

async function read(res: Response): Promise<unknown> {
  const type = (res.headers.get('Content-Type') ?? '').toLowerCase();
  if (!res.ok) {
    if (type.startsWith('application/problem+json')) {
      const p = (await res.json()) as { status?: number; code?: string; title?: string; detail?: string };
      throw new BffProblem({
        status: p.status ?? res.status,
        code: p.code ?? 'unknown',
        title: p.title ?? res.statusText,
        detail: p.detail,
      });
    }
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    const err = (parsed as { error?: { code?: unknown; message?: unknown } } | null)?.error;
    const message = typeof err?.message === 'string' && err.message ? err.message : `HTTP ${res.status}`;
    throw new ErpError(res.status, message, typeof err?.code === 'string' ? err.code : undefined, parsed);
  }
  if (res.status === 204 || res.headers.get('Content-Length') === '0') return undefined;
  return type.includes('json') ? res.json() : res.text();
}
