// How a query's errors and partial data reach the client, with the setups
// of docs/clients.md: Apollo Client 4 with errorPolicy "all" (and with its
// default, "none"), and urql with Graphcache. Prints, as JSON:
//   {"all": {"data", "errors": [{message, path, code}], "combined": bool},
//    "none": {...} (Apollo only)}
// where combined says the error is Apollo's CombinedGraphQLErrors or
// urql's CombinedError.
//
//   node errors.mjs '{"client": "apollo" | "urql", "url": "http://127.0.0.1:PORT/query", "nos": ["VI..."]}'
import { captureConsole, readingFetch } from './testkit.mjs';

const opts = JSON.parse(process.argv[2]);
const logged = captureConsole();
const QUERY = `query Uploads($nos: [ID!]!) { videos(videoNos: $nos) { id videoNo videoName } }`;
const variables = { nos: opts.nos };
const out = { console: logged };

if (opts.client === 'apollo') {
  const { ApolloClient, CombinedGraphQLErrors, HttpLink, InMemoryCache, gql } = await import('@apollo/client');
  const client = new ApolloClient({ link: new HttpLink({ uri: opts.url }), cache: new InMemoryCache() });
  for (const errorPolicy of ['all', 'none']) {
    let data;
    let error;
    try {
      // With errorPolicy "none" (the default), query rejects on any error.
      ({ data, error } = await client.query({ query: gql(QUERY), variables, errorPolicy, fetchPolicy: 'network-only' }));
    } catch (err) {
      error = err;
    }
    out[errorPolicy] = {
      data: data ?? null,
      combined: CombinedGraphQLErrors.is(error),
      errors: CombinedGraphQLErrors.is(error)
        ? error.errors.map((e) => ({ message: e.message, path: e.path, code: e.extensions?.code }))
        : error ? [{ message: error.message }] : [],
    };
  }
  client.stop();
} else {
  const { Client, CombinedError, fetchExchange } = await import('@urql/core');
  const { cacheExchange } = await import('@urql/exchange-graphcache');
  const { getIntrospectionQuery } = await import('graphql');
  const introspect = async () => {
    const res = await fetch(opts.url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ query: getIntrospectionQuery() }),
    });
    return (await res.json()).data;
  };
  for (const [name, schema] of [['all', undefined], ['schema', await introspect()]]) {
    const client = new Client({ url: opts.url, fetch: readingFetch(), exchanges: [cacheExchange({ schema }), fetchExchange] });
    const { data, error } = await client.query(QUERY, variables).toPromise();
    out[name] = {
      data: data ?? null,
      combined: error instanceof CombinedError,
      errors: error ? error.graphQLErrors.map((e) => ({ message: e.message, path: e.path, code: e.extensions?.code })) : [],
    };
  }
}
process.stdout.write(JSON.stringify(out));
