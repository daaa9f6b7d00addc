// What the client scripts share (apollo-cache.mjs, urql-cache.mjs, ...):
// pausing for the Go test, catching the console, waiting, and a fetch that
// counts requests.
import { createInterface } from 'node:readline';

// lines reads standard input, from the first pause on.
let lines = null;

// pause lets a script stop where the Go test must change something (the
// emulator's videos, say) before it goes on: it prints {"pause": name} on a
// line of its own and waits for a line on standard input, which the test
// (runNodeSteps in e2e/clients_test.go) writes once it is done. The
// script's result is its last line (done).
export async function pause(name) {
  process.stdout.write(JSON.stringify({ pause: name }) + '\n');
  lines ??= createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  const { done } = await lines.next();
  if (done) throw new Error(`pause ${name}: standard input closed`);
}

// done prints the result and lets standard input go, so that the script
// ends while the test still holds its end of the pipe open.
export function done(result) {
  process.stdout.write(JSON.stringify(result) + '\n');
  if (lines) {
    lines.return();
    process.stdin.destroy();
  }
}

// captureConsole records what the client warns or logs as an error (a
// cache that cannot normalize an object says so there) and returns the
// list it fills.
export function captureConsole() {
  const seen = [];
  for (const level of ['warn', 'error']) {
    const original = console[level].bind(console);
    console[level] = (...args) => {
      seen.push({ level, message: args.map((a) => (a instanceof Error ? a.message : typeof a === 'string' ? a : JSON.stringify(a))).join(' ') });
      original(...args);
    };
  }
  return seen;
}

// until resolves once ok() holds, or rejects after ms.
export async function until(what, ok, ms = 5000) {
  for (const end = Date.now() + ms; !ok();) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

// readingFetch returns a fetch that counts requests by operation name in
// counts, keeps the last answer's Content-Type by operation name in types
// (the tests check urql's queries are answered as JSON), and hands the
// client a response it has already read. urql aborts each fetch once it
// has its result; an abort is passed on only while the request is in
// flight, so that one arriving after a stream's end cannot surface as
// Node 20's uncaught AbortError. Browsers need none of this.
export function readingFetch(counts = {}, types = {}) {
  return async (url, init = {}) => {
    // urql sends queries as GET where the URL stays short, POST otherwise.
    const operationName = init.body ? JSON.parse(init.body).operationName : new URL(url).searchParams.get('operationName');
    counts[operationName] = (counts[operationName] ?? 0) + 1;
    const inFlight = new AbortController();
    const follow = () => inFlight.abort(init.signal.reason);
    init.signal?.addEventListener('abort', follow, { once: true });
    try {
      const res = await fetch(url, { ...init, signal: inFlight.signal });
      types[operationName] = res.headers.get('content-type');
      const body = await res.arrayBuffer();
      return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
    } finally {
      init.signal?.removeEventListener('abort', follow);
    }
  };
}
