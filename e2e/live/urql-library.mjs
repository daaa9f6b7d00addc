// Pages through a library listing (videoLibrary) with urql and Graphcache,
// whose only configuration is relayPagination on the connection field, as
// docs/clients.md sets it up: each page is the same query with the last
// endCursor as after, and Graphcache merges the pages into the connection
// of the first. Prints, as JSON: {"pages": requests sent, "totalCount",
// "hasNextPage", "nodes": [videoNo...] of the merged connection as the
// first page's query reads it from the cache, "last": the same as the last
// page's query answered it, "errors": [messages], "console": [{level, message}]}.
//
//   node urql-library.mjs '{"url": "http://127.0.0.1:PORT/query", "first": 7}'
import { Client, fetchExchange, gql } from '@urql/core';
import { cacheExchange } from '@urql/exchange-graphcache';
import { relayPagination } from '@urql/exchange-graphcache/extras';
import { captureConsole, readingFetch } from './testkit.mjs';

const maxPages = 1000;
const opts = JSON.parse(process.argv[2]);
const logged = captureConsole();
const requests = {};

const client = new Client({
  url: opts.url,
  fetch: readingFetch(requests),
  exchanges: [cacheExchange({ resolvers: { Query: { videoLibrary: relayPagination() } } }), fetchExchange],
});

const LIBRARY = gql`
  query Library($first: Int, $after: String, $filter: VideoFilter) {
    videoLibrary(first: $first, after: $after, filter: $filter) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { cursor node { id videoNo uniqueId videoName status } }
    }
  }
`;

const errors = [];
let conn = null;
let after = null;
do {
  const r = await client.query(LIBRARY, { first: opts.first, after, filter: opts.filter }).toPromise();
  if (r.error) {
    errors.push(r.error.message);
    break;
  }
  conn = r.data.videoLibrary; // every page so far, merged
  after = conn.pageInfo.endCursor;
} while (conn.pageInfo.hasNextPage && (requests.Library ?? 0) < maxPages);
const pages = requests.Library ?? 0;
if (conn && conn.pageInfo.hasNextPage) errors.push(`still hasNextPage after ${pages} requests`);

// The first page's query, from the cache alone: the merged connection.
const first = client.readQuery(LIBRARY, { first: opts.first, after: null, filter: opts.filter });
const merged = first?.data?.videoLibrary ?? null;
process.stdout.write(JSON.stringify({
  pages,
  totalCount: merged ? merged.totalCount : null,
  hasNextPage: merged ? merged.pageInfo.hasNextPage : null,
  nodes: merged ? merged.edges.map((e) => e.node.videoNo) : null,
  last: conn ? conn.edges.map((e) => e.node.videoNo) : null,
  errors,
  console: logged,
}));
