// The playground page: GraphiQL with the explorer plugin, configured by the
// Go handler through the root element's data-config attribute, so the bundle
// holds nothing specific to one deployment and the page needs no inline
// script (the Content-Security-Policy allows none).
import React from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { explorerPlugin } from '@graphiql/plugin-explorer';
import { getOperationAST, parse, visit } from 'graphql';
import { meros } from 'meros/browser';
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

// operation returns params with an operation name the query has, the
// operation it names, and whether that operation defers anything. Just
// after a tab switch GraphiQL can still hand over the previous tab's
// operation name (its editor parses on a debounce); a query with a single
// operation runs that one instead of failing with "operation not found".
function operation(params) {
  let doc;
  try {
    doc = parse(params.query);
  } catch {
    return { params, op: null, defers: false }; // the server reports the syntax error
  }
  let op = getOperationAST(doc, params.operationName || undefined);
  if (!op && params.operationName) {
    op = getOperationAST(doc);
    if (op) params = { ...params, operationName: op.name ? op.name.value : undefined };
  }
  let defers = false;
  if (op) {
    visit(doc, { Directive: (d) => { defers = defers || d.name.value === 'defer'; } });
  }
  return { params, op, defers };
}

// fetcher posts the operation to the same-origin endpoint, or streams a
// subscription over the WebSocket. It is written here rather than taken
// from @graphiql/toolkit's, whose options this one needs none of. A query
// with @defer asks for multipart/mixed and hands GraphiQL each part as it
// arrives, which GraphiQL merges into the result pane. A response that is
// not GraphQL JSON (a proxy's error page, a 413) is shown as an error
// instead of a parse failure, so the user sees what the server said.
function fetcher(graphiqlParams, opts) {
  const { params, op, defers } = operation(graphiqlParams);
  if (op && op.operation === 'subscription') {
    return wsClient(opts && opts.headers).iterate(params);
  }
  return post(params, opts, defers);
}

async function post(params, opts, defers) {
  const res = await fetch(endpoint, {
    method: 'POST',
    credentials: 'same-origin',
    headers: {
      Accept: defers
        ? 'multipart/mixed;deferSpec=20220824, application/graphql-response+json, application/json'
        : 'application/graphql-response+json, application/json',
      'Content-Type': 'application/json',
      ...(opts && opts.headers),
    },
    body: JSON.stringify(params),
  });
  if (defers && res.body) {
    const answer = { complete: false };
    const parts = await meros(drainOnceComplete(res, answer));
    if (parts instanceof Response) return parseJSON(parts);
    return jsonParts(parts, answer);
  }
  return parseJSON(res);
}

async function parseJSON(res) {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    return { errors: [{ message: `HTTP ${res.status} ${res.statusText}: ${text.slice(0, 500)}` }] };
  }
}

// jsonParts yields the JSON bodies of a multipart answer's parts, and
// notes when the last has come.
async function* jsonParts(parts, answer) {
  for await (const part of parts) {
    if (!part.json) {
      yield { errors: [{ message: `a part that is not JSON: ${String(part.body).slice(0, 500)}` }] };
      continue;
    }
    if (part.body.hasNext === false) answer.complete = true;
    yield part.body;
  }
}

// drainOnceComplete returns res with a body that, cancelled after the
// answer's last part, reads the few bytes left instead of dropping them:
// meros cancels the body at the closing boundary, before the end of the
// chunked stream, and Chromium reports that as an aborted request. A body
// cancelled earlier (the Stop button) is cancelled.
function drainOnceComplete(res, answer) {
  const reader = res.body.getReader();
  const body = new ReadableStream({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    async cancel(reason) {
      if (!answer.complete) return reader.cancel(reason);
      while (!(await reader.read()).done);
    },
  });
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
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
