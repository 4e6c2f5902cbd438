// A small OData v4 $filter parser/evaluator: comparisons (eq ne gt ge lt le), and/or/not, parentheses,
// string/number/boolean/null/GUID literals and the functions contains, startswith, endswith,
// tolower, toupper, trim, length, indexof.
// String functions compare case-insensitively (ERP.net runs on SQL Server with a CI collation).

export class FilterError extends Error {}

const GUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/;

function tokenize(src) {
  const tokens = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === ' ' || c === '\t') { i += 1; continue; }
    if (c === '(' || c === ')' || c === ',') { tokens.push({ t: c }); i += 1; continue; }
    if (c === "'") {
      let s = '';
      i += 1;
      for (;;) {
        if (i >= src.length) throw new FilterError('unterminated string literal');
        if (src[i] === "'") {
          if (src[i + 1] === "'") { s += "'"; i += 2; continue; }
          i += 1;
          break;
        }
        s += src[i];
        i += 1;
      }
      tokens.push({ t: 'lit', v: s });
      continue;
    }
    const guid = GUID_RE.exec(src.slice(i));
    if (guid && !/[\w]/.test(src[i + guid[0].length] || '')) {
      tokens.push({ t: 'lit', v: guid[0].toLowerCase(), guid: true });
      i += guid[0].length;
      continue;
    }
    const num = /^-?\d+(\.\d+)?([eE][+-]?\d+)?[mMdDfFlL]?/.exec(src.slice(i));
    if (num && (c === '-' || /\d/.test(c))) {
      tokens.push({ t: 'lit', v: Number(num[0].replace(/[mMdDfFlL]$/, '')) });
      i += num[0].length;
      continue;
    }
    const ident = /^[A-Za-z_][\w.\/]*/.exec(src.slice(i));
    if (ident) {
      const w = ident[0];
      i += w.length;
      if (w === 'true' || w === 'false') tokens.push({ t: 'lit', v: w === 'true' });
      else if (w === 'null') tokens.push({ t: 'lit', v: null });
      else if (['eq', 'ne', 'gt', 'ge', 'lt', 'le', 'and', 'or', 'not'].includes(w)) tokens.push({ t: w });
      else tokens.push({ t: 'id', v: w });
      continue;
    }
    throw new FilterError(`unexpected character '${c}' at position ${i}`);
  }
  return tokens;
}

const FUNCS = {
  contains: 2, startswith: 2, endswith: 2, tolower: 1, toupper: 1, trim: 1, length: 1, indexof: 2,
};

export function parseFilter(src, properties) {
  const tokens = tokenize(src);
  let pos = 0;
  const peek = () => tokens[pos];
  const take = (t) => {
    const tok = tokens[pos];
    if (!tok || (t && tok.t !== t)) throw new FilterError(`expected ${t || 'a token'} at token ${pos}`);
    pos += 1;
    return tok;
  };

  function primary() {
    const tok = peek();
    if (!tok) throw new FilterError('unexpected end of $filter');
    if (tok.t === '(') {
      take('(');
      const e = orExpr();
      take(')');
      return e;
    }
    if (tok.t === 'lit') {
      take();
      return { k: 'lit', v: tok.v };
    }
    if (tok.t === 'id') {
      take();
      if (peek()?.t === '(') {
        const name = tok.v.toLowerCase();
        if (!(name in FUNCS)) throw new FilterError(`unsupported function ${tok.v}`);
        take('(');
        const args = [orExpr()];
        while (peek()?.t === ',') { take(','); args.push(orExpr()); }
        take(')');
        if (args.length !== FUNCS[name]) throw new FilterError(`${name} takes ${FUNCS[name]} argument(s)`);
        return { k: 'fn', name, args };
      }
      if (!(tok.v in properties)) throw new FilterError(`unknown property ${tok.v}`);
      return { k: 'prop', name: tok.v };
    }
    throw new FilterError(`unexpected token ${tok.t}`);
  }

  function comparison() {
    const left = primary();
    const op = peek();
    if (op && ['eq', 'ne', 'gt', 'ge', 'lt', 'le'].includes(op.t)) {
      take();
      return { k: 'cmp', op: op.t, left, right: primary() };
    }
    return left;
  }

  function unary() {
    if (peek()?.t === 'not') {
      take('not');
      return { k: 'not', e: unary() };
    }
    return comparison();
  }

  function andExpr() {
    let e = unary();
    while (peek()?.t === 'and') { take('and'); e = { k: 'and', a: e, b: unary() }; }
    return e;
  }

  function orExpr() {
    let e = andExpr();
    while (peek()?.t === 'or') { take('or'); e = { k: 'or', a: e, b: andExpr() }; }
    return e;
  }

  if (!tokens.length) throw new FilterError('empty $filter');
  const ast = orExpr();
  if (pos !== tokens.length) throw new FilterError(`unexpected token ${tokens[pos].t} at token ${pos}`);
  return (row) => Boolean(evaluate(ast, row));
}

function norm(v) {
  return typeof v === 'string' ? v.toLowerCase() : v;
}

function compare(op, a, b) {
  // lenient: number vs numeric string compares as numbers; GUIDs compare case-insensitively
  if (typeof a === 'number' && typeof b === 'string' && b.trim() !== '' && !Number.isNaN(Number(b))) b = Number(b);
  if (typeof b === 'number' && typeof a === 'string' && a.trim() !== '' && !Number.isNaN(Number(a))) a = Number(a);
  if (typeof a === 'string' && typeof b === 'string' && GUID_RE.test(a) && GUID_RE.test(b)) {
    a = a.toLowerCase();
    b = b.toLowerCase();
  }
  switch (op) {
    case 'eq': return a === b;
    case 'ne': return a !== b;
    case 'gt': return a !== null && b !== null && a > b;
    case 'ge': return a !== null && b !== null && a >= b;
    case 'lt': return a !== null && b !== null && a < b;
    case 'le': return a !== null && b !== null && a <= b;
    default: throw new FilterError(`bad operator ${op}`);
  }
}

function str(v) {
  return v === null || v === undefined ? '' : String(v);
}

function evaluate(n, row) {
  switch (n.k) {
    case 'lit': return n.v;
    case 'prop': return row[n.name] ?? null;
    case 'not': return !evaluate(n.e, row);
    case 'and': return evaluate(n.a, row) && evaluate(n.b, row);
    case 'or': return evaluate(n.a, row) || evaluate(n.b, row);
    case 'cmp': return compare(n.op, evaluate(n.left, row), evaluate(n.right, row));
    case 'fn': {
      const args = n.args.map((a) => evaluate(a, row));
      switch (n.name) {
        case 'contains': return norm(str(args[0])).includes(norm(str(args[1])));
        case 'startswith': return norm(str(args[0])).startsWith(norm(str(args[1])));
        case 'endswith': return norm(str(args[0])).endsWith(norm(str(args[1])));
        case 'indexof': return norm(str(args[0])).indexOf(norm(str(args[1])));
        case 'tolower': return str(args[0]).toLowerCase();
        case 'toupper': return str(args[0]).toUpperCase();
        case 'trim': return str(args[0]).trim();
        case 'length': return str(args[0]).length;
        default: throw new FilterError(`unsupported function ${n.name}`);
      }
    }
    default: throw new FilterError('bad expression');
  }
}
