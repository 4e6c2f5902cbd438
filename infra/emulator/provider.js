// oidc-provider configured like ERP.net's identity server (IdentityServer under {root}/id).
import {
  createHash, createPrivateKey, generateKeyPairSync, randomBytes,
} from 'node:crypto';
import { AsyncLocalStorage } from 'node:async_hooks';
import { request } from 'node:http';

import Provider, { errors, interactionPolicy } from 'oidc-provider';
// oidc-provider's own key registration (internal module, pinned 9.13.3): re-run on `rotateKeys` to
// swap the provider's keystore and JWKS live. It validates the keys exactly as at start-up.
import initializeKeystore from 'oidc-provider/lib/helpers/initialize_keystore.js';
import {
  SignJWT, createLocalJWKSet, decodeJwt, decodeProtectedHeader, importJWK,
} from 'jose';

import MemoryAdapter, {
  revokeGrant, sessionsByAccount, sessionsBySid, destroySession,
} from './adapter.js';
import { accountIdOf, subjectOf, userById } from './data.js';
import { registerKeys, savedState } from './persist.js';
import {
  config, control, stats, countTokenError, markDirty, recordBasicSecret, recordSecret,
} from './state.js';

export const MOUNT = '/id';
export const RESOURCE = 'urn:erpnet:domainapi'; // resource indicator (must be a URI)
export const AUDIENCE = 'DomainAPI'; // `aud` of access tokens, as in ERP.net

// The key pair comes out DER-encoded and is re-imported before the JWK export. Exporting the KeyObject that
// generateKeyPairSync returns deadlocked Node 20 about once in 40 starts: the export holds the key's mutex, a GC
// inside it runs the finished key-generation job's destructor, and that takes the same mutex (main thread stuck in
// ~KeyGenJob under ExportJWKRsaKey, seen with gdb). A re-imported key has a mutex of its own.
// An outgoing request as ERP.net sends it to `https://<instance host>/…`: with EMULATOR_BACKCHANNEL_LOGOUT_HOST, that
// host is the request's `Host` (what CloudFront, or the local front door, turns into `X-Forwarded-Host`), while the
// connection goes to the URL's loopback address (*.localhost does not resolve here). `fetch` cannot set `Host`.
// The host of the delivery under way (an emulator playing several instances sends each its own logout token).
const deliveryHost = new AsyncLocalStorage();
function postAs(url, options) {
  const u = new URL(url);
  const body = options.body == null ? '' : String(options.body);
  const headers = Object.fromEntries(new Headers(options.headers));
  const host = deliveryHost.getStore();
  if (host) headers.host = host;
  headers['content-length'] = String(Buffer.byteLength(body));
  return new Promise((resolve, reject) => {
    const req = request({
      hostname: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, method: options.method || 'GET', headers,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve(new Response(Buffer.concat(chunks), { status: res.statusCode })));
      res.on('error', reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error('back-channel logout request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

function rsaJwk(kid) {
  const { privateKey: der } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'der' },
    privateKeyEncoding: { type: 'pkcs8', format: 'der' },
  });
  const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  return { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
}

const publicOf = ({ kty, n, e, kid, alg, use }) => ({ kty, n, e, kid, alg, use });

// The provider's signing key: fresh per process (a restart invalidates every token, as a restart
// of the in-memory provider does), unless EMULATOR_STATE_FILE brings back the previous one.
// `rotateKeys` (POST /__emulator/control) adds a new one in front; the older ones stay in the
// JWKS so tokens signed before still verify. signingJwks[0] signs.
const savedKeys = savedState?.keys;
let signingJwks = [savedKeys?.signing || rsaJwk(randomBytes(8).toString('hex')), ...(savedKeys?.previous || [])];
// A foreign key for the `foreign-key` ID-token fault (not in the JWKS; the tampered token keeps the
// real kid, so only the signature betrays it).
const foreignJwk = savedKeys?.foreign || rsaJwk(signingJwks[0].kid);
// Cookie signing keys (kept with the state file too, so the browser's emulator session survives).
const cookieKeys = savedKeys?.cookies || [randomBytes(32).toString('base64url')];
const persistedKeys = {
  signing: signingJwks[0], previous: signingJwks.slice(1), foreign: foreignJwk, cookies: cookieKeys,
};
registerKeys(persistedKeys);

const keyByKid = new Map(); // kid -> imported private key (re-signing in the hooks below)
let foreignKey;
let theProvider;

// Public keys for the emulator's own verification (Domain API, userinfo): the same set as the JWKS.
let localJwks = createLocalJWKSet({ keys: signingJwks.map(publicOf) });
export const verificationKeys = (header, token) => localJwks(header, token);

// Keys taken out of the JWKS by `withdrawKeys` (newest first): no longer published or accepted by the
// Domain API, kept (in memory only) to sign the `withdrawn-key` ID-token fault.
let withdrawnJwks = [];

export function currentKid() {
  return signingJwks[0].kid;
}
export function allKids() {
  return signingJwks.map((k) => k.kid);
}

// The key that signed `jwt` (by its kid), for re-signing it after a change.
function ownKeyFor(jwt) {
  const { kid } = decodeProtectedHeader(jwt);
  const key = keyByKid.get(kid);
  if (!key) throw new Error(`no signing key with kid ${kid}`);
  return key;
}

// `rotateKeys`: a new RSA key with a new kid signs from now on (ID tokens and access tokens);
// the JWKS lists it first, followed by every earlier key.
export async function rotateSigningKey() {
  const jwk = rsaJwk(randomBytes(8).toString('hex'));
  keyByKid.set(jwk.kid, await importJWK(jwk, 'RS256'));
  const previousKid = signingJwks[0].kid;
  signingJwks = [jwk, ...signingJwks];
  initializeKeystore.call(theProvider, { keys: signingJwks });
  localJwks = createLocalJWKSet({ keys: signingJwks.map(publicOf) });
  persistedKeys.signing = jwk;
  persistedKeys.previous = signingJwks.slice(1);
  markDirty();
  return { kid: jwk.kid, previousKid, jwksKids: allKids() };
}

// `withdrawKeys`: every key but the one that signs now leaves the JWKS (a key the identity server
// no longer vouches for, e.g. a compromised one).
export function withdrawOldKeys() {
  const withdrawn = signingJwks.slice(1);
  signingJwks = signingJwks.slice(0, 1);
  withdrawnJwks = [...withdrawn, ...withdrawnJwks];
  initializeKeystore.call(theProvider, { keys: signingJwks });
  localJwks = createLocalJWKSet({ keys: signingJwks.map(publicOf) });
  persistedKeys.previous = [];
  markDirty();
  return { withdrawnKids: withdrawn.map((k) => k.kid), jwksKids: allKids() };
}

// ---- ID-token tampering (fault injection) -----------------------------------------------------

async function tamperIdToken(jwt, fault) {
  const header = decodeProtectedHeader(jwt);
  const payload = decodeJwt(jwt);
  const now = Math.floor(Date.now() / 1000);
  let key = ownKeyFor(jwt);
  switch (fault) {
    case 'wrong-audience':
      payload.aud = 'some.other.app/second';
      break;
    case 'wrong-azp':
      payload.azp = 'some.other.app/second';
      break;
    case 'wrong-nonce':
      payload.nonce = `wrong-${randomBytes(8).toString('hex')}`;
      break;
    case 'expired':
      payload.iat = now - 2 * config.idTokenTtl - 120;
      payload.exp = now - config.idTokenTtl - 60;
      if (payload.auth_time && payload.auth_time > payload.iat) payload.auth_time = payload.iat;
      break;
    case 'wrong-issuer':
      payload.iss = 'http://evil.example/id';
      break;
    case 'foreign-key':
      key = foreignKey;
      break;
    case 'withdrawn-key':
      if (!withdrawnJwks.length) throw new Error('the withdrawn-key fault needs a key withdrawn by withdrawKeys');
      header.kid = withdrawnJwks[0].kid;
      key = keyByKid.get(header.kid);
      break;
    default:
      return jwt;
  }
  return new SignJWT(payload).setProtectedHeader(header).sign(key);
}

async function addAtHash(jwt, accessToken) {
  const header = decodeProtectedHeader(jwt);
  const payload = decodeJwt(jwt);
  const digest = createHash('sha256').update(accessToken).digest();
  payload.at_hash = digest.subarray(0, digest.length / 2).toString('base64url');
  return new SignJWT(payload).setProtectedHeader(header).sign(ownKeyFor(jwt));
}

// ---- accounts -----------------------------------------------------------------------------------

export function userClaims(user) {
  return {
    sub: user.sub, id: user.id, name: user.name, email: user.email, locale: user.locale,
  };
}

// The accountId of sessions, grants and tokens is the user's stable `id` (GUID), not the login: a
// renamed user (POST /__emulator/users/<login>/rename) keeps its sessions and grants, and a new user on
// a freed login (a namesake) never gets them. What carries the login is `sub`: the ID tokens and logout
// tokens get it from subjectOf() (see IdToken.prototype.payload below), the access tokens from the jwt
// customizer, userinfo from server.js, all looked up at issue time (so after a rename: the new login).
async function findAccount(ctx, accountId) {
  const user = userById(accountId);
  if (!user) return undefined;
  return {
    accountId: user.id,
    async claims() {
      return userClaims(user);
    },
  };
}

// oidc-provider's login prompt compares an id_token_hint's `sub` (and a requested `claims.id_token.sub`
// value) with the session's accountId. Here `sub` is the login and the accountId the GUID: compare with
// the session user's current login instead (oidc-provider's own checks otherwise, same reasons and errors).
function subjectChecks(checks) {
  const { Check } = interactionPolicy;
  const replace = (reason, check) => {
    const i = checks.findIndex((c) => c.reason === reason);
    if (i === -1) throw new Error(`oidc-provider login prompt has no ${reason} check`);
    const { description, error, details } = checks[i];
    checks.splice(i, 1, new Check(reason, description, error, check, details));
  };
  replace('id_token_hint', (ctx) => {
    const { oidc } = ctx;
    if (oidc.entities.IdTokenHint === undefined) return Check.NO_NEED_TO_PROMPT;
    if (oidc.session.accountId === undefined) return Check.REQUEST_PROMPT;
    return oidc.entities.IdTokenHint.payload.sub !== subjectOf(oidc.session.accountId);
  });
  replace('claims_id_token_sub_value', (ctx) => {
    const { oidc } = ctx;
    if (!oidc.claims.id_token?.sub || !('value' in oidc.claims.id_token.sub)) return Check.NO_NEED_TO_PROMPT;
    if (oidc.session.accountId === undefined) return Check.REQUEST_PROMPT;
    return oidc.claims.id_token.sub.value !== subjectOf(oidc.session.accountId);
  });
}

// ---- auto-consent for the trusted application -------------------------------------------------

async function loadExistingGrant(ctx) {
  const { oidc } = ctx;
  const { Grant } = oidc.provider;
  const accountId = oidc.account.accountId;
  const clientId = oidc.client.clientId;
  const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(clientId);

  let grant = grantId ? await Grant.find(grantId) : undefined;
  if (grant && (grant.accountId !== accountId || grant.clientId !== clientId)) grant = undefined;
  if (!grant) grant = new Grant({ accountId, clientId });

  // Consent is implied for the trusted app: grant whatever was (validly) requested.
  const oidcScopes = [...oidc.requestParamOIDCScopes];
  if (oidcScopes.length) grant.addOIDCScope(oidcScopes.join(' '));
  const claims = oidc.requestParamClaims ? [...oidc.requestParamClaims] : [];
  if (claims.length) grant.addOIDCClaims(claims);
  for (const [indicator, rs] of Object.entries(oidc.resourceServers || {})) {
    const scopes = [...oidc.requestParamScopes].filter((s) => rs.scopes.has(s));
    if (scopes.length) grant.addResourceScope(indicator, scopes.join(' '));
  }
  await grant.save();
  return grant;
}

// ---- the provider -------------------------------------------------------------------------------

export async function createProvider() {
  for (const jwk of signingJwks) keyByKid.set(jwk.kid, await importJWK(jwk, 'RS256'));
  foreignKey = await importJWK(foreignJwk, 'RS256');

  const policy = interactionPolicy.base();
  // prompt=consent (which the emulator adds itself so offline_access is honoured) must not force a
  // consent screen: IdentityServer does not show one for a trusted app with consent disabled.
  policy.get('consent').checks.remove('consent_prompt');
  subjectChecks(policy.get('login').checks);

  const configuration = {
    adapter: MemoryAdapter,
    jwks: { keys: signingJwks },
    clients: [{
      client_id: config.clientId,
      client_secret: config.clientSecret,
      client_name: 'ERP.net BFF (trusted application)',
      application_type: 'web',
      token_endpoint_auth_method: 'client_secret_post',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code', 'code id_token'],
      redirect_uris: config.redirectUris,
      post_logout_redirect_uris: config.postLogoutUris,
      scope: 'openid profile offline_access',
      ...(config.backchannelLogoutUri ? {
        backchannel_logout_uri: config.backchannelLogoutUri,
        backchannel_logout_session_required: true,
      } : {}),
    }],
    scopes: ['openid', 'profile', 'offline_access'],
    claims: {
      openid: ['sub', 'id'],
      profile: ['name', 'email', 'locale'],
    },
    conformIdTokenClaims: false,
    clockTolerance: 0,
    cookies: {
      // Cookies are per host, not per port: two emulators on 127.0.0.1 (acme :5005, globex :5006) would
      // overwrite each other's login cookies in one browser. Each instance but acme names its own.
      ...(config.instance === 'acme' ? {} : {
        names: {
          session: `_session_${config.instance}`,
          interaction: `_interaction_${config.instance}`,
          resume: `_interaction_resume_${config.instance}`,
        },
      }),
      keys: cookieKeys,
      long: { httpOnly: true, sameSite: 'lax', signed: true },
      short: { httpOnly: true, sameSite: 'lax', signed: true },
    },
    pkce: { required: () => true },
    responseTypes: ['code', 'code id_token'],
    routes: {
      authorization: '/connect/authorize',
      token: '/connect/token',
      end_session: '/connect/endsession',
      revocation: '/connect/revocation',
      userinfo: '/connect/userinfo',
      jwks: '/.well-known/openid-configuration/jwks',
      introspection: '/connect/introspect',
    },
    findAccount,
    loadExistingGrant,
    // Outgoing requests (only back-channel logout tokens, to the BFF on 127.0.0.1): oidc-provider's default refuses
    // loopback addresses (SSRF protection) and gives up after 2.5 s, shorter than a function's first start under
    // cargo lambda. Locally the BFF is on loopback by design, so a plain request with 30 s.
    fetch: (url, { dispatcher, signal, ...options }) => postAs(url, options),

    interactions: {
      policy,
      url: (ctx, interaction) => `${MOUNT}/interaction/${interaction.uid}`,
    },
    features: {
      devInteractions: { enabled: false },
      // not offered by ERP.net's identity server
      pushedAuthorizationRequests: { enabled: false },
      dPoP: { enabled: false },
      revocation: {
        enabled: true,
        allowedPolicy: (ctx, client, token) => {
          if (token.clientId !== client.clientId) {
            throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
          }
          return true;
        },
      },
      userinfo: { enabled: true },
      // OpenID Connect Back-Channel Logout 1.0: sent by POST /__emulator/logout?sub= (see logoutAccount below).
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        // never shown: autoConfirmEndSession() signs out right away (see below)
        logoutSource: (ctx, form) => {
          ctx.body = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Sign out</title></head><body>${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button></body></html>`;
        },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: (ctx, client, oneOf) => (oneOf ? (oneOf.includes(RESOURCE) ? RESOURCE : oneOf[0]) : RESOURCE),
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, resource) => {
          if (resource !== RESOURCE) throw new errors.InvalidTarget();
          return {
            scope: 'read update',
            audience: AUDIENCE,
            accessTokenTTL: config.accessTokenTtl,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    formats: {
      customizers: {
        // ERP.net-like access token claims: scope as an array, user id/name/email, sid.
        async jwt(ctx, token, jwt) {
          const user = userById(token.accountId);
          if (user) {
            Object.assign(jwt.payload, {
              sub: user.sub, // the current login (oidc-provider puts the accountId, the GUID)
              id: user.id, name: user.name, email: user.email, locale: user.locale,
            });
          }
          if (token.sid) jwt.payload.sid = token.sid;
          const scopes = new Set((token.scope || '').split(' ').filter(Boolean));
          const source = ctx?.oidc?.entities?.AuthorizationCode || ctx?.oidc?.entities?.RefreshToken;
          for (const s of (source?.scope || '').split(' ')) if (s) scopes.add(s);
          jwt.payload.scope = [...scopes];
        },
      },
    },
    issueRefreshToken: (ctx, client, code) => client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
    rotateRefreshToken: () => true,
    ttl: {
      AccessToken: () => config.accessTokenTtl,
      IdToken: () => config.idTokenTtl,
      AuthorizationCode: () => 60,
      Interaction: () => 3600,
      Session: () => Math.max(14 * 24 * 3600, config.refreshTokenTtl),
      Grant: () => config.refreshTokenTtl,
      // absolute lifetime, counted from the first sign-in (IdentityServer's absolute expiration)
      RefreshToken: (ctx, token) => {
        const rotated = ctx?.oidc?.entities?.RotatedRefreshToken;
        if (rotated) return Math.max(1, rotated.remainingTTL);
        return config.refreshTokenTtl;
      },
    },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Error</title></head><body>
<h1>ERP.net emulator: error</h1>
${Object.entries(out).map(([k, v]) => `<p><strong>${escapeHtml(k)}</strong>: <span class="${escapeHtml(k)}">${escapeHtml(v)}</span></p>`).join('\n')}
</body></html>`;
    },
  };

  const provider = new Provider(config.issuer, configuration);
  provider.proxy = false;
  theProvider = provider;

  // GET /__emulator/secrets: the code and the hybrid id_token of every authorization response
  // (emitted with the final values, just before the response mode sends them).
  provider.on('authorization.success', (ctx, out) => {
    recordSecret('codes', out?.code);
    recordSecret('idTokens', out?.id_token);
    recordSecret('accessTokens', out?.access_token);
  });

  // The client is registered with http://localhost redirect URIs; oidc-provider refuses those for
  // clients allowed an `id_token` response type (implicit/hybrid) unless told otherwise.
  const { invalidate: origInvalidate } = provider.Client.Schema.prototype;
  provider.Client.Schema.prototype.invalidate = function invalidate(message, code) {
    if (code === 'implicit-force-https' || code === 'implicit-forbid-localhost') return;
    origInvalidate.call(this, message, code);
  };

  // ERP.net puts `sid` (the ERP session id) into every ID token and access token; oidc-provider
  // only does so for clients registered for back-channel logout.
  provider.Client.prototype.includeSid = () => true;

  // `sub` of ID tokens and logout tokens: oidc-provider puts the accountId (the user's GUID); ERP.net puts
  // the login, as it is when the token is issued.
  const origPayload = provider.IdToken.prototype.payload;
  provider.IdToken.prototype.payload = async function payload() {
    const out = await origPayload.call(this);
    if (out.sub !== undefined) out.sub = subjectOf(out.sub);
    return out;
  };

  // Fault injection: tamper with issued ID tokens (token endpoint and hybrid authorization response).
  // (Token-endpoint ID tokens are tampered with after at_hash is added, see below.)
  const origIssue = provider.IdToken.prototype.issue;
  provider.IdToken.prototype.issue = async function issue(opts) {
    // ERP.net's hybrid ID tokens carry s_hash; oidc-provider adds it only in FAPI 1.0 mode.
    const state = this.ctx?.oidc?.params?.state;
    if (opts?.use === 'idtoken' && this.extra.c_hash && state && !this.extra.s_hash) this.set('s_hash', state);
    const jwt = await origIssue.call(this, opts);
    if (opts?.use === 'idtoken' && control.idToken && this.ctx?.oidc?.route !== 'token') {
      return tamperIdToken(jwt, control.idToken);
    }
    return jwt;
  };

  provider.use(async (ctx, next) => {
    const path = ctx.path;
    if (path === '/connect/authorize') stats.authorize += 1;
    else if (path === '/connect/revocation') stats.revocation += 1;
    else if (path === '/connect/userinfo') stats.userinfo += 1;
    else if (path === '/.well-known/openid-configuration/jwks') stats.jwks += 1;
    else if (path === '/connect/endsession' || path === '/connect/endsession/confirm') stats.endSession += 1;

    await next();

    if ((path === '/connect/token' || path === '/connect/revocation') && ctx.status === 401 && ctx.body?.error === 'invalid_client') {
      // IdentityServer answers a bad client id/secret with HTTP 400, not 401.
      ctx.status = 400;
      ctx.remove('WWW-Authenticate');
    }
    if (path === '/connect/token' && ctx.status >= 400 && ctx.body && typeof ctx.body === 'object' && ctx.body.error) {
      countTokenError(ctx.body.error);
    }

    // Token-endpoint ID tokens carry at_hash in ERP.net (IdentityServer); oidc-provider only adds
    // it to implicit-flow ID tokens. Add it (re-signing with the provider key), then apply faults.
    if (path === '/connect/token' && ctx.status === 200 && ctx.body?.id_token && ctx.body.access_token) {
      ctx.body.id_token = await addAtHash(ctx.body.id_token, ctx.body.access_token);
      if (control.idToken) ctx.body.id_token = await tamperIdToken(ctx.body.id_token, control.idToken);
    }

    // `tokenType`: a successful token response of another type (e.g. "mac"), for clients that must refuse it.
    if (path === '/connect/token' && ctx.status === 200 && ctx.body && typeof ctx.body === 'object' && control.tokenType) {
      ctx.body.token_type = control.tokenType;
    }

    // GET /__emulator/secrets: everything the token endpoint hands out (the request side is
    // recorded in server.js), and what the revocation endpoint receives.
    if (path === '/connect/token' && ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
      recordSecret('accessTokens', ctx.body.access_token);
      recordSecret('refreshTokens', ctx.body.refresh_token);
      recordSecret('idTokens', ctx.body.id_token);
    }
    if (path === '/connect/revocation') {
      const token = ctx.oidc?.body?.token;
      if (typeof token === 'string') recordSecret(token.split('.').length === 3 ? 'accessTokens' : 'refreshTokens', token);
      recordSecret('clientSecrets', ctx.oidc?.body?.client_secret);
      recordBasicSecret(ctx.get('authorization'));
    }

    if (path === '/.well-known/openid-configuration' && ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
      ctx.body.scopes_supported = [...new Set([...(ctx.body.scopes_supported || []), 'read', 'update'])];
    }

    // End session without a confirmation page (IdentityServer behaviour with a valid id_token_hint):
    // oidc-provider has rendered its "do you want to sign out" form; sign out right away instead.
    if (path === '/connect/endsession' && ctx.status === 200 && ctx.oidc?.session) {
      await autoConfirmEndSession(ctx);
    }
  });

  // Validate the static client now rather than at the first request.
  const client = await provider.Client.find(config.clientId);
  if (!client) throw new Error('client registration failed');

  return provider;
}

// POST /__emulator/logout?sub=<login>: ERP.net ends every session of the user (the user who has that login now) (as an administrator or a password
// change would): each session's grants are revoked, the session destroyed, and every client registered for
// back-channel logout gets a logout token (sub + sid) per session, awaited. Returns what was done.
// With `send = false` the logout tokens are returned instead of sent (tests deliver them, replay or tamper with them).
export async function logoutAccount(login, { send = true, sid = null } = {}) {
  const accountId = accountIdOf(login);
  // With `sid`: only that ERP.net session of the user (as when one of its browsers signs out at ERP.net).
  const sessions = sessionsByAccount(accountId)
    .filter(({ payload }) => !sid || Object.values(payload.authorizations || {}).some((a) => a?.sid === sid));
  const deliveries = [];
  const logoutTokens = [];
  for (const { id, payload } of sessions) {
    for (const [clientId, auth] of Object.entries(payload.authorizations || {})) {
      const client = await theProvider.Client.find(clientId);
      if (client?.backchannelLogoutUri && !send) {
        // As oidc-provider's Client#backchannelLogout builds it (lib/models/client.js), without the POST.
        const token = new theProvider.IdToken({ sub: accountId }, { client, ctx: undefined });
        token.mask = { sub: null };
        token.set('events', { 'http://schemas.openid.net/event/backchannel-logout': {} });
        token.set('jti', randomBytes(16).toString('base64url'));
        token.set('sid', auth.sid);
        logoutTokens.push(await token.issue({ use: 'logout' }));
      } else if (client?.backchannelLogoutUri) {
        // One logout token per host this emulator plays (each with its own jti), or one without a Host override.
        const hosts = config.backchannelLogoutHosts.length ? config.backchannelLogoutHosts : [undefined];
        for (const host of hosts) {
          stats.backchannelLogout.sent += 1;
          deliveries.push(deliveryHost.run(host, () => client.backchannelLogout(accountId, auth.sid)).then(
            () => { stats.backchannelLogout.ok += 1; return { sid: auth.sid, host, ok: true }; },
            (err) => { stats.backchannelLogout.failed += 1; return { sid: auth.sid, host, ok: false, error: String(err.message || err) }; },
          ));
        }
      }
      if (auth?.grantId) revokeGrant(auth.grantId);
    }
    destroySession(id);
  }
  const backchannel = await Promise.all(deliveries);
  return { sub: login, sessions: sessions.length, backchannel, logoutTokens };
}

async function autoConfirmEndSession(ctx) {
  const { session } = ctx.oidc;
  const state = { ...(session.state || {}) };
  const grantIds = new Set();
  for (const auth of Object.values(session.authorizations || {})) {
    if (auth?.grantId) grantIds.add(auth.grantId);
  }

  // Also end the ERP session named by the id_token_hint's sid, even when the browser's session
  // cookie did not come along (e.g. a client that drives the logout without the login cookies).
  const hint = ctx.oidc.entities.IdTokenHint;
  const sid = hint?.payload?.sid;
  const clientId = hint?.payload?.aud;
  if (sid && typeof clientId === 'string') {
    for (const other of sessionsBySid(clientId, sid)) {
      for (const auth of Object.values(other.payload.authorizations || {})) {
        if (auth?.grantId) grantIds.add(auth.grantId);
      }
      if (other.id !== session.id) destroySession(other.id);
    }
  }

  for (const grantId of grantIds) revokeGrant(grantId);
  await session.destroy();
  const sessionCookie = ctx.oidc.provider.cookieName('session');
  ctx.cookies.set(sessionCookie, null, {
    httpOnly: true, sameSite: 'lax', signed: true, overwrite: true,
  });

  let target;
  if (state.postLogoutRedirectUri) {
    const url = new URL(state.postLogoutRedirectUri);
    if (state.state != null) url.searchParams.set('state', state.state);
    target = url.href;
  } else {
    target = ctx.oidc.urlFor('end_session_success', {});
  }
  ctx.oidc.provider.emit('end_session.success', ctx);
  ctx.status = 302;
  ctx.redirect(target);
}

export function escapeHtml(v) {
  return String(v).replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  }[c]));
}
