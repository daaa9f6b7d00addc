// End-to-end federation harness for the Go subgraph (memories-graphql).
//
// It fetches the Go subgraph's SDL, starts a second subgraph ("collections")
// that references Video entities by key and adds Video.collectionNames,
// composes both into a supergraph with @apollo/composition, serves that
// supergraph through @apollo/gateway on @apollo/server, queries the gateway
// and prints ONE JSON object on stdout:
//
//   {
//     "compositionErrors": [{message, code}],   // empty when composition succeeded
//     "compositionHints":  [{message, code}],
//     "supergraphSdl":     "..." | null,         // null when composition failed
//     "collections":       {"all": [...], "withFailures": [...]},  // the video numbers served, in order
//     "all":               {httpStatus, data, errors} | null,
//     "withFailures":      {httpStatus, data, errors} | null,
//     "library":           {...} | null,         // the videoLibrary pages, see LIBRARY_FIRST
//     "collectionsCalls":  {entities, representations},  // _entities requests the collections subgraph served
//     "timingsMs":         {...}
//   }
//
// "library", when LIBRARY_FIRST is set and "library" is among QUERIES:
//
//   {
//     "first": n, "maxPages": n,
//     "pages":      [{httpStatus, data, errors}],  // every answer, in order
//     "nodes":      [{cursor, videoNo, videoName, collectionNames}],  // every edge of every page, in order
//     "totalCount": n | null,                      // the last page's
//     "complete":   bool,    // the last page said hasNextPage: false
//     "stopped":    "..." | null,  // why paging stopped otherwise (errors, no data, maxPages, a cursor that did not advance)
//     "errors":     [{page, message, path, extensions}]  // every page's errors, with the page's index
//   }
//
// Logs go to stderr. The exit code is 0 whenever the JSON was printed, even
// when composition failed (the caller asserts on compositionErrors); it is 1,
// with a message on stderr, only when something infrastructural failed (bad
// input, the Go subgraph unreachable, a server that would not start, the global
// timeout).
//
// Environment:
//   SUBGRAPH_URL          the Go server's GraphQL URL, e.g. http://127.0.0.1:18090/query (required)
//   VIDEO_NOS             JSON array of video numbers (required, non-empty)
//   REPEAT                number of references in collection "all", cycling through VIDEO_NOS
//                         (default: VIDEO_NOS.length)
//   FAILING_VIDEO_NOS     JSON array of extra video numbers for collection "with-failures"
//                         (default: [])
//   LIBRARY_FIRST         when set, also page through `videoLibrary` (the default scope, no
//                         filter) through the gateway, `first` videos a page, following
//                         endCursor until hasNextPage is false
//   LIBRARY_MAX_PAGES     the bound on those pages (default 100)
//   QUERIES               comma-separated query sets to run, of all, withFailures, library
//                         (default: all,withFailures, plus library when LIBRARY_FIRST is set)
//   CLIENT_AUTHORIZATION  optional; sent as `Authorization` to the gateway (and to the Go
//                         subgraph when fetching its SDL); the gateway forwards it to the
//                         Go subgraph on every subgraph request
//   HARNESS_TIMEOUT_MS    global deadline (default 120000)
//   REQUEST_TIMEOUT_MS    deadline of each HTTP request the harness makes (default 60000)

import { parse } from 'graphql';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { composeServices } from '@apollo/composition';
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';

const HOST = '127.0.0.1';

// Nothing here may talk to Apollo's cloud services: without these variables
// Apollo Server neither reports usage nor schemas, and the gateway, given a
// static supergraphSdl, never polls anything.
for (const name of ['APOLLO_KEY', 'APOLLO_GRAPH_REF', 'APOLLO_GRAPH_ID', 'APOLLO_GRAPH_VARIANT', 'APOLLO_SCHEMA_REPORTING']) {
  delete process.env[name];
}

const log = (...args) => console.error('[federation-e2e]', ...args);

// A logger for Apollo Server and the gateway that writes to stderr only, so
// stdout carries nothing but the JSON result.
const stderrLogger = {
  debug: () => {},
  info: (...a) => console.error('[apollo info]', ...a),
  warn: (...a) => console.error('[apollo warn]', ...a),
  error: (...a) => console.error('[apollo error]', ...a),
};

class InfraError extends Error {}

function fail(message) {
  throw new InfraError(message);
}

function intEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) fail(`${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  return n;
}

function jsonArrayEnv(name, { required }) {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') {
    if (required) fail(`${name} is required (a JSON array of video numbers)`);
    return [];
  }
  let v;
  try {
    v = JSON.parse(raw);
  } catch (e) {
    fail(`${name} is not valid JSON: ${e.message}`);
  }
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && x !== '')) {
    fail(`${name} must be a JSON array of non-empty strings`);
  }
  if (required && v.length === 0) fail(`${name} must not be empty`);
  return v;
}

const REQUEST_TIMEOUT_MS = intEnv('REQUEST_TIMEOUT_MS', 60_000);

// POSTs a GraphQL operation and returns {httpStatus, body}. Throws InfraError
// when there is no HTTP answer or the answer is not JSON.
async function postGraphQL(url, query, variables, headers = {}) {
  let res;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (e) {
    fail(`POST ${url}: ${e.cause?.message ?? e.message}`);
  }
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    fail(`POST ${url}: HTTP ${res.status}, body is not JSON: ${text.slice(0, 500)}`);
  }
  return { httpStatus: res.status, body };
}

// The second subgraph. It owns collections, knows a Video by its `videoNo`
// key only, and adds one field to Video, `collectionNames`: the collections
// that hold the video. A query that selects it on videos the Go subgraph
// found (videoLibrary's nodes) makes the gateway send those videos' keys to
// this subgraph's `_entities`, counted in collectionsCalls; every other Video
// field comes from the Go subgraph.
//
// Why `videos: [Video]!` and not `[Video!]!`: of a Video the collections
// subgraph knows only `videoNo` and `collectionNames`; every other Video field (`uniqueId: String!`,
// `status: VideoStatus!`, ...) comes from the Go subgraph's `_entities`.
// When the Go subgraph cannot resolve one representation it answers null for
// that entity: with an error at `["_entities", i]` when the upstream failed
// (the gateway rewrites its path to ["collection", "videos", i]), without one
// when the video does not exist. Either way the gateway then has a
// Video object with non-null fields missing, so per GraphQL null propagation
// that Video becomes null. With `[Video!]!` the null cannot stop at the list
// element: it bubbles through the non-null list to `Collection.videos` (non
// null) and then nulls the whole `collection` field, losing every healthy
// video. With `[Video]!` only the broken element is null, the error carries
// its path (["collection", "videos", i]) and all other entities keep
// their data, which is what a client of a federated graph wants.
const collectionsTypeDefs = parse(`
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])

  type Query {
    collections: [Collection!]!
    collection(name: String!): Collection
  }

  type Collection {
    name: String!
    "Nullable elements on purpose: one unresolvable video must not null the whole list (see run.mjs)."
    videos: [Video]!
  }

  type Video @key(fields: "videoNo") {
    videoNo: ID!
    "The names of the collections that hold this video, in collection order; empty when none does."
    collectionNames: [String!]!
  }
`);

function buildCollections(videoNos, repeat, failingVideoNos) {
  const all = Array.from({ length: repeat }, (_, i) => videoNos[i % videoNos.length]);
  // FAILING_VIDEO_NOS interleaved with the first 3 of VIDEO_NOS:
  // good0, bad0, good1, bad1, good2, bad2, bad3, bad4, ...
  const good = videoNos.slice(0, 3);
  const withFailures = [];
  for (let i = 0; i < Math.max(good.length, failingVideoNos.length); i++) {
    if (i < good.length) withFailures.push(good[i]);
    if (i < failingVideoNos.length) withFailures.push(failingVideoNos[i]);
  }
  return { all, withFailures };
}

// collectionsCalls counts the `_entities` requests the collections subgraph
// served and the representations in them.
const collectionsCalls = { entities: 0, representations: 0 };

async function startCollectionsSubgraph(collections) {
  const byName = new Map([
    ['all', collections.all],
    ['with-failures', collections.withFailures],
  ]);
  const toCollection = (name) => ({ name, videos: byName.get(name).map((videoNo) => ({ __typename: 'Video', videoNo })) });
  const resolvers = {
    Query: {
      collections: () => [...byName.keys()].map(toCollection),
      collection: (_, { name }) => (byName.has(name) ? toCollection(name) : null),
    },
    Video: {
      __resolveReference: ({ videoNo }) => {
        collectionsCalls.representations++;
        return { __typename: 'Video', videoNo };
      },
      collectionNames: ({ videoNo }) => [...byName].filter(([, nos]) => nos.includes(videoNo)).map(([name]) => name),
    },
  };
  const countEntities = {
    async requestDidStart({ request }) {
      if (typeof request.query === 'string' && request.query.includes('_entities')) collectionsCalls.entities++;
    },
  };
  const server = new ApolloServer({
    schema: buildSubgraphSchema([{ typeDefs: collectionsTypeDefs, resolvers }]),
    logger: stderrLogger,
    includeStacktraceInErrorResponses: false,
    plugins: [countEntities],
  });
  const { url } = await startStandaloneServer(server, { listen: { port: 0, host: HOST } });
  return { server, url };
}

// Forwards the client's Authorization header (put into the context by the
// gateway server's context function) to every subgraph request.
class AuthForwardingDataSource extends RemoteGraphQLDataSource {
  willSendRequest({ request, context }) {
    const authorization = context?.authorization;
    if (authorization) request.http.headers.set('authorization', authorization);
  }
}

async function startGateway(supergraphSdl) {
  const gateway = new ApolloGateway({
    supergraphSdl,
    logger: stderrLogger,
    buildService: ({ url }) => new AuthForwardingDataSource({ url }),
  });
  const server = new ApolloServer({
    gateway,
    logger: stderrLogger,
    includeStacktraceInErrorResponses: false,
  });
  const { url } = await startStandaloneServer(server, {
    listen: { port: 0, host: HOST },
    context: async ({ req }) => ({ authorization: req.headers.authorization }),
  });
  return { server, url };
}

const COLLECTION_QUERY = `
  query Collection($name: String!) {
    collection(name: $name) {
      name
      videos {
        videoNo
        uniqueId
        videoName
        size
        captureMetadata { location { latitude longitude } }
      }
    }
  }
`;

// LIBRARY_QUERY pages the default scope. collectionNames comes from the
// collections subgraph: for each page the gateway lists the videos on the Go
// subgraph, then resolves the nodes' keys on the collections subgraph.
const LIBRARY_QUERY = `
  query Library($first: Int, $after: String) {
    videoLibrary(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { videoNo videoName collectionNames } }
    }
  }
`;

// pageLibrary sends LIBRARY_QUERY to the gateway page after page, following
// endCursor, and stops when a page says hasNextPage: false, when an answer
// has errors or no connection, when a cursor does not advance, or after
// maxPages pages.
async function pageLibrary(gatewayUrl, first, maxPages, headers) {
  const library = { first, maxPages, pages: [], nodes: [], totalCount: null, complete: false, stopped: null, errors: [] };
  let after = null;
  while (true) {
    if (library.pages.length >= maxPages) {
      library.stopped = `still hasNextPage after LIBRARY_MAX_PAGES=${maxPages} pages`;
      break;
    }
    const { httpStatus, body } = await postGraphQL(gatewayUrl, LIBRARY_QUERY, { first, after }, headers);
    const page = library.pages.length;
    library.pages.push({ httpStatus, data: body.data ?? null, errors: body.errors ?? null });
    for (const e of body.errors ?? []) library.errors.push({ page, ...e });
    const conn = body.data?.videoLibrary;
    if (body.errors?.length || !conn) {
      library.stopped = body.errors?.length ? `page ${page} has errors` : `page ${page} has no videoLibrary (HTTP ${httpStatus})`;
      break;
    }
    for (const edge of conn.edges ?? []) library.nodes.push({ cursor: edge.cursor, ...edge.node });
    library.totalCount = conn.totalCount;
    if (!conn.pageInfo?.hasNextPage) {
      library.complete = true;
      break;
    }
    const next = conn.pageInfo.endCursor;
    if (typeof next !== 'string' || next === after) {
      library.stopped = `page ${page} has hasNextPage but endCursor ${JSON.stringify(next)} does not advance`;
      break;
    }
    after = next;
  }
  log(
    `videoLibrary first ${first}: ${library.pages.length} pages, ${library.nodes.length} nodes, ` +
      `totalCount ${library.totalCount}, ${library.errors.length} errors${library.stopped ? `, stopped: ${library.stopped}` : ''}`,
  );
  return library;
}

function errorSummary(e) {
  return { message: e.message, code: e.extensions?.code ?? e.code ?? null };
}

async function main(servers) {
  const t0 = performance.now();
  const timings = {};
  const lap = (name, since) => {
    timings[name] = Math.round(performance.now() - since);
  };

  const subgraphUrl = process.env.SUBGRAPH_URL;
  if (!subgraphUrl) fail('SUBGRAPH_URL is required (the Go server GraphQL URL, e.g. http://127.0.0.1:18090/query)');
  try {
    new URL(subgraphUrl);
  } catch {
    fail(`SUBGRAPH_URL is not a URL: ${subgraphUrl}`);
  }
  const videoNos = jsonArrayEnv('VIDEO_NOS', { required: true });
  const repeat = intEnv('REPEAT', videoNos.length);
  const failingVideoNos = jsonArrayEnv('FAILING_VIDEO_NOS', { required: false });
  const libraryFirst = process.env.LIBRARY_FIRST ? intEnv('LIBRARY_FIRST', 0) : null;
  const libraryMaxPages = intEnv('LIBRARY_MAX_PAGES', 100);
  const queries = new Set(
    process.env.QUERIES ? process.env.QUERIES.split(',').map((q) => q.trim()).filter(Boolean) : ['all', 'withFailures', ...(libraryFirst !== null ? ['library'] : [])],
  );
  for (const q of queries) {
    if (!['all', 'withFailures', 'library'].includes(q)) fail(`QUERIES: unknown query set ${JSON.stringify(q)} (want all, withFailures, library)`);
  }
  if (queries.has('library') && libraryFirst === null) fail('QUERIES has library but LIBRARY_FIRST is not set');
  const clientAuthorization = process.env.CLIENT_AUTHORIZATION || undefined;
  const authHeaders = clientAuthorization ? { authorization: clientAuthorization } : {};

  const result = {
    compositionErrors: [],
    compositionHints: [],
    supergraphSdl: null,
    collections: null,
    all: null,
    withFailures: null,
    library: null,
    collectionsCalls,
    timingsMs: timings,
  };

  // a. The Go subgraph's SDL.
  let t = performance.now();
  const sdlRes = await postGraphQL(subgraphUrl, '{ _service { sdl } }', undefined, authHeaders);
  lap('fetchSdl', t);
  const goSdl = sdlRes.body?.data?._service?.sdl;
  if (typeof goSdl !== 'string' || goSdl === '') {
    fail(`{ _service { sdl } } on ${subgraphUrl} gave no SDL: HTTP ${sdlRes.httpStatus} ${JSON.stringify(sdlRes.body).slice(0, 1000)}`);
  }
  log(`fetched the Go subgraph SDL (${goSdl.length} characters) from ${subgraphUrl}`);

  let goTypeDefs;
  try {
    goTypeDefs = parse(goSdl);
  } catch (e) {
    // The Go side's SDL is broken: a finding for the Go test, not an
    // infrastructure failure.
    result.compositionErrors.push({ message: `the Go subgraph SDL does not parse: ${e.message}`, code: 'SDL_PARSE_ERROR' });
    return result;
  }

  // b. The collections subgraph.
  result.collections = buildCollections(videoNos, repeat, failingVideoNos);
  t = performance.now();
  const collectionsSubgraph = await startCollectionsSubgraph(result.collections);
  servers.push(collectionsSubgraph.server);
  lap('startCollectionsSubgraph', t);
  log(`collections subgraph at ${collectionsSubgraph.url}`);

  // c. Composition.
  t = performance.now();
  const composed = composeServices([
    { name: 'videos', typeDefs: goTypeDefs, url: subgraphUrl },
    { name: 'collections', typeDefs: collectionsTypeDefs, url: collectionsSubgraph.url },
  ]);
  lap('compose', t);
  result.compositionErrors.push(...(composed.errors ?? []).map(errorSummary));
  result.compositionHints = (composed.hints ?? []).map((h) => ({ message: h.message, code: h.definition?.code ?? null }));
  for (const e of result.compositionErrors) log(`composition error [${e.code}]: ${e.message}`);
  for (const h of result.compositionHints) log(`composition hint [${h.code}]: ${h.message}`);
  if (composed.errors?.length) return result;
  result.supergraphSdl = composed.supergraphSdl;

  // d. The gateway.
  t = performance.now();
  const gateway = await startGateway(composed.supergraphSdl);
  servers.push(gateway.server);
  lap('startGateway', t);
  log(`gateway at ${gateway.url}`);

  // e. The queries.
  for (const [key, name] of [
    ['all', 'all'],
    ['withFailures', 'with-failures'],
  ]) {
    if (!queries.has(key)) continue;
    t = performance.now();
    const { httpStatus, body } = await postGraphQL(gateway.url, COLLECTION_QUERY, { name }, authHeaders);
    lap(`query_${key}`, t);
    result[key] = { httpStatus, data: body.data ?? null, errors: body.errors ?? null };
    const videos = body.data?.collection?.videos;
    log(
      `collection "${name}": HTTP ${httpStatus}, ${Array.isArray(videos) ? videos.length : 'no'} videos, ` +
        `${videos ? videos.filter((v) => v === null).length : '-'} null, ${body.errors?.length ?? 0} errors`,
    );
  }
  if (queries.has('library')) {
    t = performance.now();
    result.library = await pageLibrary(gateway.url, libraryFirst, libraryMaxPages, authHeaders);
    lap('query_library', t);
  }
  lap('total', t0);
  return result;
}

async function stopAll(servers) {
  await Promise.allSettled(
    servers.reverse().map((s) =>
      Promise.race([s.stop(), new Promise((resolve) => setTimeout(resolve, 5_000).unref())]),
    ),
  );
}

function writeStdout(text) {
  return new Promise((resolve) => process.stdout.write(text, () => resolve()));
}

const HARNESS_TIMEOUT_MS = (() => {
  const n = Number(process.env.HARNESS_TIMEOUT_MS || 120_000);
  return Number.isFinite(n) && n > 0 ? n : 120_000;
})();
setTimeout(() => {
  console.error(`[federation-e2e] FAILED: global timeout of ${HARNESS_TIMEOUT_MS} ms exceeded`);
  process.exit(1);
}, HARNESS_TIMEOUT_MS).unref();

const servers = [];
let exitCode = 0;
try {
  const result = await main(servers);
  await stopAll(servers);
  await writeStdout(JSON.stringify(result) + '\n');
} catch (e) {
  exitCode = 1;
  console.error(`[federation-e2e] FAILED: ${e instanceof InfraError ? e.message : e?.stack ?? e}`);
  await stopAll(servers);
}
process.exit(exitCode);
