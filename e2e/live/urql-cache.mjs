// urql with Graphcache and no configuration at all (no keys, no schema), as
// docs/clients.md sets it up: the same two watched queries as
// apollo-cache.mjs, a network-only refetch of one after the video changed
// upstream, then a node(id:) refetch. Graphcache has no cache.extract(): a
// recording StorageAdapter (its persistence hook, which changes nothing of
// how it normalizes) shows the entities it holds. Pauses at "rename" for the
// test to rename the video upstream (see testkit.mjs). Prints, as JSON:
//   {"first": {"entities", "videos": data, "video": data},
//    "refetched": {"entities", "videos", "video": data of the watcher},
//    "node": {"data", "entities", "readBack"},
//    "requests": {operationName: count}, "contentTypes": {operationName: the
//    last answer's Content-Type}, "console": [{level, message}]}
// With "withoutId": true the queries leave id out, as a check that the
// warnings Graphcache gives then are caught.
//
//   node urql-cache.mjs '{"url": "http://127.0.0.1:PORT/query", "nos": ["VI...", "VI..."]}'
import { Client, fetchExchange, gql } from '@urql/core';
import { cacheExchange } from '@urql/exchange-graphcache';
import { captureConsole, done, pause, readingFetch, until } from './testkit.mjs';

const opts = JSON.parse(process.argv[2]);
const logged = captureConsole();
const requests = {};
const contentTypes = {};

// stored is what Graphcache persisted: "entityKey.fieldKey" -> JSON value,
// or ":" and the JSON of a link to other entities.
const stored = {};
const storage = {
  readData: async () => ({}),
  writeData: async (delta) => {
    for (const [k, v] of Object.entries(delta)) {
      if (v === undefined) delete stored[k];
      else stored[k] = v;
    }
  },
};
// entities groups stored by entity key: {entityKey: {fieldKey: value}},
// a link as {"link": key or keys}.
function entities() {
  const out = {};
  for (const [k, v] of Object.entries(stored)) {
    const dot = k.indexOf('.');
    (out[k.slice(0, dot)] ??= {})[k.slice(dot + 1)] = v[0] === ':' ? { link: JSON.parse(v.slice(1)) } : JSON.parse(v);
  }
  return out;
}

const client = new Client({
  url: opts.url,
  exchanges: [cacheExchange({ storage }), fetchExchange],
  fetch: readingFetch(requests, contentTypes),
});

const id = opts.withoutId ? '' : 'id';
const VIDEOS = gql`
  query Videos($nos: [ID!]!) {
    videos(videoNos: $nos) { ${id} videoName status }
  }
`;
const VIDEO = gql`
  query Video($no: ID!) {
    video(videoNo: $no) { ${id} videoName duration }
  }
`;
const NODE = gql`
  query Refetch($id: ID!) {
    node(id: $id) { id ... on Video { videoNo fps } }
  }
`;
const MERGED = gql`
  query Merged($no: ID!) {
    video(videoNo: $no) { ${id} videoNo videoName status duration fps }
  }
`;

// watch subscribes to a query and keeps every result it emits with data.
function watch(query, variables) {
  const results = [];
  const errors = [];
  const sub = client.query(query, variables).subscribe((r) => {
    if (r.error) errors.push(r.error.message);
    if (r.data) results.push(r.data);
  });
  return { results, errors, last: () => results.at(-1), stop: () => sub.unsubscribe() };
}

const [x] = opts.nos;
const list = watch(VIDEOS, { nos: opts.nos });
const detail = watch(VIDEO, { no: x });
await until('both queries', () => (list.last() && detail.last()) || list.errors.length || detail.errors.length);
if (list.errors.length || detail.errors.length) throw new Error(`errors: ${[...list.errors, ...detail.errors]}`);
await new Promise((resolve) => setTimeout(resolve, 10)); // storage writes are batched
const first = { entities: entities(), videos: list.last(), video: detail.last() };

await pause('rename');
const before = detail.last().video.videoName;
// urql's refetch: the same query again, from the network.
const refetch = await client.query(VIDEOS, { nos: opts.nos }, { requestPolicy: 'network-only' }).toPromise();
if (refetch.error) throw new Error(`refetch: ${refetch.error.message}`);
await until('the detail view to change', () => detail.last().video.videoName !== before, opts.withoutId ? 1000 : 3000).catch(() => {});
await new Promise((resolve) => setTimeout(resolve, 10));
const refetched = { entities: entities(), videos: list.last(), video: detail.last() };

let node = null;
if (!opts.withoutId) {
  const r = await client.query(NODE, { id: first.videos.videos[0].id }, { requestPolicy: 'network-only' }).toPromise();
  await new Promise((resolve) => setTimeout(resolve, 10));
  const back = client.readQuery(MERGED, { no: x });
  node = {
    data: r.data ?? null,
    error: r.error ? r.error.message : null,
    entities: entities(),
    readBack: back ? back.data ?? null : null,
  };
}

list.stop();
detail.stop();
done({ first, refetched, node, requests, contentTypes, console: logged });
