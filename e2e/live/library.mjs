// Pages through a library listing (videoLibrary) with Apollo Client 4: a
// watched query for the first page, then fetchMore with the last endCursor
// until hasNextPage is false, merged in the cache by relayStylePagination.
// Prints, as JSON: {"pages": requests sent, "totalCount", "hasNextPage",
// "nodes": [videoNo...] as the cache's merged connection holds them at the
// end, "observed": the same as the watched query last emitted them,
// "errors": [messages]}.
//
//   node library.mjs '{"url": "http://127.0.0.1:PORT/query", "first": 7,
//                      "uniqueId": "default", "filter": {...}}'
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { relayStylePagination } from '@apollo/client/utilities';

// maxPages bounds the loop: a server whose hasNextPage never turns false
// is reported, not followed for ever.
const maxPages = 1000;

const opts = JSON.parse(process.argv[2]);
let pages = 0;
const client = new ApolloClient({
  link: new HttpLink({
    uri: opts.url,
    fetch: (...args) => {
      pages++;
      return fetch(...args);
    },
  }),
  // Only the connection's merge: Video is normalized by its id, as
  // InMemoryCache does by default.
  cache: new InMemoryCache({
    typePolicies: {
      Query: { fields: { videoLibrary: relayStylePagination(['uniqueId', 'filter']) } },
    },
  }),
});

const query = gql`
  query Library($uniqueId: String! = "default", $first: Int, $after: String, $filter: VideoFilter) {
    videoLibrary(uniqueId: $uniqueId, first: $first, after: $after, filter: $filter) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { cursor node { id videoNo uniqueId videoName status } }
    }
  }
`;
const variables = { first: opts.first };
if (opts.uniqueId !== undefined) variables.uniqueId = opts.uniqueId;
if (opts.filter !== undefined) variables.filter = opts.filter;

const errors = [];
const message = (err) => String(err && err.message ? err.message : err);
const observable = client.watchQuery({ query, variables, fetchPolicy: 'network-only' });
let last = null;
let firstResult;
const first = new Promise((resolve) => { firstResult = resolve; });
const sub = observable.subscribe({
  next: (r) => {
    if (r.dataState === 'empty' && !r.error) return; // loading, before the first page
    last = r;
    if (r.error) errors.push(message(r.error));
    firstResult();
  },
  error: (err) => {
    errors.push(message(err));
    firstResult();
  },
});
await first;

let conn = last && last.data ? last.data.videoLibrary : null;
while (conn && conn.pageInfo.hasNextPage && pages < maxPages && errors.length === 0) {
  try {
    const r = await observable.fetchMore({ variables: { after: conn.pageInfo.endCursor } });
    if (r.error) errors.push(message(r.error));
  } catch (err) {
    errors.push(message(err));
    break;
  }
  // The merged connection, as the cache holds it now.
  conn = client.readQuery({ query, variables })?.videoLibrary ?? null;
}
if (conn && conn.pageInfo.hasNextPage && pages >= maxPages) {
  errors.push(`still hasNextPage after ${pages} requests`);
}

const merged = client.readQuery({ query, variables })?.videoLibrary ?? null;
// The watched query emits the merged connection a tick after fetchMore
// resolves: wait for it (a while at most) before reading what it holds.
const settled = () => last && last.networkStatus === 7 && last.data?.videoLibrary?.edges.length === merged?.edges.length;
for (const until = Date.now() + 2000; merged && !settled() && Date.now() < until;) {
  await new Promise((resolve) => setTimeout(resolve, 10));
}
const observed = last && last.data ? last.data.videoLibrary : null;
sub.unsubscribe();
client.stop();
process.stdout.write(JSON.stringify({
  pages,
  totalCount: merged ? merged.totalCount : null,
  hasNextPage: merged ? merged.pageInfo.hasNextPage : null,
  nodes: merged ? merged.edges.map((e) => e.node.videoNo) : null,
  observed: observed ? observed.edges.map((e) => e.node.videoNo) : null,
  errors,
}));
