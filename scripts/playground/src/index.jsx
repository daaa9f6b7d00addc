// The playground page: GraphiQL with the explorer plugin, configured by the
// Go handler through the root element's data-config attribute, so the bundle
// holds nothing specific to one deployment and the page needs no inline
// script (the Content-Security-Policy allows none).
import React from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { explorerPlugin } from '@graphiql/plugin-explorer';
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

// fetcher posts the operation to the same-origin endpoint. It is written
// here rather than taken from @graphiql/toolkit, whose fetcher pulls in a
// websocket client this service has no use for. A response that is not
// GraphQL JSON (a proxy's error page, a 413) is shown as an error instead of
// a parse failure, so the user sees what the server said.
async function fetcher(params, opts) {
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
    defaultQuery={config.query}
    defaultHeaders={config.headers}
    defaultEditorToolsVisibility="headers"
    isHeadersEditorEnabled
  />,
);
