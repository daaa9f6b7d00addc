// Runs a query with @defer through Apollo Client 4 (HttpLink over
// multipart/mixed, read by its Defer20220824Handler) and prints each result
// the query emitted, as JSON: {"results": [{dataState, data, error}...]}.
//
//   node defer.mjs '{"url": "http://127.0.0.1:PORT/query", "query": "...", "variables": {...}}'
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { Defer20220824Handler } from '@apollo/client/incremental';

const opts = JSON.parse(process.argv[2]);
const client = new ApolloClient({
  link: new HttpLink({ uri: opts.url }),
  cache: new InMemoryCache(),
  incrementalHandler: new Defer20220824Handler(),
});

const results = [];
await new Promise((resolve) => {
  const sub = client
    .watchQuery({ query: gql(opts.query), variables: opts.variables ?? {}, fetchPolicy: 'network-only' })
    .subscribe({
      next: (r) => {
        if (r.dataState === 'empty' && !r.error) return; // the loading state before any part
        results.push({ dataState: r.dataState, data: r.data ?? null, error: r.error ? r.error.message : null });
        if (r.dataState === 'complete' || r.error) {
          sub.unsubscribe();
          resolve();
        }
      },
      error: (err) => {
        results.push({ dataState: null, data: null, error: String(err && err.message ? err.message : err) });
        resolve();
      },
    });
});
client.stop();
process.stdout.write(JSON.stringify({ results }));
