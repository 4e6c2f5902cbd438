// A small HTTP proxy between the BFF and DynamoDB Local, for tests and benchmarks:
// - counts the DynamoDB operations that pass (X-Amz-Target), so tests can assert "1 GetItem per proxied call";
// - injects faults on demand: throttling (400 ThrottlingException), 500 InternalServerError, delays, or "down"
//   (connections reset), each with a rate, so the SDK's retries and the BFF's 503 path can be exercised.
//
//   node infra/ddb-proxy.js --port 8100 --target http://127.0.0.1:8000
//   GET  /__ddbproxy/stats    -> {"ops":{"GetItem":3,...},"faults":{"throttle":1,"error":0,"reset":0},"total":4,
//                                 "refused":{"UpdateItem":1}}
//                                 (`refused`: operations DynamoDB answered 400, e.g. a failed condition)
//   POST /__ddbproxy/reset    -> zero the counters
//   POST /__ddbproxy/control  {"throttleRate":0.3,"errorRate":0.1,"delayMs":0,"down":false,"dropAnswerRate":0,
//                              "dropAnswerOps":[],"dropAnswerUpdate":"","failUpdate":""}
//                             ({} resets)
// - `dropAnswerRate`: the share of conditional writes (PutItem/UpdateItem/DeleteItem with a ConditionExpression)
//   that are applied by DynamoDB Local but whose answer is lost (the connection is reset after the write): the
//   ambiguous outcome an SDK retry must cope with. Counted as faults.dropped.
// - `dropAnswerOps`: limits `dropAnswerRate` to these operations (e.g. ["UpdateItem"]; [] = every conditional
//   write). With `dropAnswerUpdate` (a substring of the UpdateExpression, e.g. "lease_owner = :me") it targets one
//   write exactly (the lease, or the commit).
// - `failUpdate`: a substring of the UpdateExpression; every write carrying it is answered 500 InternalServerError
//   WITHOUT being applied (a write that truly fails, e.g. "refreshed_by": every refresh commit). Counted as
//   faults.error.
import http from 'node:http';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const port = Number(arg('port', process.env.DDB_PROXY_PORT || 8100));
const target = new URL(arg('target', process.env.DDB_PROXY_TARGET || 'http://127.0.0.1:8000'));

const freshControl = () => ({ throttleRate: 0, errorRate: 0, delayMs: 0, down: false, dropAnswerRate: 0, dropAnswerOps: [], dropAnswerUpdate: '', failUpdate: '' });
const freshStats = () => ({ ops: {}, faults: { throttle: 0, error: 0, reset: 0, dropped: 0 }, total: 0, refused: {} });
const CONDITIONAL_WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem']);
let control = freshControl();
let stats = freshStats();
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function updateExpression(body) {
  try {
    return String(JSON.parse(body.toString()).UpdateExpression || '');
  } catch {
    return '';
  }
}

function json(res, status, value, extra = {}) {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length, ...extra });
  res.end(body);
}

function amzError(res, status, type, message) {
  json(res, status, { __type: `com.amazonaws.dynamodb.v20120810#${type}`, message }, {
    'content-type': 'application/x-amz-json-1.0',
    'x-amzn-requestid': `fault-${Date.now()}`,
  });
}

const server = http.createServer(async (req, res) => {
  try {
    if (req.url.startsWith('/__ddbproxy/')) {
      const route = `${req.method} ${req.url.split('?')[0]}`;
      if (route === 'GET /__ddbproxy/stats') return json(res, 200, stats);
      if (route === 'POST /__ddbproxy/reset') {
        stats = freshStats();
        return json(res, 200, stats);
      }
      if (route === 'POST /__ddbproxy/control') {
        const body = JSON.parse((await readBody(req)).toString() || '{}');
        const next = freshControl();
        for (const [k, v] of Object.entries(body)) {
          if (!(k in next)) return json(res, 400, { error: `unknown control key ${k}` });
          if (typeof v !== typeof next[k]) return json(res, 400, { error: `${k} must be a ${typeof next[k]}` });
          next[k] = v;
        }
        control = next;
        return json(res, 200, control);
      }
      if (route === 'GET /__ddbproxy/health') return json(res, 200, { ok: true });
      return json(res, 404, { error: 'not found' });
    }
    const body = await readBody(req);
    const op = String(req.headers['x-amz-target'] || 'unknown').split('.').pop();
    stats.total += 1;
    stats.ops[op] = (stats.ops[op] || 0) + 1;
    if (control.down) {
      stats.faults.reset += 1;
      return req.socket.destroy();
    }
    if (control.delayMs) await new Promise((r) => setTimeout(r, control.delayMs));
    const roll = Math.random();
    if (roll < control.throttleRate) {
      stats.faults.throttle += 1;
      return amzError(res, 400, 'ThrottlingException', 'Rate of requests exceeds the allowed throughput (injected).');
    }
    if (
      roll < control.throttleRate + control.errorRate ||
      (control.failUpdate && updateExpression(body).includes(control.failUpdate))
    ) {
      stats.faults.error += 1;
      return amzError(res, 500, 'InternalServerError', 'Internal server error (injected).');
    }
    const drop =
      control.dropAnswerRate > 0 &&
      CONDITIONAL_WRITES.has(op) &&
      body.includes('ConditionExpression') &&
      (control.dropAnswerOps.length === 0 || control.dropAnswerOps.includes(op)) &&
      (!control.dropAnswerUpdate || updateExpression(body).includes(control.dropAnswerUpdate)) &&
      Math.random() < control.dropAnswerRate;
    const upstream = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent },
      (ur) => {
        if (drop) {
          // Applied (DynamoDB Local has answered), but the caller never hears of it.
          ur.resume();
          ur.on('end', () => {
            stats.faults.dropped += 1;
            req.socket.destroy();
          });
          return;
        }
        if (ur.statusCode === 400) stats.refused[op] = (stats.refused[op] || 0) + 1;
        res.writeHead(ur.statusCode, ur.headers);
        ur.pipe(res);
      },
    );
    upstream.on('error', () => {
      stats.faults.reset += 1;
      req.socket.destroy();
    });
    upstream.end(body);
  } catch (e) {
    json(res, 500, { error: String(e) });
  }
});

server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => {
  console.log(`ddb-proxy listening on http://127.0.0.1:${server.address().port} -> ${target.origin}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
