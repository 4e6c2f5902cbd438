// A tiny client for the BFF — copy it into your own SPA.
// The browser never sees a token: it holds only the BFF's HttpOnly session cookie, which a same-origin fetch sends.
// Every non-navigation call carries `X-CSRF: 1` (the BFF refuses XHR/fetch calls without it).

export type User = { name?: string; email?: string; [claim: string]: unknown };

export type Session =
  | { authenticated: false }
  | {
      authenticated: true;
      user: User;
      accessTokenExpiresAt: string; // RFC 3339
      sessionExpiresAt: string; // RFC 3339
      logoutUrl: string; // /auth/logout?sid=… — navigate to it to sign out
    };

/** An RFC 9457 problem answered by the BFF, e.g. `{status: 401, code: "session_expired", title: "…"}`. */
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
}

const CSRF = { 'X-CSRF': '1' } as const;

/** Who is signed in. Anonymous → `{authenticated: false}`. */
export async function session(): Promise<Session> {
  const res = await fetch('/auth/session', { headers: CSRF, credentials: 'same-origin', cache: 'no-store' });
  return (await read(res)) as Session;
}

/** Start a sign-in; the BFF brings the browser back to `returnUrl` (a local path) afterwards. */
export function login(returnUrl: string = location.pathname + location.search): void {
  location.assign('/auth/login?returnUrl=' + encodeURIComponent(returnUrl));
}

/** Sign out here and at ERP.net; `logoutUrl` comes from `session()`. */
export function logout(logoutUrl: string): void {
  location.assign(logoutUrl);
}

/**
 * Call the ERP.net API through the BFF. `path` is relative to `/api/` (e.g. `domain/odata/Crm_Sales_Customers`)
 * or a same-origin path already starting with `/api/` (e.g. an `@odata.nextLink` rewritten by the BFF).
 * Throws `BffProblem` on a problem+json error; on `session_expired` / `not_authenticated` it also starts a
 * sign-in that returns to the current page.
 */
export async function api<T = unknown>(path: string, init: RequestInit = {}): Promise<T> {
  const headers = new Headers(init.headers);
  headers.set('X-CSRF', '1');
  if (!headers.has('Accept')) headers.set('Accept', 'application/json');
  const res = await fetch(apiUrl(path), { ...init, headers, credentials: 'same-origin' });
  try {
    return (await read(res)) as T;
  } catch (e) {
    if (e instanceof BffProblem && (e.code === 'session_expired' || e.code === 'not_authenticated')) login();
    throw e;
  }
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
  const type = res.headers.get('Content-Type') ?? '';
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
    throw new Error(`HTTP ${res.status} ${res.statusText}`.trim());
  }
  if (res.status === 204) return undefined;
  return type.includes('json') ? res.json() : res.text();
}
