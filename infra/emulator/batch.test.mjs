// Unit tests of batch.js: the emulator's $batch readers follow Microsoft.OData's reading rules (node --test).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchError, readJson, readMultipart, runBatch, upperInvariant } from './batch.js';

const MP = 'multipart/mixed; boundary=b';
const part = (line, extra = '') =>
  `--b\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n${line}\r\n\r\n${extra}\r\n`;

// [requests read, error message or null]
function multipart(body, contentType = MP) {
  const read = [];
  try {
    readMultipart(contentType, Buffer.isBuffer(body) ? body : Buffer.from(body, 'latin1'), (r) => read.push(r));
    return [read, null];
  } catch (err) {
    if (!(err instanceof BatchError)) throw err;
    return [read, err.message];
  }
}

function json(text) {
  const read = [];
  try {
    readJson(Buffer.from(text), (r) => read.push(r));
    return [read, null];
  } catch (err) {
    if (!(err instanceof BatchError)) throw err;
    return [read, err.message];
  }
}

const lines = (read) => read.map((r) => `${r.method} ${r.url}`);

test('a well-formed multipart batch with a changeset reads as written', () => {
  const body = `${part('GET Customers HTTP/1.1')}--b\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n`
    + '--cs\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\n'
    + 'PATCH Customers(1) HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{"a":1}\r\n--cs--\r\n--b--\r\n';
  const [read, error] = multipart(body);
  assert.equal(error, null);
  assert.deepEqual(lines(read), ['GET Customers', 'PATCH Customers(1)']);
  assert.equal(read[1].body.toString(), '{"a":1}');
  assert.equal(read[1].contentId, '1');
  assert.equal(read[0].changeset, null);
  assert.equal(read[1].changeset, 1);
});

test('a delimiter needs no line break before it (WCF DS compatibility)', () => {
  const smuggled = 'x--b\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET Secret HTTP/1.1\r\n\r\n';
  const [read, error] = multipart(`${part('POST Customers HTTP/1.1', smuggled)}--b--\r\n`);
  assert.equal(error, null);
  assert.deepEqual(lines(read), ['POST Customers', 'GET Secret']);
  assert.equal(read[0].body.toString(), 'x');
});

test('a bare CR ends a line, before a delimiter and inside a request line', () => {
  const inner = 'Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET Secret HTTP/1.1\r\n\r\n';
  const [read] = multipart(`${part('POST Customers HTTP/1.1', `x\r--b\r\n${inner}`)}--b--\r\n`);
  assert.deepEqual(lines(read), ['POST Customers', 'GET Secret']);
  const [one] = multipart(`${part('GET Customers HTTP/1.1\rHost: evil.example')}--b--\r\n`);
  assert.deepEqual(lines(one), ['GET Customers']);
  assert.equal(one[0].headers.host, 'evil.example');
});

test('any whitespace may sit between a delimiter and its line end', () => {
  for (const ws of ['\v', '\f', ' \t', '\x85', '\xa0']) {
    const [read, error] = multipart(`${part('GET A HTTP/1.1')}--b${ws}\r\n${part('GET B HTTP/1.1').slice(5)}--b--${ws}\n`);
    assert.equal(error, null, JSON.stringify(ws));
    assert.deepEqual(lines(read), ['GET A', 'GET B'], JSON.stringify(ws));
  }
  // Anything else after the boundary: not a delimiter (the text stays in the body).
  const [read] = multipart(`${part('GET A HTTP/1.1', 'x\r\n--bx\r\n')}--b--\r\n`);
  assert.deepEqual(lines(read), ['GET A']);
  assert.match(read[0].body.toString(), /--bx/);
});

test('boundaries are compared byte for byte and a close delimiter needs its line end', () => {
  const [read] = multipart(`${part('GET A HTTP/1.1', '--B\r\n')}--b--\r\n`);
  assert.deepEqual(lines(read), ['GET A']);
  const [last] = multipart(`${part('GET A HTTP/1.1', 'tail')}--b--`);
  assert.deepEqual(lines(last), ['GET A']);
  assert.match(last[0].body.toString(), /tail\r\n--b--$/, 'no line end: the close delimiter is body');
});

test('a Content-Length body is read by length, the rest up to the delimiter skipped', () => {
  const [read] = multipart(`${part('POST A HTTP/1.1\r\nContent-Length: 3', 'abcdef')}--b--\r\n`);
  assert.equal(read[0].body.toString(), 'abc');
  const [, error] = multipart(`${part('POST A HTTP/1.1\r\nContent-Length: 99', 'abc')}--b--\r\n`);
  assert.match(error, /shorter/);
});

test('part and request rules: Content-Transfer-Encoding, version, methods, changesets, headers', () => {
  const bad = [
    '--b\r\nContent-Type: application/http\r\n\r\nGET A HTTP/1.1\r\n\r\n--b--\r\n',
    `${part('GET A HTTP/1.0')}--b--\r\n`,
    `${part('get A HTTP/1.1')}--b--\r\n`,
    `${part('TRACE A HTTP/1.1')}--b--\r\n`,
    `${part('GET A HTTP/1.1\r\nAccept: x\r\naccept: y')}--b--\r\n`,
    `${part('GET A HTTP/1.1\r\nno colon')}--b--\r\n`,
    '--b\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n--cs\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\nGET A HTTP/1.1\r\n\r\n--cs--\r\n--b--\r\n',
    '--b\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n--cs\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nPOST A HTTP/1.1\r\n\r\n--cs--\r\n--b--\r\n',
    '--b\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n--cs\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x--\r\n--cs--\r\n--b--\r\n',
  ];
  for (const body of bad) assert.notEqual(multipart(body)[1], null, JSON.stringify(body));
  assert.match(multipart(`${part('GET A HTTP/1.1')}--b--\r\n`, 'multipart/mixed')[1], /no boundary/);
  // The URL is everything between the first and the last space.
  assert.deepEqual(lines(multipart(`${part('GET A B HTTP/1.1')}--b--\r\n`)[0]), ['GET A B']);
  // Blank lines before the request line are skipped.
  assert.deepEqual(lines(multipart(`${part('\r\n\r\nGET A HTTP/1.1')}--b--\r\n`)[0]), ['GET A']);
});

test('a batch delimiter ends a changeset; no delimiter at all ends the batch', () => {
  const body = '--b\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n--cs\r\nContent-Type: application/http\r\n'
    + 'Content-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\nDELETE A(1) HTTP/1.1\r\n\r\n'
    + `${part('GET B HTTP/1.1')}--b--\r\n`;
  const [read, error] = multipart(body);
  assert.equal(error, null);
  assert.deepEqual(lines(read), ['DELETE A(1)', 'GET B']);
  assert.deepEqual(lines(multipart(part('GET A HTTP/1.1'))[0]), ['GET A']);
  assert.deepEqual(lines(multipart('preamble\r\n' + `${part('GET A HTTP/1.1')}--b--\r\nepilogue ${part('GET Z HTTP/1.1')}`)[0]), ['GET A']);
});

test('JSON: members match in any case, with .NET upper-casing', () => {
  const [read, error] = json('{"REQUESTS":[{"Id":"1","Method":"get","URL":"A","Headers":{"Host":"evil.example"}}]}');
  assert.equal(error, null);
  assert.deepEqual(lines(read), ['GET A']);
  assert.equal(read[0].headers.host, 'evil.example');
  assert.equal(upperInvariant('headerſ'), 'HEADERS');
  assert.equal(upperInvariant('ıd'), 'ID');
  assert.equal(upperInvariant('ß'), 'ß');
  const [long] = json('{"requests":[{"method":"GET","url":"A","headerſ":{"Host":"evil.example"}}]}');
  assert.equal(long[0].headers.host, 'evil.example');
});

test('JSON: the first member must be requests, and what follows its array is an error', () => {
  const [read, error] = json('{"Requests":[{"method":"GET","url":"Unchecked"}],"requests":[{"method":"GET","url":"Checked"}]}');
  assert.deepEqual(lines(read), ['GET Unchecked']);
  assert.notEqual(error, null);
  assert.notEqual(json('{"x":1,"requests":[]}')[1], null);
  assert.deepEqual(json('{"requests":[]} trailing'), [[], null]);
});

test('JSON: unknown or repeated members and repeated headers are errors; method and url are required', () => {
  for (const body of [
    '{"requests":[{"method":"GET","url":"A","url":"B"}]}',
    '{"requests":[{"method":"GET","url":"A","URL":"B"}]}',
    '{"requests":[{"method":"GET","url":"A","extra":1}]}',
    '{"requests":[{"method":"GET","url":"A","headers":{"Host":"a","host":"b"}}]}',
    '{"requests":[{"method":"GET"}]}',
    '{"requests":[{"url":"A"}]}',
    '{"requests":[{"method":"GET","url":"A","dependsOn":["9"]}]}',
    '{"requests":[{"method":"GET","url":1}]}',
  ]) {
    assert.notEqual(json(body)[1], null, body);
  }
});

test('JSON: single quotes, bare member names, primitive header values, bodies', () => {
  const [read, error] = json("{requests:[{id:'1',method:'POST',url:'A',headers:{'Content-Type':'application/json',X:1},body:{a:[1,.5]}},{'id':'2','dependsOn':['1'],'method':'GET','url':'B'}]}");
  assert.equal(error, null);
  assert.deepEqual(lines(read), ['POST A', 'GET B']);
  assert.equal(read[0].headers.x, '1');
  assert.equal(read[0].body.toString(), '{"a":[1,0.5]}');
});

test('runBatch runs what was read before a reading error, then refuses the batch', async () => {
  const ran = [];
  const run = async (r) => {
    ran.push(`${r.method} ${r.url}`);
    return { status: 200, headers: { 'Content-Type': 'application/json' }, body: Buffer.from('{}') };
  };
  const body = `${part('GET A HTTP/1.1')}${part('GET B HTTP/1.0')}--b--\r\n`;
  await assert.rejects(runBatch(MP, Buffer.from(body), run), BatchError);
  assert.deepEqual(ran, ['GET A']);
  const ok = await runBatch('application/json', Buffer.from('{"requests":[{"id":"1","method":"GET","url":"A"}]}'), run);
  assert.equal(ok.status, 200);
  assert.equal(JSON.parse(ok.body).responses[0].id, '1');
  const mp = await runBatch(MP, Buffer.from(`${part('GET A HTTP/1.1')}--b--\r\n`), run);
  assert.match(mp.body.toString(), /HTTP\/1.1 200 OK/);
});
