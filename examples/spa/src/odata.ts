// Small helpers for building OData v4 queries (as ERP.net's Domain API reads them).

/** An OData string literal: single quotes around, a quote inside doubled (`O'Brien` → `'O''Brien'`). */
export function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** `contains(field,'text')`, or undefined for an empty search. */
export function containsFilter(field: string, text: string): string | undefined {
  const t = text.trim();
  return t ? `contains(${field},${literal(t)})` : undefined;
}

/**
 * A query string from OData options, values percent-encoded (`$filter=contains(Name,'a%20b')`).
 * Options whose value is undefined are left out.
 */
export function query(options: Record<string, string | number | undefined>): string {
  const parts = Object.entries(options)
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`);
  return parts.length ? '?' + parts.join('&') : '';
}
