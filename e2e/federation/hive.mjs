// Federated subscriptions through Hive Gateway, for the Go subgraph.
//
// It fetches the Go subgraph's SDL, starts a second subgraph ("labels")
// that adds a field to Video by its videoNo key, composes both with
// @theguild/federation-composition, serves the supergraph through Hive
// Gateway (@graphql-hive/gateway-runtime) and subscribes to watchVideos
// through it with the graphql-sse client, selecting the other subgraph's
// field. The gateway forwards the subscription to the Go subgraph over
// server-sent events ("sse", the gateway's default) or a WebSocket ("ws",
// @graphql-mesh/transport-ws), and resolves each event's label field from
// the labels subgraph. It prints ONE JSON object on stdout:
//
//   {"compositionErrors": [...], "events": [...payloads], "completed": bool,
//    "error": null | {...}, "labelsCalls": n}
//
//   node hive.mjs '{"subgraphUrl": "http://127.0.0.1:PORT/query", "kind": "sse" | "ws",
//                   "query": "...", "variables": {...}}'
//
// Logs go to stderr; the exit code is 1 only when something infrastructural
// failed.
import http from 'node:http';
import { parse } from 'graphql';
import { createYoga } from 'graphql-yoga';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { composeServices } from '@theguild/federation-composition';
import { createGatewayRuntime } from '@graphql-hive/gateway-runtime';
import { createClient } from 'graphql-sse';

const HOST = '127.0.0.1';
const opts = JSON.parse(process.argv[2]);
const log = (...args) => console.error('[hive-e2e]', ...args);

function listen(handler) {
  return new Promise((resolve, reject) => {
    const server = http.createServer(handler);
    server.once('error', reject);
    server.listen(0, HOST, () => resolve(server));
  });
}
const urlOf = (server, path) => `http://${HOST}:${server.address().port}${path}`;

// The Go subgraph's SDL, as the gateway's composition reads it.
const sdlRes = await fetch(opts.subgraphUrl, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ query: '{ _service { sdl } }' }),
});
const goSdl = (await sdlRes.json()).data._service.sdl;

// The labels subgraph: Video.label by key, counted so the test can see the
// gateway asked it for every event.
const labelsTypeDefs = parse(`
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
  type Query { labelsVersion: String! }
  type Video @key(fields: "videoNo") {
    videoNo: ID!
    label: String!
  }
`);
let labelsCalls = 0;
const labels = createYoga({
  graphqlEndpoint: '/graphql',
  logging: false,
  schema: buildSubgraphSchema({
    typeDefs: labelsTypeDefs,
    resolvers: {
      Query: { labelsVersion: () => '1' },
      Video: {
        __resolveReference: (ref) => {
          labelsCalls++;
          return { videoNo: ref.videoNo };
        },
        label: (v) => `label of ${v.videoNo}`,
      },
    },
  }),
});
const labelsServer = await listen(labels);

const composed = composeServices([
  { name: 'memories', typeDefs: parse(goSdl), url: opts.subgraphUrl },
  { name: 'labels', typeDefs: labelsTypeDefs, url: urlOf(labelsServer, '/graphql') },
]);
if (composed.errors && composed.errors.length > 0) {
  process.stdout.write(JSON.stringify({ compositionErrors: composed.errors.map((e) => ({ message: e.message })) }));
  labelsServer.close();
  process.exit(0);
}

const transportEntries = {};
if (opts.kind === 'ws') {
  transportEntries.memories = { options: { subscriptions: { kind: 'ws', location: new URL(opts.subgraphUrl).pathname } } };
}
const gateway = createGatewayRuntime({
  supergraph: composed.supergraphSdl,
  transportEntries,
  logging: process.env.HIVE_DEBUG ? 'debug' : false,
});
const gatewayServer = await listen(gateway);

const events = [];
const client = createClient({ url: urlOf(gatewayServer, '/graphql'), retryAttempts: 0 });
const result = await new Promise((resolve) => {
  client.subscribe(
    { query: opts.query, variables: opts.variables ?? {} },
    {
      next: (payload) => events.push(payload),
      error: (err) => resolve({ completed: false, error: { message: String(err && err.message ? err.message : JSON.stringify(err)) } }),
      complete: () => resolve({ completed: true, error: null }),
    },
  );
});
client.dispose();
process.stdout.write(JSON.stringify({ compositionErrors: [], events, ...result, labelsCalls }));
await gateway.dispose();
gatewayServer.closeAllConnections();
gatewayServer.close();
labelsServer.close();
log('done');
process.exit(0);
