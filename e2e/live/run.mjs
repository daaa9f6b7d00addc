// Subscribes to a GraphQL server with a reference client and prints what
// arrived as JSON: {"events": [...payloads], "completed": bool,
// "error": null | {...}}.
//
//   node run.mjs '{"url": "http://127.0.0.1:PORT/query", "transport": "ws" | "sse",
//                  "query": "...", "variables": {...},
//                  "connectionParams": {...}, "headers": {...}}'
//
// "ws" is graphql-ws's client (graphql-transport-ws), "sse" graphql-sse's in
// its distinct connections mode. Neither retries: a failure is reported,
// with the WebSocket's close code and reason.
import { createClient as createWsClient } from 'graphql-ws';
import { createClient as createSseClient } from 'graphql-sse';
import WebSocket from 'ws';

const opts = JSON.parse(process.argv[2]);
const events = [];

function describe(err) {
  if (err && typeof err === 'object' && 'code' in err && 'reason' in err) {
    return { closeCode: err.code, reason: err.reason };
  }
  if (Array.isArray(err)) return { graphqlErrors: err };
  return { message: String(err && err.message ? err.message : err) };
}

function subscribe(client) {
  return new Promise((resolve) => {
    client.subscribe(
      { query: opts.query, variables: opts.variables ?? {} },
      {
        next: (payload) => events.push(payload),
        error: (err) => resolve({ completed: false, error: describe(err) }),
        complete: () => resolve({ completed: true, error: null }),
      },
    );
  });
}

let client;
if (opts.transport === 'ws') {
  let closed = null;
  client = createWsClient({
    url: opts.url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: opts.connectionParams,
    retryAttempts: 0,
    lazy: true,
    on: { closed: (e) => { closed = { closeCode: e.code, reason: e.reason }; } },
  });
  const result = await subscribe(client);
  if (!result.completed && closed && !result.error.closeCode) result.error = closed;
  await client.dispose();
  process.stdout.write(JSON.stringify({ events, ...result }));
} else {
  client = createSseClient({ url: opts.url, headers: opts.headers ?? {}, retryAttempts: 0 });
  const result = await subscribe(client);
  client.dispose();
  process.stdout.write(JSON.stringify({ events, ...result }));
}
