// A tiny ERP.net Domain API (OData v4) under /api/domain/odata/.
import { randomUUID } from 'node:crypto';

import { jwtVerify } from 'jose';

import {
  DATA, ENTITY_SETS, PICTURES, PICTURE_BYTES,
} from './data.js';
import { BatchError, runBatch } from './batch.js';
import { FilterError, parseFilter } from './odata-filter.js';
import { AUDIENCE, verificationKeys } from './provider.js';
import {
  config, control, markDirty, stats, recordRequest, takeFault,
} from './state.js';

const API_ROOT = '/api/domain/odata/';
const ODATA_JSON = 'application/json;odata.metadata=minimal;odata.streaming=true;charset=utf-8';
const MAX_BODY = 10 * 1024 * 1024;
const GUID = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';
const ENTITY_RE = new RegExp(`^([A-Za-z_]+)\\((?:guid)?'?(${GUID})'?\\)(?:/([A-Za-z_$]+))?$`);

const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

class ApiError extends Error {
  constructor(status, code, message, extraHeaders) {
    super(message);
    this.status = status;
    this.code = code;
    this.headers = extraHeaders || {};
  }
}

function send(res, status, body, headers = {}) {
  const payload = body === undefined ? undefined
    : Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  res.writeHead(status, {
    'OData-Version': '4.0',
    ...(payload ? { 'Content-Type': ODATA_JSON, 'Content-Length': payload.length } : { 'Content-Length': 0 }),
    ...headers,
  });
  // The `apiPauseMidBodyMs` switch: a 200's body in two halves, the second after the pause (a slow, large answer).
  const pause = control.apiPauseMidBodyMs;
  if (pause && payload && status === 200) {
    const half = Math.floor(payload.length / 2);
    res.write(payload.subarray(0, half));
    setTimeout(() => res.end(payload.subarray(half)), pause);
    return;
  }
  res.end(payload);
}

function errorBody(code, message, user) {
  return { error: { code, message }, ...(user ? { '@emulator.user': user } : {}) };
}

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY) throw new ApiError(413, 'PayloadTooLarge', 'The request body is too large.');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

// Split a raw query string into [rawKey, rawValue, decodedKey, decodedValue] (ASP.NET Core rules:
// '+' is a space, %XX is percent-decoding).
function parseQuery(raw) {
  if (!raw) return [];
  return raw.split('&').filter((p) => p !== '').map((pair) => {
    const eq = pair.indexOf('=');
    const rk = eq === -1 ? pair : pair.slice(0, eq);
    const rv = eq === -1 ? '' : pair.slice(eq + 1);
    const dec = (s) => {
      try {
        return decodeURIComponent(s.replace(/\+/g, ' '));
      } catch {
        throw new ApiError(400, 'BadRequest', `The query string is not properly percent-encoded: ${s}`);
      }
    };
    return { rawPair: pair, rawKey: rk, key: dec(rk), value: dec(rv) };
  });
}

async function authenticate(req) {
  const auth = req.headers.authorization;
  const challenge = (desc) => ({ 'WWW-Authenticate': `Bearer error="invalid_token", error_description="${desc}"` });
  if (!auth) {
    throw new ApiError(401, 'Unauthorized', 'No access token was provided.', { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
  }
  const m = /^Bearer[ ]+([A-Za-z0-9._~+/-]+=*)$/i.exec(auth);
  if (!m) throw new ApiError(401, 'Unauthorized', 'The Authorization header is not a bearer token.', challenge('malformed authorization header'));
  try {
    const { payload } = await jwtVerify(m[1], verificationKeys, {
      issuer: config.issuer,
      audience: AUDIENCE,
      algorithms: ['RS256'],
      typ: 'at+jwt',
      clockTolerance: 0,
      requiredClaims: ['exp', 'sub'],
    });
    return payload;
  } catch (err) {
    const expired = err?.code === 'ERR_JWT_EXPIRED';
    throw new ApiError(401, 'Unauthorized', expired ? 'The access token has expired.' : 'The access token is invalid.',
      challenge(expired ? 'The token expired' : 'The token is invalid'));
  }
}

function scopesOf(payload) {
  const s = payload.scope;
  if (Array.isArray(s)) return new Set(s);
  if (typeof s === 'string') return new Set(s.split(' '));
  return new Set();
}

function entityUrl(setName, id) {
  return `${config.origin}${API_ROOT}${setName}(${id})`;
}

function project(row, select) {
  if (!select) return { ...row };
  const out = {};
  for (const f of select) out[f] = row[f];
  return out;
}

function validateFields(def, body, { creating }) {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ApiError(400, 'BadRequest', 'The request body must be a JSON object.');
  }
  const clean = {};
  for (const [k, v] of Object.entries(body)) {
    if (k.startsWith('@') || k.includes('@')) continue; // annotations
    const type = def.properties[k];
    if (!type) throw new ApiError(400, 'BadRequest', `The property '${k}' does not exist on type '${def.type}'.`);
    if (k === 'Id' && !creating) continue;
    const ok = v === null
      || (type === 'Edm.Boolean' && typeof v === 'boolean')
      || (type === 'Edm.Decimal' && typeof v === 'number')
      || (type === 'Edm.String' && typeof v === 'string')
      || (type === 'Edm.Guid' && typeof v === 'string' && new RegExp(`^${GUID}$`).test(v));
    if (!ok) throw new ApiError(400, 'BadRequest', `Invalid value for property '${k}' of type '${type}'.`);
    clean[k] = type === 'Edm.Guid' && v ? v.toLowerCase() : v;
  }
  return clean;
}

function businessRule(fields) {
  if (typeof fields.Name === 'string' && fields.Name.includes('FAIL')) {
    const e = new ApiError(500, 'BusinessRuleViolation', 'The name must not contain FAIL.');
    e.body = {
      error: {
        code: 'BusinessRuleViolation',
        message: 'The name must not contain FAIL.',
        type: 'Aloe.SystemFrameworks.Domain.BusinessRuleViolationException',
        info: '',
      },
    };
    throw e;
  }
}

function metadataXml() {
  const types = Object.entries(ENTITY_SETS).map(([, def]) => {
    const [ns, ...rest] = def.type.split('.');
    const name = rest.pop();
    return `<Schema Namespace="${[ns, ...rest].join('.')}" xmlns="http://docs.oasis-open.org/odata/ns/edm">
<EntityType Name="${name}"><Key><PropertyRef Name="Id"/></Key>
${Object.entries(def.properties).map(([p, t]) => `<Property Name="${p}" Type="${t}"${p === 'Id' ? ' Nullable="false"' : ''}/>`).join('\n')}
</EntityType></Schema>`;
  }).join('\n');
  const sets = Object.entries(ENTITY_SETS).map(([n, def]) => `<EntitySet Name="${n}" EntityType="${def.type}"/>`).join('\n');
  return `<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices>
${types}
<Schema Namespace="Default" xmlns="http://docs.oasis-open.org/odata/ns/edm"><EntityContainer Name="Container">
${sets}
</EntityContainer></Schema>
</edmx:DataServices></edmx:Edmx>`;
}

// The `apiResponseBytes` padding, as `apiResponsePadding` says: plain `x`s, or `"`s (each `\"` in the JSON, and
// escaped once more inside a Lambda response envelope).
function pad(body) {
  if (!control.apiResponseBytes) return body;
  const len = Buffer.byteLength(JSON.stringify(body));
  const missing = control.apiResponseBytes - len - 30;
  if (missing <= 0) return body;
  body['@emulator.padding'] = control.apiResponsePadding === 'quotes' ? '"'.repeat(Math.floor(missing / 2)) : 'x'.repeat(missing);
  return body;
}

// `apiResponsePadding: 'binary'`: the collection answers with `apiResponseBytes` bytes of application/octet-stream
// instead (every byte value, not UTF-8).
function sendPadded(res, body) {
  if (control.apiResponsePadding !== 'binary' || !control.apiResponseBytes) return send(res, 200, pad(body));
  const bytes = Buffer.alloc(control.apiResponseBytes);
  for (let i = 0; i < bytes.length; i += 1) bytes[i] = (i * 7) & 0xff;
  return send(res, 200, bytes, { 'Content-Type': 'application/octet-stream' });
}

function listCollection(setName, def, query, user, res) {
  let rows = DATA[setName];
  let top;
  let skip = 0;
  let select;
  let count = false;
  let orderby;
  for (const { key, value } of query) {
    switch (key) {
      case '$filter': {
        let pred;
        try {
          pred = parseFilter(value, def.properties);
        } catch (err) {
          if (err instanceof FilterError) throw new ApiError(400, 'BadRequest', `The $filter is invalid: ${err.message}`);
          throw err;
        }
        rows = rows.filter(pred);
        break;
      }
      case '$top':
        if (!/^\d+$/.test(value)) throw new ApiError(400, 'BadRequest', 'Invalid value for $top.');
        top = Number(value);
        break;
      case '$skip':
        if (!/^\d+$/.test(value)) throw new ApiError(400, 'BadRequest', 'Invalid value for $skip.');
        skip = Number(value);
        break;
      case '$select':
        select = value.split(',').map((s) => s.trim()).filter(Boolean);
        for (const f of select) if (!(f in def.properties)) throw new ApiError(400, 'BadRequest', `Unknown property '${f}' in $select.`);
        break;
      case '$count':
        if (value !== 'true' && value !== 'false') throw new ApiError(400, 'BadRequest', 'Invalid value for $count.');
        count = value === 'true';
        break;
      case '$orderby':
        orderby = value.split(',').map((s) => {
          const [field, dir = 'asc'] = s.trim().split(/\s+/);
          if (!(field in def.properties) || !['asc', 'desc'].includes(dir)) throw new ApiError(400, 'BadRequest', 'Invalid $orderby.');
          return [field, dir === 'desc' ? -1 : 1];
        });
        break;
      default:
        break; // other options ($expand, $search, options=...) are accepted and ignored
    }
  }
  if (orderby) {
    rows = [...rows].sort((a, b) => {
      for (const [f, d] of orderby) {
        if (a[f] < b[f]) return -d;
        if (a[f] > b[f]) return d;
      }
      return 0;
    });
  }
  const total = rows.length;
  const page = top === undefined ? rows.slice(skip) : rows.slice(skip, skip + top);
  const body = {
    '@odata.context': `${config.origin}${API_ROOT}$metadata#${setName}${select ? `(${select.join(',')})` : ''}`,
    '@emulator.user': user,
  };
  if (count) body['@odata.count'] = total;
  body.value = page.map((r) => project(r, select));
  if (top !== undefined && skip + top < total) {
    const kept = query.filter((q) => q.key !== '$skip').map((q) => q.rawPair);
    kept.push(`$skip=${skip + top}`);
    body['@odata.nextLink'] = `${config.origin}${API_ROOT}${setName}?${kept.join('&')}`;
  }
  sendPadded(res, body);
}

function entityBody(setName, row, user, select) {
  return {
    '@odata.context': `${config.origin}${API_ROOT}$metadata#${setName}${select ? `(${select.join(',')})` : ''}/$entity`,
    '@emulator.user': user,
    ...project(row, select),
  };
}

function wantsRepresentation(req) {
  return /return=representation/i.test(req.headers.prefer || '');
}

async function handle(req, res, rawPath, rawQuery, bodyBuf, user, scopes) {
  const method = req.method;
  let path;
  try {
    path = decodeURIComponent(rawPath.slice(API_ROOT.length));
  } catch {
    throw new ApiError(400, 'BadRequest', 'The path is not properly percent-encoded.');
  }
  const isWrite = method !== 'GET' && method !== 'HEAD';
  if (isWrite ? !scopes.has('update') : !(scopes.has('read') || scopes.has('update'))) {
    throw new ApiError(403, 'Forbidden', `The access token lacks the '${isWrite ? 'update' : 'read'}' scope.`);
  }
  const query = parseQuery(rawQuery);
  const select = query.find((q) => q.key === '$select')?.value.split(',').map((s) => s.trim()).filter(Boolean);

  if (path === '' || path === '/') {
    if (method !== 'GET') throw new ApiError(405, 'MethodNotAllowed', 'Method not allowed.');
    send(res, 200, {
      '@odata.context': `${config.origin}${API_ROOT}$metadata`,
      '@emulator.user': user,
      value: Object.keys(ENTITY_SETS).map((n) => ({ name: n, kind: 'EntitySet', url: n })),
    });
    return;
  }
  if (path === '$metadata') {
    if (method !== 'GET') throw new ApiError(405, 'MethodNotAllowed', 'Method not allowed.');
    const xml = Buffer.from(metadataXml());
    res.writeHead(200, { 'Content-Type': 'application/xml', 'OData-Version': '4.0', 'Content-Length': xml.length });
    res.end(xml);
    return;
  }

  if (path in ENTITY_SETS) {
    const def = ENTITY_SETS[path];
    if (method === 'GET') {
      listCollection(path, def, query, user, res);
      return;
    }
    if (method === 'POST') {
      let json;
      try {
        json = JSON.parse(bodyBuf.toString('utf8') || 'null');
      } catch {
        throw new ApiError(400, 'BadRequest', 'The request body is not valid JSON.');
      }
      const fields = validateFields(def, json, { creating: true });
      businessRule(fields);
      const id = fields.Id || randomUUID();
      if (DATA[path].some((r) => r.Id === id)) throw new ApiError(409, 'Conflict', 'An entity with this Id already exists.');
      const row = {};
      for (const p of Object.keys(def.properties)) row[p] = null;
      const seq = DATA[path].length + 1;
      Object.assign(row, {
        [def.numberField]: `${def.numberPrefix}${String(seq).padStart(4, '0')}`,
        Active: true,
      }, fields, { Id: id });
      DATA[path].push(row);
      const location = entityUrl(path, id);
      if (/return=minimal/i.test(req.headers.prefer || '')) {
        send(res, 204, undefined, { Location: location, 'Preference-Applied': 'return=minimal' });
      } else {
        send(res, 201, entityBody(path, row, user), { Location: location });
      }
      return;
    }
    throw new ApiError(405, 'MethodNotAllowed', `The method ${method} is not allowed on an entity set.`);
  }

  const m = ENTITY_RE.exec(path);
  if (m && m[1] in ENTITY_SETS) {
    const [, setName, rawId, prop] = m;
    const def = ENTITY_SETS[setName];
    const id = rawId.toLowerCase();
    const idx = DATA[setName].findIndex((r) => r.Id === id);
    if (idx === -1) throw new ApiError(404, 'NotFound', `The entity ${setName}(${rawId}) does not exist.`);
    const row = DATA[setName][idx];

    if (prop) {
      if (setName === 'General_Products_Products' && prop === 'Picture') {
        if (method === 'GET') {
          const pic = PICTURES.get(id) || { contentType: 'image/png', bytes: PICTURE_BYTES };
          res.writeHead(200, { 'Content-Type': pic.contentType, 'OData-Version': '4.0', 'Content-Length': pic.bytes.length });
          res.end(pic.bytes);
          return;
        }
        if (method === 'PUT') {
          // the raw body, whatever it is, with its Content-Type (binary round trips)
          PICTURES.set(id, { contentType: req.headers['content-type'] || 'application/octet-stream', bytes: bodyBuf });
          send(res, 204);
          return;
        }
        throw new ApiError(405, 'MethodNotAllowed', `The method ${method} is not allowed on ${setName}(${id})/Picture.`);
      }
      if (prop in def.properties && method === 'GET') {
        send(res, 200, {
          '@odata.context': `${config.origin}${API_ROOT}$metadata#${setName}(${id})/${prop}`,
          '@emulator.user': user,
          value: row[prop],
        });
        return;
      }
      throw new ApiError(404, 'NotFound', `The segment '${prop}' was not found.`);
    }

    switch (method) {
      case 'GET':
        send(res, 200, entityBody(setName, row, user, select));
        return;
      case 'PATCH':
      case 'PUT': {
        let json;
        try {
          json = JSON.parse(bodyBuf.toString('utf8') || 'null');
        } catch {
          throw new ApiError(400, 'BadRequest', 'The request body is not valid JSON.');
        }
        const fields = validateFields(def, json, { creating: false });
        businessRule(fields);
        if (method === 'PUT') {
          for (const p of Object.keys(def.properties)) if (p !== 'Id' && !(p in fields)) row[p] = null;
        }
        Object.assign(row, fields);
        if (wantsRepresentation(req)) {
          send(res, 200, entityBody(setName, row, user), { 'Preference-Applied': 'return=representation' });
        } else {
          send(res, 204);
        }
        return;
      }
      case 'DELETE':
        DATA[setName].splice(idx, 1);
        PICTURES.delete(id);
        send(res, 204);
        return;
      default:
        throw new ApiError(405, 'MethodNotAllowed', `The method ${method} is not allowed on an entity.`);
    }
  }

  throw new ApiError(404, 'NotFound', `No resource was found at '${rawPath}'.`);
}

// The `apiCloseMidBody` fault: a 200 with the headers (Content-Length of the whole body) and half of
// the body, then the connection is destroyed.
function closeMidBody(res) {
  const body = Buffer.from(JSON.stringify({
    '@odata.context': `${config.origin}${API_ROOT}$metadata#Crm_Sales_Customers`,
    value: DATA.Crm_Sales_Customers.slice(0, 5),
  }));
  res.writeHead(200, { 'OData-Version': '4.0', 'Content-Type': ODATA_JSON, 'Content-Length': body.length });
  res.write(body.subarray(0, Math.floor(body.length / 2)), () => {
    setTimeout(() => res.destroy(), 20);
  });
}

// The header switches `apiSetCookie` and `apiExtraHeaders` (as set when the request arrived): added
// to whatever this response sends (errors, faults and redirects too), replacing the emulator's own
// header of the same name.
function addSwitchedHeaders(res) {
  const extra = [];
  if (control.apiSetCookie) extra.push(['Set-Cookie', control.apiSetCookie]);
  for (const [name, value] of Object.entries(control.apiExtraHeaders || {})) {
    const same = extra.find(([n]) => n.toLowerCase() === name.toLowerCase());
    if (same && name.toLowerCase() === 'set-cookie') same[1] = [same[1], value].flat();
    else extra.push([name, value]);
  }
  if (!extra.length) return;
  const { writeHead } = res;
  res.writeHead = function writeHeadWithSwitchedHeaders(status, ...rest) {
    const given = rest.length && typeof rest[rest.length - 1] === 'object' ? rest.pop() : {};
    const names = new Set(extra.map(([n]) => n.toLowerCase()));
    const headers = Object.fromEntries(Object.entries(given).filter(([n]) => !names.has(n.toLowerCase())));
    for (const [name, value] of extra) headers[name] = value;
    return writeHead.call(this, status, ...rest, headers);
  };
}

// A response object that keeps what `handle` writes: { status, headers, body } in `result`.
function captureResponse() {
  const res = { headersSent: false, result: null };
  res.writeHead = (status, headers) => {
    res.headersSent = true;
    res.result = { status, headers: headers || {}, body: Buffer.alloc(0) };
  };
  res.end = (payload) => {
    if (payload) res.result.body = Buffer.from(payload);
  };
  return res;
}

// One inner request of a $batch ({ method, url, headers, body }), through the same handling as a plain
// request, as the batch's user: { status, headers, body }. The URL is relative to the service root,
// absolute-path, or absolute on this origin; anything else is a 404.
async function runInner(inner, user, scopes) {
  let rawUrl = inner.url;
  if (/^[a-z][a-z0-9+.-]*:/i.test(rawUrl)) {
    rawUrl = rawUrl.startsWith(`${config.origin}/`) ? rawUrl.slice(config.origin.length) : null;
  } else if (!rawUrl.startsWith('/')) {
    rawUrl = API_ROOT + rawUrl;
  }
  const res = captureResponse();
  try {
    const q = rawUrl === null ? -1 : rawUrl.indexOf('?');
    const rawPath = q === -1 ? rawUrl : rawUrl.slice(0, q);
    if (rawPath === null || !rawPath.startsWith(API_ROOT) || rawPath === `${API_ROOT}$batch`) {
      throw new ApiError(404, 'NotFound', `No resource was found at '${inner.url}'.`);
    }
    if (inner.method !== 'GET' && inner.method !== 'HEAD') markDirty();
    const fakeReq = { method: inner.method, headers: inner.headers };
    await handle(fakeReq, res, rawPath, q === -1 ? '' : rawUrl.slice(q + 1), inner.body, user, scopes);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    send(res, err.status, err.body ? err.body : errorBody(err.code, err.message, user), err.headers);
  }
  return res.result;
}

// POST $batch (batch.js): each inner request through runInner, answered in the batch's format. The request log's
// entry lists the inner requests that ran (`batch`: [{ method, url }], in order), as read by batch.js.
async function handleBatch(req, res, bodyBuf, user, scopes, entry) {
  let out;
  entry.batch = [];
  const run = (inner) => {
    entry.batch.push({ method: inner.method, url: inner.url });
    return runInner(inner, user, scopes);
  };
  try {
    out = await runBatch(req.headers['content-type'], bodyBuf, run);
  } catch (err) {
    if (err instanceof BatchError) throw new ApiError(400, 'BadRequest', err.message);
    throw err;
  }
  res.writeHead(out.status, { 'OData-Version': '4.0', 'Content-Length': out.body.length, ...out.headers });
  res.end(out.body);
}

// [name, value] pairs from req.rawHeaders (names as sent, in order, repeats kept).
function pairs(raw) {
  const out = [];
  for (let i = 0; i < raw.length; i += 2) out.push([raw[i], raw[i + 1]]);
  return out;
}

// Entry point for every request whose path starts with /api.
export async function handleApi(req, res) {
  stats.api += 1;
  addSwitchedHeaders(res);
  const rawUrl = req.url;
  const qIdx = rawUrl.indexOf('?');
  const rawPath = qIdx === -1 ? rawUrl : rawUrl.slice(0, qIdx);
  const rawQuery = qIdx === -1 ? '' : rawUrl.slice(qIdx + 1);

  let bodyBuf = Buffer.alloc(0);
  let user;
  let entry;
  try {
    try {
      bodyBuf = await readBody(req);
    } finally {
      entry = {
        at: new Date().toISOString(),
        method: req.method,
        rawUrl,
        headers: { ...req.headers },
        rawHeaders: pairs(req.rawHeaders),
        body: bodyBuf.toString('base64'),
      };
      recordRequest(entry);
    }

    // Faults (one-shot counters count down here, before any waiting). The request is logged, but
    // a faulted request is not processed.
    const delay = takeFault('apiDelayMs');
    if (delay) await sleep(delay);
    const status = takeFault('apiStatus');
    if (status) {
      const h = status === 401 ? { 'WWW-Authenticate': 'Bearer error="invalid_token"' } : {};
      throw new ApiError(status, 'EmulatorFault', `Injected fault: HTTP ${status}.`, h);
    }
    if (control.apiRedirect) {
      send(res, 302, undefined, { Location: control.apiRedirect });
      return;
    }
    if (takeFault('apiCloseMidBody')) {
      closeMidBody(res);
      return;
    }
    if (takeFault('apiGarbage')) {
      const garbage = Buffer.from('{"value":[');
      res.writeHead(200, { 'OData-Version': '4.0', 'Content-Type': ODATA_JSON, 'Content-Length': garbage.length });
      res.end(garbage);
      return;
    }

    if (!rawPath.startsWith(API_ROOT)) {
      throw new ApiError(404, 'NotFound', `No resource was found at '${rawPath}'.`);
    }

    const token = await authenticate(req);
    user = token.sub;
    if (req.method !== 'GET' && req.method !== 'HEAD') markDirty(); // EMULATOR_STATE_FILE: data may change
    if (req.method === 'POST' && rawPath === `${API_ROOT}$batch`) {
      await handleBatch(req, res, bodyBuf, user, scopesOf(token), entry);
      return;
    }
    await handle(req, res, rawPath, rawQuery, bodyBuf, user, scopesOf(token));
  } catch (err) {
    if (res.headersSent) {
      res.destroy(err);
      return;
    }
    if (err instanceof ApiError) {
      // the ERP business error is replayed byte-for-byte as ERP.net sends it (no emulator annotation)
      const body = err.body ? err.body : errorBody(err.code, err.message, user);
      send(res, err.status, body, err.headers);
      return;
    }
    console.error('emulator: API error', err);
    send(res, 500, errorBody('InternalServerError', 'An unexpected error occurred.', user));
  }
}
