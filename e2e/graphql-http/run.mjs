// GraphQL-over-HTTP audit of the Go server (memories-graphql).
//
// Runs graphql-http's reference server audits (`auditServer`, the checks of
// https://graphql.github.io/graphql-over-http/draft/) against one GraphQL URL
// and prints ONE JSON object on stdout:
//
//   {
//     "url": "http://127.0.0.1:18090/query",
//     "graphqlHttp": "1.23.1",                 // the auditing package's version
//     "summary": {
//       "MUST":   {"total": 23, "ok": 23, "failed": 0},
//       "SHOULD": {"total": 22, "ok": 22, "failed": 0},
//       "MAY":    {"total": 16, "ok": 15, "failed": 1}
//     },
//     "failed": {"MUST": [], "SHOULD": [], "MAY": ["9ABE ..."]},   // "id name" of each failure
//     "audits": [
//       {"id": "4655", "name": "MUST accept application/json and match the content-type",
//        "level": "MUST", "status": "ok"},
//       {"id": "A5BF", "name": "MAY use 400 status code when request body is missing on POST",
//        "level": "MAY", "status": "notice", "reason": "Response status code is not 400",
//        "response": {"status": 422, "contentType": "application/json", "body": "{...}"}}
//     ]
//   }
//
// The level of an audit is the first word of its name (MUST, SHOULD or MAY;
// "MAY NOT ..." is a MAY). status is graphql-http's: "ok" when the audit
// passed; when it failed "error" for a MUST, "warn" for a SHOULD and "notice"
// for a MAY. A failed audit carries graphql-http's reason and the response it
// judged (status, Content-Type, the body cut to 2000 characters).
//
// Logs go to stderr. The exit code is 0 whenever the JSON was printed, even
// when audits failed (the caller decides which failures matter; see
// e2e/graphqlhttp_test.go); it is 1, with a message on stderr, only when the audit
// could not run: no URL, the server unreachable, or the global timeout.
//
// Usage:
//   node run.mjs http://127.0.0.1:18090/query
//   GRAPHQL_URL=http://127.0.0.1:18090/query node run.mjs
//
// Environment:
//   GRAPHQL_URL         the GraphQL endpoint, when not given as the first argument
//   ACCESS_TOKEN        optional; sent as X-Access-Token with every audit request
//                       (for a server started with ACCESS_TOKENS)
//   AUTHORIZATION       optional; sent as Authorization with every audit request
//                       (a memories.ai key, for a pass-through server)
//   HARNESS_TIMEOUT_MS  global deadline (default 60000)

import { readFileSync } from 'node:fs';
import { auditServer } from 'graphql-http';

const log = (...args) => console.error('[graphql-http-audit]', ...args);

class InfraError extends Error {}

function fail(message) {
  throw new InfraError(message);
}

function intEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) fail(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

function packageVersion() {
  try {
    const url = new URL('./node_modules/graphql-http/package.json', import.meta.url);
    return JSON.parse(readFileSync(url, 'utf8')).version;
  } catch {
    return null;
  }
}

const LEVELS = ['MUST', 'SHOULD', 'MAY'];

function levelOf(name) {
  const first = name.split(' ', 1)[0];
  return LEVELS.includes(first) ? first : 'UNKNOWN';
}

async function describeResponse(res) {
  if (!res) return undefined;
  let body;
  try {
    body = await res.text();
  } catch (err) {
    body = `<unreadable: ${err.message}>`;
  }
  if (body.length > 2000) body = body.slice(0, 2000) + '…';
  return { status: res.status, contentType: res.headers.get('content-type'), body };
}

async function main() {
  const url = process.argv[2] || process.env.GRAPHQL_URL;
  if (!url) fail('give the GraphQL URL as the first argument or in GRAPHQL_URL');
  try {
    new URL(url);
  } catch {
    fail(`not a URL: ${JSON.stringify(url)}`);
  }
  const timeoutMs = intEnv('HARNESS_TIMEOUT_MS', 60000);

  const extra = {};
  if (process.env.ACCESS_TOKEN) extra['x-access-token'] = process.env.ACCESS_TOKEN;
  if (process.env.AUTHORIZATION) extra['authorization'] = process.env.AUTHORIZATION;
  // Every audit request goes through this fetch: it adds the optional
  // credentials and fails a request that hangs instead of hanging the audit.
  const fetchFn = (input, init = {}) => {
    const headers = new Headers(init.headers);
    for (const [k, v] of Object.entries(extra)) headers.set(k, v);
    return fetch(input, { ...init, headers, signal: AbortSignal.timeout(timeoutMs) });
  };

  // Reachability first, so that a wrong URL reads as such rather than as 61
  // failed audits or a fetch stack trace.
  try {
    await fetchFn(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
  } catch (err) {
    fail(`${url} is unreachable: ${err.cause?.message || err.message}`);
  }

  log(`auditing ${url}`);
  const started = Date.now();
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new InfraError(`audit did not finish within ${timeoutMs} ms`)), timeoutMs);
  });
  let results;
  try {
    results = await Promise.race([auditServer({ url, fetchFn }), deadline]);
  } finally {
    clearTimeout(timer);
  }

  const summary = Object.fromEntries(LEVELS.map((l) => [l, { total: 0, ok: 0, failed: 0 }]));
  const failed = Object.fromEntries(LEVELS.map((l) => [l, []]));
  const audits = [];
  for (const r of results) {
    const level = levelOf(r.name);
    const entry = { id: r.id, name: r.name, level, status: r.status };
    if (r.status !== 'ok') {
      entry.reason = r.reason;
      entry.response = await describeResponse(r.response);
    }
    audits.push(entry);
    if (!summary[level]) {
      summary[level] = { total: 0, ok: 0, failed: 0 };
      failed[level] = [];
    }
    summary[level].total++;
    if (r.status === 'ok') {
      summary[level].ok++;
    } else {
      summary[level].failed++;
      failed[level].push(`${r.id} ${r.name}`);
    }
  }
  log(
    `done in ${Date.now() - started} ms: ` +
      Object.entries(summary)
        .map(([l, s]) => `${l} ${s.ok}/${s.total}`)
        .join(', '),
  );
  return { url, graphqlHttp: packageVersion(), summary, failed, audits };
}

try {
  const out = await main();
  process.stdout.write(JSON.stringify(out, null, 2) + '\n');
} catch (err) {
  log('FAILED:', err instanceof InfraError ? err.message : err?.stack || err);
  process.exitCode = 1;
}
