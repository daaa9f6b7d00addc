// The playground page: GraphiQL with the explorer plugin, configured by the
// Go handler through the root element's data-config attribute, so the bundle
// holds nothing specific to one deployment and the page needs no inline
// script (the Content-Security-Policy allows none).
import React from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { explorerPlugin } from '@graphiql/plugin-explorer';
import { getOperationAST, parse } from 'graphql';
import { createClient } from 'graphql-ws';
import 'graphiql/style.css';
import '@graphiql/plugin-explorer/style.css';
import './page.css';

// Libraries that add <style> elements at run time (Radix's scroll lock,
// React Aria's press styles) stamp them with __webpack_nonce__, so they pass
// the policy's per-response style nonce, which the page carries here.
const nonceMeta = document.querySelector('meta[property="csp-nonce"]');
if (nonceMeta && nonceMeta.nonce) {
  window.__webpack_nonce__ = nonceMeta.nonce;
}

const root = document.getElementById('graphiql');
const config = JSON.parse(root.dataset.config || '{}');
const endpoint = new URL(config.endpoint || '/query', window.location.href).href;

// Subscriptions go over a WebSocket to the same endpoint
// (graphql-transport-ws), one connection per set of headers: browsers
// cannot set headers on a WebSocket, so they travel in connection_init,
// where the server reads the key and access token.
const wsEndpoint = endpoint.replace(/^http/, 'ws');
const wsClients = new Map();
function wsClient(headers) {
  const key = JSON.stringify(headers || {});
  let client = wsClients.get(key);
  if (!client) {
    client = createClient({ url: wsEndpoint, connectionParams: headers || {}, lazy: true, retryAttempts: 0 });
    wsClients.set(key, client);
  }
  return client;
}

// operation returns params with an operation name the query has, and the
// operation it names. Just after a tab switch GraphiQL can still hand over
// the previous tab's operation name (its editor parses on a debounce); a
// query with a single operation runs that one instead of failing with
// "operation not found".
function operation(params) {
  let doc;
  try {
    doc = parse(params.query);
  } catch {
    return { params, op: null }; // the server reports the syntax error
  }
  let op = getOperationAST(doc, params.operationName || undefined);
  if (!op && params.operationName) {
    op = getOperationAST(doc);
    if (op) params = { ...params, operationName: op.name ? op.name.value : undefined };
  }
  return { params, op };
}

// fetcher posts the operation to the same-origin endpoint, or streams a
// subscription over the WebSocket. It is written here rather than taken
// from @graphiql/toolkit's, whose options this one needs none of. A
// response that is not GraphQL JSON (a proxy's error page, a 413) is shown
// as an error instead of a parse failure, so the user sees what the server
// said.
function fetcher(graphiqlParams, opts) {
  const { params, op } = operation(graphiqlParams);
  if (op && op.operation === 'subscription') {
    return wsClient(opts && opts.headers).iterate(params);
  }
  return post(params, opts);
}

async function post(params, opts) {
  const res = await fetch(endpoint, {
    method: 'POST',
    credentials: 'same-origin',
    headers: {
      Accept: 'application/graphql-response+json, application/json',
      'Content-Type': 'application/json',
      ...(opts && opts.headers),
    },
    body: JSON.stringify(params),
  });
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    return { errors: [{ message: `HTTP ${res.status} ${res.statusText}: ${text.slice(0, 500)}` }] };
  }
}

const explorer = explorerPlugin({ showAttribution: false });

createRoot(root).render(
  <GraphiQL
    fetcher={fetcher}
    plugins={[explorer]}
    defaultTabs={(config.tabs || []).map((query) => ({ query, headers: config.headers }))}
    defaultHeaders={config.headers}
    defaultEditorToolsVisibility="headers"
    isHeadersEditorEnabled
  />,
);
