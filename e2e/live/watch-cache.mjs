// A watch's events update what a query shows, through the client's
// normalized cache and nothing else: a list query of processing videos is
// watched, then a watchVideos subscription over a WebSocket (graphql-ws)
// runs until it completes; each event's video lands on the list's Video
// entries by id. With Apollo Client 4 (GraphQLWsLink in a split link, a
// default InMemoryCache) or urql (Graphcache with no configuration,
// subscriptionExchange over graphql-ws), as docs/clients.md sets them up.
// Prints, as JSON: {"first": the list's first data, "last": its last,
// "events": the subscription's data, "completed": bool,
// "requests": {operationName: count} over HTTP, "console": [{level, message}]}.
//
//   node watch-cache.mjs '{"client": "apollo" | "urql", "url": "http://127.0.0.1:PORT/query", "nos": ["VI..."]}'
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';
import { captureConsole, readingFetch, until } from './testkit.mjs';

const opts = JSON.parse(process.argv[2]);
const logged = captureConsole();
const requests = {};
const wsUrl = opts.url.replace(/^http/, 'ws');
// Node 20 has no WebSocket of its own: browsers need no webSocketImpl.
const ws = createClient({ url: wsUrl, webSocketImpl: WebSocket, retryAttempts: 0 });

const LIST = `query Uploads($nos: [ID!]!) { videos(videoNos: $nos) { id videoNo status } }`;
const WATCH = `subscription WatchUploads($nos: [ID!]!) { watchVideos(videoNos: $nos) { id status } }`;
const variables = { nos: opts.nos };

const list = [];
const events = [];
let completed = false;
let failed = null;
let stop;

if (opts.client === 'apollo') {
  const { ApolloClient, HttpLink, InMemoryCache, gql, split } = await import('@apollo/client');
  const { GraphQLWsLink } = await import('@apollo/client/link/subscriptions');
  const { getMainDefinition } = await import('@apollo/client/utilities');
  const link = split(
    ({ query }) => {
      const def = getMainDefinition(query);
      return def.kind === 'OperationDefinition' && def.operation === 'subscription';
    },
    new GraphQLWsLink(ws),
    new HttpLink({ uri: opts.url, fetch: readingFetch(requests) }),
  );
  const client = new ApolloClient({ link, cache: new InMemoryCache() });
  const q = client.watchQuery({ query: gql(LIST), variables }).subscribe({
    next: (r) => {
      if (r.error) failed = r.error.message;
      if (r.dataState === 'complete') list.push(r.data);
    },
  });
  await until('the list', () => list.length || failed);
  const s = client.subscribe({ query: gql(WATCH), variables }).subscribe({
    next: (r) => {
      if (r.error) failed = r.error.message;
      else events.push(r.data);
    },
    complete: () => { completed = true; },
  });
  stop = () => { s.unsubscribe(); q.unsubscribe(); client.stop(); };
} else {
  const { Client, fetchExchange, subscriptionExchange } = await import('@urql/core');
  const { cacheExchange } = await import('@urql/exchange-graphcache');
  const client = new Client({
    url: opts.url,
    fetch: readingFetch(requests),
    exchanges: [
      cacheExchange(),
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query || '' };
          return { subscribe: (sink) => ({ unsubscribe: ws.subscribe(input, sink) }) };
        },
      }),
    ],
  });
  const q = client.query(LIST, variables).subscribe((r) => {
    if (r.error) failed = r.error.message;
    if (r.data) list.push(r.data);
  });
  await until('the list', () => list.length || failed);
  const s = client.subscription(WATCH, variables).subscribe((r) => {
    if (r.error) failed = r.error.message;
    else if (r.data) events.push(r.data);
  });
  // The result callback hears of no completion: the watch is done when
  // its last video has settled.
  stop = () => { s.unsubscribe(); q.unsubscribe(); };
}

const settled = (v) => v && (v.status === 'PARSE' || v.status === 'FAILED');
const lastOf = {};
// Apollo hears the completion the server sends once every video has
// settled: it waits for that, rather than stopping at the last event and
// racing the completion that follows it.
await until('every video to settle', () => {
  for (const e of events) lastOf[e.watchVideos.id] = e.watchVideos;
  const all = Object.keys(lastOf).length === opts.nos.length && Object.values(lastOf).every(settled);
  return failed || completed || (opts.client !== 'apollo' && all);
}, 20000);
// The list hears of the last event from the cache.
await until('the list to settle', () => failed || list.at(-1).videos.every(settled), 2000).catch(() => {});
stop();
await ws.dispose();
process.stdout.write(JSON.stringify({ first: list[0] ?? null, last: list.at(-1) ?? null, events, completed, error: failed, requests, console: logged }));
