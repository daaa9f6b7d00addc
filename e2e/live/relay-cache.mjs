// Relay (relay-runtime) with a default Store, as docs/clients.md sets it
// up: the same list and detail queries as apollo-cache.mjs, the list
// fetched again after the video changed upstream, then the detail's
// @refetchable fragment refetched through node(id:). The operations are in
// relay/relayCache.js; their artifacts, from Relay's compiler, are
// committed in relay/__generated__ (relay/README.md). Pauses at "rename"
// for the test to rename the video upstream (see testkit.mjs). Prints, as
// JSON: {"first": {"records", "video": the detail's snapshot data},
// "refetched": {...}, "node": {"records", "video"}, "requests", "console"}.
//
//   node relay-cache.mjs '{"url": "http://127.0.0.1:PORT/query", "nos": ["VI...", "VI..."]}'
import { Environment, Network, RecordSource, Store, createOperationDescriptor, fetchQuery } from 'relay-runtime';
import VideosQuery from './relay/__generated__/relayCacheVideosQuery.graphql.js';
import VideoQuery from './relay/__generated__/relayCacheVideoQuery.graphql.js';
import RefetchQuery from './relay/__generated__/relayCacheVideoRefetchQuery.graphql.js';
import { captureConsole, done, pause, until } from './testkit.mjs';

const opts = JSON.parse(process.argv[2]);
const logged = captureConsole();
const requests = {};

const environment = new Environment({
  network: Network.create(async (params, variables) => {
    requests[params.name] = (requests[params.name] ?? 0) + 1;
    const res = await fetch(opts.url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/graphql-response+json, application/json' },
      body: JSON.stringify({ query: params.text, variables }),
    });
    return res.json();
  }),
  store: new Store(new RecordSource()),
});

const records = () => environment.getStore().getSource().toJSON();
// shown is the detail view's fields, without Relay's own.
const shown = () => {
  const { id, videoName, duration } = snapshot.data.video;
  return { id, videoName, duration };
};
const [x] = opts.nos;

await fetchQuery(environment, VideosQuery, { nos: opts.nos }).toPromise();
const detail = createOperationDescriptor(VideoQuery, { no: x });
await fetchQuery(environment, VideoQuery, { no: x }).toPromise();
// The detail view's data, as a component holds it: a snapshot of the
// store, and its updates.
const retained = environment.retain(detail);
let snapshot = environment.lookup(detail.fragment);
const sub = environment.subscribe(snapshot, (next) => { snapshot = next; });
const first = { records: records(), video: shown() };

await pause('rename');
await fetchQuery(environment, VideosQuery, { nos: opts.nos }, { fetchPolicy: 'network-only' }).toPromise();
await until('the detail view to change', () => snapshot.data.video.videoName !== first.video.videoName, 3000).catch(() => {});
const refetched = { records: records(), video: shown() };

// What useRefetchableFragment's refetch() sends: the fragment's refetch
// query, with the video's id.
await fetchQuery(environment, RefetchQuery, { id: first.video.id }, { fetchPolicy: 'network-only' }).toPromise();
const node = { records: records(), video: shown() };

sub.dispose();
retained.dispose();
done({ first, refetched, node, requests, console: logged });
