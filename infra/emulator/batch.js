// OData $batch for the emulator's Domain API: POST /api/domain/odata/$batch, in both formats.
// - JSON (OData 4.01): {"requests":[{"id","method","url","headers","body"}]} → {"responses":[{"id","status","headers","body"}]}
// - multipart/mixed (OData 4.0): application/http parts and changesets (multipart/mixed, one level), answered
//   as multipart/mixed with application/http parts (a changeset's answers in a nested multipart/mixed).
// Each inner request runs through the same OData handling as a plain request, as the user of the batch's
// bearer token (`run`, given by domain-api.js). Requests run in order; a changeset is not atomic here.

import { randomUUID } from 'node:crypto';

const CRLF = '\r\n';
const REASONS = {
  200: 'OK', 201: 'Created', 204: 'No Content', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden',
  404: 'Not Found', 405: 'Method Not Allowed', 409: 'Conflict', 500: 'Internal Server Error',
};

export class BatchError extends Error {}

function boundaryOf(contentType) {
  const m = /;\s*boundary=("([^"]+)"|[^;\s]+)/i.exec(contentType || '');
  if (!m) throw new BatchError('The multipart batch has no boundary.');
  return m[2] || m[1];
}

// The parts between --boundary lines, up to --boundary-- (RFC 2046), as latin1 strings (byte-preserving).
function splitParts(text, boundary) {
  const lines = text.split(/(?<=\n)/);
  const parts = [];
  let current = null;
  for (const line of lines) {
    const bare = line.replace(/[ \t]*\r?\n$/, '');
    if (bare === `--${boundary}` || bare === `--${boundary}--`) {
      if (current !== null) parts.push(current.join('').replace(/\r?\n$/, ''));
      if (bare === `--${boundary}--`) return parts;
      current = [];
    } else if (current !== null) {
      current.push(line);
    }
  }
  throw new BatchError('The multipart batch has no closing boundary.');
}

// [headers (lower-case names), rest] split at the first empty line.
function splitHead(text) {
  const m = /\r?\n\r?\n/.exec(text);
  const head = m ? text.slice(0, m.index) : text;
  const rest = m ? text.slice(m.index + m[0].length) : '';
  const headers = {};
  for (const line of head.split(/\r?\n/).filter(Boolean)) {
    const i = line.indexOf(':');
    if (i <= 0) throw new BatchError('A batch part has a malformed header.');
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return [headers, rest];
}

function httpRequest(text) {
  const nl = text.indexOf('\n');
  const line = (nl === -1 ? text : text.slice(0, nl)).replace(/\r$/, '');
  const m = /^([A-Z]+) (\S+) HTTP\/1\.[01]$/.exec(line);
  if (!m) throw new BatchError('A batch part has no request line.');
  const [headers, body] = splitHead(nl === -1 ? '' : text.slice(nl + 1));
  return { method: m[1], url: m[2], headers, body: Buffer.from(body, 'latin1') };
}

function httpResponse(r) {
  const head = [`HTTP/1.1 ${r.status} ${REASONS[r.status] || 'Status'}`];
  for (const [k, v] of Object.entries(r.headers)) if (k.toLowerCase() !== 'content-length') head.push(`${k}: ${v}`);
  return `Content-Type: application/http${CRLF}Content-Transfer-Encoding: binary${CRLF}${CRLF}${head.join(CRLF)}${CRLF}${CRLF}${r.body.toString('latin1')}`;
}

function multipart(boundary, parts) {
  return parts.map((p) => `--${boundary}${CRLF}${p}${CRLF}`).join('') + `--${boundary}--${CRLF}`;
}

async function runMultipart(contentType, text, run, depth) {
  const parts = [];
  for (const part of splitParts(text, boundaryOf(contentType))) {
    const [headers, content] = splitHead(part);
    const type = (headers['content-type'] || '').split(';')[0].trim().toLowerCase();
    if (type === 'application/http') {
      const inner = await run(httpRequest(content));
      const id = headers['content-id'] ? `Content-ID: ${headers['content-id']}${CRLF}` : '';
      parts.push(id + httpResponse(inner));
    } else if (type === 'multipart/mixed' && depth === 0) {
      const boundary = `changesetresponse_${randomUUID()}`;
      const answers = await runMultipart(headers['content-type'], content, run, depth + 1);
      parts.push(`Content-Type: multipart/mixed; boundary=${boundary}${CRLF}${CRLF}${multipart(boundary, answers)}`);
    } else {
      throw new BatchError('A batch part must be application/http or (in the batch) a multipart/mixed changeset.');
    }
  }
  return parts;
}

async function runJson(bodyBuf, run) {
  let doc;
  try {
    doc = JSON.parse(bodyBuf.toString('utf8'));
  } catch {
    throw new BatchError('The JSON batch is not valid JSON.');
  }
  if (!doc || !Array.isArray(doc.requests)) throw new BatchError('The JSON batch needs a "requests" array.');
  const responses = [];
  for (const r of doc.requests) {
    if (typeof r?.url !== 'string' || typeof r?.method !== 'string') throw new BatchError('Each request needs a string method and url.');
    const headers = Object.fromEntries(Object.entries(r.headers || {}).map(([k, v]) => [k.toLowerCase(), String(v)]));
    let body = Buffer.alloc(0);
    if (r.body !== undefined) body = Buffer.from(typeof r.body === 'string' ? r.body : JSON.stringify(r.body));
    const out = await run({ method: r.method.toUpperCase(), url: r.url, headers, body });
    const type = Object.entries(out.headers).find(([k]) => k.toLowerCase() === 'content-type')?.[1] || '';
    let answer;
    if (out.body.length && type.includes('json')) answer = JSON.parse(out.body.toString('utf8'));
    else if (out.body.length) answer = out.body.toString('utf8');
    responses.push({ id: r.id, status: out.status, headers: type ? { 'content-type': type } : {}, ...(answer === undefined ? {} : { body: answer }) });
  }
  return responses;
}

// Answers a $batch: { status, headers, body } for the outer response. Throws BatchError on an unreadable batch.
export async function runBatch(contentType, bodyBuf, run) {
  const type = (contentType || '').split(';')[0].trim().toLowerCase();
  if (type === 'application/json') {
    const body = JSON.stringify({ responses: await runJson(bodyBuf, run) });
    return { status: 200, headers: { 'Content-Type': 'application/json' }, body: Buffer.from(body) };
  }
  if (type === 'multipart/mixed') {
    const parts = await runMultipart(contentType, bodyBuf.toString('latin1'), run, 0);
    const boundary = `batchresponse_${randomUUID()}`;
    return {
      status: 200,
      headers: { 'Content-Type': `multipart/mixed; boundary=${boundary}` },
      body: Buffer.from(multipart(boundary, parts), 'latin1'),
    };
  }
  throw new BatchError('A $batch body must be application/json or multipart/mixed.');
}
