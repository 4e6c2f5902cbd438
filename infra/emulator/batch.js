// OData $batch for the emulator's Domain API: POST /api/domain/odata/$batch, in both formats, READ AS ERP.net
// READS IT. ERP.net's Domain API is an ASP.NET OData service, so its batch reader is Microsoft.OData's; the
// readers below follow that library's reading rules (OData/odata.net, src/Microsoft.OData.Core/), so that a body
// the BFF forwards runs here as it would run there:
//
// multipart/mixed (ODataBatchReaderStreamBuffer, ODataMultipartMixedBatchReaderStream, ODataMultipartMixedBatchReader,
// ODataBatchUtils):
//   - a delimiter is `--boundary` (compared byte for byte) found after a line end OR anywhere a `--` starts (no line
//     break needed before it), then `--` for the close delimiter, then only whitespace (char.IsWhiteSpace of the
//     byte: SP, HT, VT, FF, 0x85, 0xA0) up to a line end; one that does not fit whole before the end of the body
//     is not a delimiter. A line end (CR, LF or CRLF) right before `--` belongs to the delimiter;
//   - inside a changeset the changeset's boundary is tried first, then the batch's (a batch delimiter ends the
//     changeset);
//   - lines end at CR, LF or CRLF; header lines are `name: value`, both trimmed of whitespace, a name at most once
//     in any case; part headers need a Content-Type; an application/http part needs
//     `Content-Transfer-Encoding: binary`; a multipart/mixed part is a changeset (not in a changeset);
//   - the request line is the first non-empty line: the method before the first space, the version (exactly
//     HTTP/1.1) after the last, the URL between; methods GET, POST, PUT, PATCH, DELETE; no GET in a changeset, and
//     a changeset's request needs a Content-ID (part or request header);
//   - a request's body is Content-Length bytes if it says so, else everything up to the next delimiter;
//   - text before the first delimiter and after the close delimiter is ignored; no delimiter at all: the end.
// JSON (ODataJsonBatchReader, ODataJsonBatchPayloadItemPropertiesCache, JsonReader):
//   - the JSON reader allows single-quoted strings and unquoted member names (letters, digits, `_`, `$`), numbers
//     starting with `.`, whitespace SP/HT/CR/LF;
//   - the batch object's FIRST member must be `requests` in any case (a later one is never looked at; anything
//     after the array but the end of the object is an error);
//   - a request's members are matched upper-cased (ID, ATOMICITYGROUP, DEPENDSON, METHOD, URL, HEADERS, BODY,
//     STATUS); one seen twice or any other member is an error; headers are matched without case, once each, their
//     values any primitive; method and url are required, the method upper-cased.
// The reader yields requests as it reads them and the emulator runs each as read (as a streaming batch handler
// would): a reading error stops the batch with a 400, after what was read before it ran. Each request runs through
// the same OData handling as a plain request, as the user of the batch's bearer token (`run`, given by
// domain-api.js). Requests run in order; a changeset is not atomic here.

import { randomUUID } from 'node:crypto';

const CRLF = '\r\n';
const CR = 0x0d;
const LF = 0x0a;
const DASH = 0x2d;
const METHODS = ['GET', 'DELETE', 'PATCH', 'POST', 'PUT'];
const REASONS = {
  200: 'OK', 201: 'Created', 204: 'No Content', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden',
  404: 'Not Found', 405: 'Method Not Allowed', 409: 'Conflict', 500: 'Internal Server Error',
};

export class BatchError extends Error {}

// .NET's ToUpperInvariant: each UTF-16 unit to its simple upper case (one unit to one unit; 'ß' stays).
export function upperInvariant(s) {
  let out = '';
  for (const c of s) {
    const u = c.toUpperCase();
    out += u.length === c.length ? u : c;
  }
  return out;
}

// char.IsWhiteSpace of a byte read as a (Latin-1) char.
const isByteWhitespace = (b) => b === 0x20 || (b >= 0x09 && b <= 0x0d) || b === 0x85 || b === 0xa0;

// The media type without parameters, lower-cased.
const essence = (contentType) => (contentType || '').split(';')[0].trim().toLowerCase();

// The boundary parameter (name in any case, value maybe quoted); missing or given twice: an error.
export function boundaryOf(contentType) {
  let found = null;
  for (const param of (contentType || '').split(';').slice(1)) {
    const eq = param.indexOf('=');
    if (eq < 0) continue;
    if (param.slice(0, eq).trim().toLowerCase() !== 'boundary') continue;
    if (found !== null) throw new BatchError('The multipart batch has two boundaries.');
    let value = param.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    found = value;
  }
  if (!found) throw new BatchError('The multipart batch has no boundary.');
  return found;
}

// ---- multipart/mixed ----------------------------------------------------------------------------------------

class MultipartReader {
  constructor(buf, boundary) {
    this.buf = buf;
    this.pos = 0;
    this.batchBoundary = boundary;
    this.changesetBoundary = null;
  }

  boundaries() {
    return this.changesetBoundary === null ? [this.batchBoundary] : [this.changesetBoundary, this.batchBoundary];
  }

  // ScanForBoundary from `from`: null (none), { partial, start } or { start, end, isEnd, isParent }. `start` is
  // where the delimiter begins (its leading line end included), `end` the last byte of its terminating line end.
  scan(from) {
    const b = this.buf;
    let i = from;
    for (;;) {
      let lineEnd = -1;
      let delim = -1;
      for (let j = i; j < b.length; j++) {
        if (b[j] === CR || b[j] === LF) {
          if (b[j] === CR && j === b.length - 1) return { partial: true, start: j };
          lineEnd = j;
          delim = b[j] === CR && b[j + 1] === LF ? j + 2 : j + 1;
          break;
        }
        if (b[j] === DASH) {
          if (j === b.length - 1) return { partial: true, start: j };
          if (b[j + 1] === DASH) {
            delim = j;
            break;
          }
        }
      }
      if (delim < 0) return null;
      let isParent = false;
      for (const boundary of this.boundaries()) {
        const m = this.matchBoundary(lineEnd, delim, boundary);
        if (m === 'partial') return { partial: true, start: lineEnd < 0 ? delim : lineEnd };
        if (m) return { ...m, isParent };
        isParent = true;
      }
      i = i === delim ? delim + 1 : delim;
    }
  }

  // MatchBoundary: the whole close delimiter plus a line end must fit in what is left, or it is a partial match.
  matchBoundary(lineEnd, delim, boundary) {
    const b = this.buf;
    const last = b.length - 1;
    const afterLineFeed = delim + 2 + boundary.length + 2 - 1;
    const partial = last < afterLineFeed + 2;
    const length = (partial ? Math.min(last, afterLineFeed) : afterLineFeed) - delim + 1;
    let isEnd = false;
    let trailing = 0;
    let at = delim;
    let matched = true;
    for (let i = -2; i < length - 2; i++, at++) {
      if (i < 0 || i >= boundary.length) {
        if (b[at] !== DASH) {
          if (i < 0) matched = false;
          break;
        }
        if (i >= boundary.length) trailing++;
      } else if (b[at] !== boundary.charCodeAt(i)) {
        matched = false;
        break;
      }
    }
    if (!matched) return null;
    isEnd = trailing === 2;
    if (partial) return 'partial';
    let end = delim + 2 + boundary.length - 1 + (isEnd ? 2 : 0);
    for (let k = end + 1; k <= last; k++) {
      if (b[k] === CR || b[k] === LF) {
        if (b[k] === CR && k === last) return 'partial';
        end = b[k] === CR && b[k + 1] === LF ? k + 1 : k;
        return { start: lineEnd < 0 ? delim : lineEnd, end, isEnd };
      }
      if (!isByteWhitespace(b[k])) return null;
    }
    return 'partial';
  }

  // SkipToBoundary: the next delimiter (null: none before the end). A parent delimiter is left to be read again.
  skipToBoundary() {
    const r = this.scan(this.pos);
    if (r === null || r.partial) {
      this.pos = this.buf.length;
      return null;
    }
    this.pos = r.isParent ? r.start : r.end + 1;
    return r;
  }

  // ReadWithDelimiter: the body up to the next delimiter (or the end).
  readWithDelimiter() {
    const r = this.scan(this.pos);
    const stop = r === null || r.partial ? this.buf.length : r.start;
    const body = this.buf.subarray(this.pos, stop);
    this.pos = stop;
    return body;
  }

  readWithLength(n) {
    if (this.pos + n > this.buf.length) throw new BatchError('A request body is shorter than its Content-Length.');
    const body = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return body;
  }

  // ReadLine: up to CR, LF or CRLF (null at the end), as UTF-8.
  readLine() {
    const b = this.buf;
    if (this.pos >= b.length) return null;
    let k = this.pos;
    while (k < b.length && b[k] !== CR && b[k] !== LF) k++;
    const line = b.subarray(this.pos, k).toString('utf8');
    this.pos = k >= b.length ? k : b[k] === CR && b[k + 1] === LF ? k + 2 : k + 1;
    return line;
  }

  // ReadHeaders: `name: value` lines up to an empty line; a name twice (in any case) is an error.
  readHeaders() {
    const headers = new Map();
    for (let line = this.readLine(); line !== null && line.length > 0; line = this.readLine()) {
      const colon = line.indexOf(':');
      if (colon <= 0) throw new BatchError(`The batch has a malformed header line: ${JSON.stringify(line)}.`);
      const name = line.slice(0, colon).trim();
      const key = upperInvariant(name);
      if (headers.has(key)) throw new BatchError(`The header ${name} appears twice.`);
      headers.set(key, { name, value: line.slice(colon + 1).trim() });
    }
    return headers;
  }

  readFirstNonEmptyLine() {
    for (;;) {
      const line = this.readLine();
      if (line === null) throw new BatchError('The batch ended where a request line was expected.');
      if (line.length > 0) return line;
    }
  }

  // ProcessPartHeader: { isChangeset, contentId }.
  processPartHeader() {
    const headers = this.readHeaders();
    const type = headers.get('CONTENT-TYPE')?.value;
    if (type === undefined) throw new BatchError('A batch part has no Content-Type.');
    if (essence(type) === 'application/http') {
      if (headers.get('CONTENT-TRANSFER-ENCODING')?.value.toLowerCase() !== 'binary') {
        throw new BatchError('An application/http part needs Content-Transfer-Encoding: binary.');
      }
      return { isChangeset: false, contentId: headers.get('CONTENT-ID')?.value ?? null };
    }
    if (essence(type) === 'multipart/mixed') {
      if (this.changesetBoundary !== null) throw new BatchError('Changesets cannot be nested.');
      this.changesetBoundary = boundaryOf(type);
      return { isChangeset: true, contentId: null };
    }
    throw new BatchError(`A batch part must be application/http or multipart/mixed, not ${type}.`);
  }

  // ParseRequestLine.
  requestLine(line) {
    const first = line.indexOf(' ');
    const last = line.lastIndexOf(' ');
    if (first <= 0 || line.length - 3 <= first || last - first - 1 <= 0 || line.length - 1 <= last) {
      throw new BatchError(`The request line ${JSON.stringify(line)} is invalid.`);
    }
    const method = line.slice(0, first);
    const url = line.slice(first + 1, last);
    if (line.slice(last + 1) !== 'HTTP/1.1') throw new BatchError('A request line must end in HTTP/1.1.');
    if (!METHODS.includes(method)) throw new BatchError(`The method ${method} is not allowed in a batch.`);
    if (this.changesetBoundary !== null && method === 'GET') throw new BatchError('A changeset cannot hold a GET.');
    return { method, url };
  }

  // CreateOperationRequestMessage, then the body as the request's stream reads it.
  request(partContentId, changeset) {
    const { method, url } = this.requestLine(this.readFirstNonEmptyLine());
    const headers = this.readHeaders();
    const contentId = partContentId ?? headers.get('CONTENT-ID')?.value ?? null;
    if (this.changesetBoundary !== null && contentId === null) {
      throw new BatchError('A request in a changeset needs a Content-ID.');
    }
    const length = headers.get('CONTENT-LENGTH')?.value;
    let body;
    if (length !== undefined) {
      if (!/^[+-]?\d+$/.test(length) || Number(length) < 0 || Number(length) > 0x7fffffff) {
        throw new BatchError(`The Content-Length ${length} is invalid.`);
      }
      body = this.readWithLength(Number(length));
    } else {
      body = this.readWithDelimiter();
    }
    const plain = Object.fromEntries([...headers.values()].map(({ name, value }) => [name.toLowerCase(), value]));
    return { method, url, headers: plain, body: Buffer.from(body), contentId, changeset };
  }
}

// Reads a multipart batch: calls onRequest(request) for each request as it is read; throws BatchError where
// Microsoft.OData's reader would fail (after the requests before it were yielded).
export function readMultipart(contentType, buf, onRequest) {
  const reader = new MultipartReader(buf, boundaryOf(contentType));
  let state = 'Initial';
  let changesets = 0;
  let partContentId = null;
  const endState = () => {
    switch (state) {
      case 'Initial': return 'Completed';
      case 'Operation': return reader.changesetBoundary === null ? 'Completed' : 'ChangesetEnd';
      case 'ChangesetStart': return 'ChangesetEnd';
      default: return 'Completed';
    }
  };
  // SkipToNextPartAndReadHeaders
  const next = () => {
    const found = reader.skipToBoundary();
    if (found === null) return reader.changesetBoundary === null ? 'Completed' : 'ChangesetEnd';
    if (found.isEnd || found.isParent) return endState();
    const inChangeset = reader.changesetBoundary !== null;
    const part = reader.processPartHeader();
    partContentId = part.contentId;
    if (inChangeset) return 'Operation';
    if (part.isChangeset) changesets += 1;
    return part.isChangeset ? 'ChangesetStart' : 'Operation';
  };
  for (;;) {
    if (state === 'ChangesetEnd') reader.changesetBoundary = null;
    state = next();
    if (state === 'Completed') return;
    if (state === 'Operation') {
      onRequest(reader.request(partContentId, reader.changesetBoundary === null ? null : changesets));
    }
  }
}

// ---- JSON ---------------------------------------------------------------------------------------------------

// Microsoft.OData's JsonReader, as far as a batch needs it.
class JsonReader {
  constructor(text) {
    this.s = text;
    this.i = 0;
  }

  fail(what) {
    throw new BatchError(`The JSON batch cannot be read at ${this.i}: ${what}.`);
  }

  ws() {
    while (this.i < this.s.length && ' \t\r\n'.includes(this.s[this.i])) this.i++;
    return this.s[this.i];
  }

  expect(c) {
    if (this.ws() !== c) this.fail(`expected ${c}`);
    this.i++;
  }

  // After a value in an object or array: `,` (then more) or the closing character.
  more(close) {
    const c = this.ws();
    if (c === ',') {
      this.i++;
      return true;
    }
    if (c !== close) this.fail(`expected , or ${close}`);
    return false;
  }

  string() {
    const quote = this.s[this.i++];
    let out = '';
    for (;;) {
      if (this.i >= this.s.length) this.fail('unterminated string');
      const c = this.s[this.i++];
      if (c === quote) return out;
      if (c !== '\\') {
        out += c;
        continue;
      }
      const e = this.s[this.i++];
      const simple = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', '\\': '\\', '"': '"', "'": "'", '/': '/' };
      if (e in simple) out += simple[e];
      else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(this.s.slice(this.i, this.i + 4))) {
        out += String.fromCharCode(parseInt(this.s.slice(this.i, this.i + 4), 16));
        this.i += 4;
      } else this.fail('unrecognised escape');
    }
  }

  // A member name: quoted (either quote) or bare letters, digits, `_` and `$`.
  name() {
    const c = this.ws();
    if (c === '"' || c === "'") return this.string();
    const m = /^[\p{L}\p{Nd}_$]+/u.exec(this.s.slice(this.i, this.i + 4096));
    if (!m) this.fail('expected a member name');
    this.i += m[0].length;
    return m[0];
  }

  // Any value, as a JS value (`{ kind }` tells objects and arrays from primitives).
  value() {
    const c = this.ws();
    if (c === '{') {
      this.i++;
      const out = {};
      if (this.ws() === '}') {
        this.i++;
        return out;
      }
      do {
        const key = this.name();
        this.expect(':');
        out[key] = this.value();
      } while (this.more('}'));
      this.i++;
      return out;
    }
    if (c === '[') {
      this.i++;
      const out = [];
      if (this.ws() === ']') {
        this.i++;
        return out;
      }
      do out.push(this.value());
      while (this.more(']'));
      this.i++;
      return out;
    }
    return this.primitive();
  }

  primitive() {
    const c = this.ws();
    if (c === '"' || c === "'") return this.string();
    if (c === 't' || c === 'f' || c === 'n') {
      const word = this.name();
      if (word === 'true') return true;
      if (word === 'false') return false;
      if (word === 'null') return null;
      this.fail(`unrecognised token ${word}`);
    }
    const m = /^[-.0-9][-+.0-9eE]*/.exec(this.s.slice(this.i, this.i + 1024));
    if (!m || Number.isNaN(Number(m[0]))) this.fail('unrecognised token');
    this.i += m[0].length;
    return Number(m[0]);
  }

  stringOrNull() {
    const v = this.primitive();
    if (v !== null && typeof v !== 'string') this.fail('expected a string');
    return v;
  }
}

// ODataJsonBatchPayloadItemPropertiesCache.ScanJsonProperties: one request object.
function jsonRequest(j) {
  const props = new Map();
  j.expect('{');
  if (j.ws() === '}') {
    j.i++;
  } else {
    do {
      const name = upperInvariant(j.name());
      j.expect(':');
      if (props.has(name)) j.fail(`the member ${name} appears twice`);
      switch (name) {
        case 'ID': case 'ATOMICITYGROUP': case 'METHOD': case 'URL':
          props.set(name, j.stringOrNull());
          break;
        case 'STATUS':
          props.set(name, j.primitive());
          break;
        case 'DEPENDSON': {
          const ids = j.value();
          if (!Array.isArray(ids) || ids.some((x) => typeof x !== 'string' && x !== null)) j.fail('dependsOn');
          props.set(name, ids);
          break;
        }
        case 'HEADERS': {
          const headers = new Map();
          j.expect('{');
          if (j.ws() === '}') j.i++;
          else {
            do {
              const header = j.name();
              j.expect(':');
              const value = j.primitive();
              const key = upperInvariant(header);
              if (headers.has(key)) j.fail(`the header ${header} appears twice`);
              headers.set(key, { name: header, value: value === null ? null : String(value) });
            } while (j.more('}'));
            j.i++;
          }
          props.set(name, headers);
          break;
        }
        case 'BODY':
          props.set(name, j.value());
          break;
        default:
          j.fail(`unknown member ${name}`);
      }
    } while (j.more('}'));
    j.i++;
  }
  const method = props.get('METHOD');
  const url = props.get('URL');
  if (method == null) j.fail('a request needs a method');
  if (url == null) j.fail('a request needs a url');
  const headers = Object.fromEntries([...(props.get('HEADERS') || new Map()).values()].map(({ name, value }) => [name.toLowerCase(), value]));
  const raw = props.get('BODY');
  const body = raw === undefined ? Buffer.alloc(0) : Buffer.from(typeof raw === 'string' ? raw : JSON.stringify(raw));
  return {
    method: upperInvariant(method), url, headers, body,
    id: props.get('ID') ?? null, atomicityGroup: props.get('ATOMICITYGROUP') ?? null, dependsOn: props.get('DEPENDSON') ?? [],
  };
}

// Reads a JSON batch: calls onRequest(request) for each request as it is read; throws BatchError where
// Microsoft.OData's reader would fail (after the requests before it were yielded).
export function readJson(buf, onRequest) {
  const j = new JsonReader(buf.toString('utf8'));
  j.expect('{');
  // DetectReaderMode: the first member is `requests` (in any case) or the batch is not one.
  const first = j.name();
  if (upperInvariant(first) !== 'REQUESTS') j.fail('the first member of a JSON batch must be requests');
  j.expect(':');
  j.expect('[');
  const ids = new Set();
  if (j.ws() !== ']') {
    do {
      if (j.ws() !== '{') break;
      const r = jsonRequest(j);
      for (const id of r.dependsOn) {
        if (id === r.id || id === r.atomicityGroup || !ids.has(id)) j.fail(`dependsOn ${id} names no earlier request`);
      }
      if (r.id !== null) ids.add(r.id);
      if (r.atomicityGroup !== null) ids.add(r.atomicityGroup);
      onRequest(r);
    } while (j.more(']'));
  }
  j.expect(']');
  j.expect('}'); // ReadEndObject: nothing may follow the requests array in the batch object
}

// ---- answers ------------------------------------------------------------------------------------------------

function httpResponse(r, contentId) {
  const head = [`HTTP/1.1 ${r.status} ${REASONS[r.status] || 'Status'}`];
  for (const [k, v] of Object.entries(r.headers)) if (k.toLowerCase() !== 'content-length') head.push(`${k}: ${v}`);
  const id = contentId ? `Content-ID: ${contentId}${CRLF}` : '';
  return `Content-Type: application/http${CRLF}Content-Transfer-Encoding: binary${CRLF}${id}${CRLF}${head.join(CRLF)}${CRLF}${CRLF}${r.body.toString('latin1')}`;
}

function multipart(boundary, parts) {
  return parts.map((p) => `--${boundary}${CRLF}${p}${CRLF}`).join('') + `--${boundary}--${CRLF}`;
}

// Reads the batch and runs each request as read: [[request, answer]…]; a reading error is thrown (BatchError)
// once the requests before it ran.
async function readAndRun(read, run) {
  const requests = [];
  let error = null;
  try {
    read((r) => requests.push(r));
  } catch (err) {
    if (!(err instanceof BatchError)) throw err;
    error = err;
  }
  const done = [];
  for (const r of requests) done.push([r, await run(r)]);
  if (error) throw error;
  return done;
}

function jsonAnswer(r, out) {
  const type = Object.entries(out.headers).find(([k]) => k.toLowerCase() === 'content-type')?.[1] || '';
  let answer;
  if (out.body.length && type.includes('json')) answer = JSON.parse(out.body.toString('utf8'));
  else if (out.body.length) answer = out.body.toString('utf8');
  return { id: r.id, status: out.status, headers: type ? { 'content-type': type } : {}, ...(answer === undefined ? {} : { body: answer }) };
}

// Answers a $batch: { status, headers, body } for the outer response. `run(request)` runs one inner request
// ({ method, url, headers, body }). Throws BatchError on a batch ERP.net's reader cannot read.
export async function runBatch(contentType, bodyBuf, run) {
  const type = essence(contentType);
  if (type === 'application/json') {
    const done = await readAndRun((on) => readJson(bodyBuf, on), run);
    const body = JSON.stringify({ responses: done.map(([r, out]) => jsonAnswer(r, out)) });
    return { status: 200, headers: { 'Content-Type': 'application/json' }, body: Buffer.from(body) };
  }
  if (type === 'multipart/mixed') {
    const done = await readAndRun((on) => readMultipart(contentType, bodyBuf, on), run);
    const parts = [];
    for (let k = 0; k < done.length; ) {
      const set = done[k][0].changeset;
      if (set === null) {
        parts.push(httpResponse(done[k][1], done[k][0].contentId));
        k += 1;
        continue;
      }
      const answers = [];
      for (; k < done.length && done[k][0].changeset === set; k++) answers.push(httpResponse(done[k][1], done[k][0].contentId));
      const boundary = `changesetresponse_${randomUUID()}`;
      parts.push(`Content-Type: multipart/mixed; boundary=${boundary}${CRLF}${CRLF}${multipart(boundary, answers)}`);
    }
    const boundary = `batchresponse_${randomUUID()}`;
    return {
      status: 200,
      headers: { 'Content-Type': `multipart/mixed; boundary=${boundary}` },
      body: Buffer.from(multipart(boundary, parts), 'latin1'),
    };
  }
  throw new BatchError('A $batch body must be application/json or multipart/mixed.');
}
