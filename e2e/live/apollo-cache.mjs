// Apollo Client 4 with a default InMemoryCache (no typePolicies, no
// possibleTypes), as docs/clients.md sets it up: two queries that select
// the same video, each watched; a refetch of one after the video changed
// upstream; then a node(id:) refetch of the video. Pauses at "rename" for
// the test to rename the video upstream (see testkit.mjs). Prints, as JSON:
//   {"first": {"extract": cache.extract(), "videos": data, "video": data},
//    "refetched": {"extract", "videos": data, "video": data of the watcher},
//    "node": {"data", "identify": cache.identify(node), "extract", "readBack"},
//    "requests": {operationName: count}, "contentTypes": {operationName: the
//    last answer's Content-Type}, "console": [{level, message}]}
//
//   node apollo-cache.mjs '{"url": "http://127.0.0.1:PORT/query", "nos": ["VI...", "VI..."]}'
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { captureConsole, done, pause, until } from './testkit.mjs';

const opts = JSON.parse(process.argv[2]);
const logged = captureConsole();
const requests = {};
const contentTypes = {};
const client = new ApolloClient({
  link: new HttpLink({
    uri: opts.url,
    fetch: (url, init) => {
      const { operationName } = JSON.parse(init.body);
      requests[operationName] = (requests[operationName] ?? 0) + 1;
      return fetch(url, init).then((res) => {
        contentTypes[operationName] = res.headers.get('content-type');
        return res;
      });
    },
  }),
  cache: new InMemoryCache(),
});

// Two components' queries: a list and a detail view of one of its videos.
const VIDEOS = gql`
  query Videos($nos: [ID!]!) {
    videos(videoNos: $nos) { id videoName status }
  }
`;
const VIDEO = gql`
  query Video($no: ID!) {
    video(videoNo: $no) { id videoName duration }
  }
`;
const NODE = gql`
  query Refetch($id: ID!) {
    node(id: $id) { id ... on Video { videoNo fps } }
  }
`;
// Both views' fields and the node's, read from the cache alone.
const MERGED = gql`
  query Merged($no: ID!) {
    video(videoNo: $no) { id videoNo videoName status duration fps }
  }
`;

// watch subscribes to a query and keeps every result it emits with data.
function watch(query, variables) {
  const results = [];
  const errors = [];
  const observable = client.watchQuery({ query, variables });
  const sub = observable.subscribe({
    next: (r) => {
      if (r.error) errors.push(r.error.message);
      if (r.dataState === 'complete') results.push(r.data);
    },
    error: (err) => errors.push(String(err?.message ?? err)),
  });
  return { observable, results, errors, last: () => results.at(-1), stop: () => sub.unsubscribe() };
}

const [x] = opts.nos;
const list = watch(VIDEOS, { nos: opts.nos });
const detail = watch(VIDEO, { no: x });
await until('both queries', () => (list.last() && detail.last()) || list.errors.length || detail.errors.length);
if (list.errors.length || detail.errors.length) throw new Error(`errors: ${[...list.errors, ...detail.errors]}`);
const first = { extract: client.cache.extract(), videos: list.last(), video: detail.last() };

await pause('rename');
const before = detail.last().video.videoName;
const refetch = await list.observable.refetch();
if (refetch.error) throw new Error(`refetch: ${refetch.error.message}`);
// The detail view's watcher hears of the new name from the cache.
await until('the detail view to change', () => detail.last().video.videoName !== before, 3000).catch(() => {});
const refetched = { extract: client.cache.extract(), videos: list.last(), video: detail.last() };

const id = first.videos.videos[0].id;
const r = await client.query({ query: NODE, variables: { id }, fetchPolicy: 'network-only' });
const node = {
  data: r.data,
  error: r.error ? r.error.message : null,
  identify: r.data?.node ? client.cache.identify(r.data.node) : null,
  extract: client.cache.extract(),
  readBack: client.readQuery({ query: MERGED, variables: { no: x } }),
};

list.stop();
detail.stop();
client.stop();
done({ first, refetched, node, requests, contentTypes, console: logged });
