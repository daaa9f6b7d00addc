/**
 * @generated SignedSource<<c31c4f5fa6c644c2b1f50a35670e597c>>
 * @lightSyntaxTransform
 */

/* eslint-disable */

'use strict';

import relayCacheVideoRefetchQuery_graphql from './relayCacheVideoRefetchQuery.graphql';

var node = {
  "argumentDefinitions": [],
  "kind": "Fragment",
  "metadata": {
    "refetch": {
      "connection": null,
      "fragmentPathInResult": [
        "node"
      ],
      "operation": relayCacheVideoRefetchQuery_graphql,
      "identifierInfo": {
        "identifierField": "id",
        "identifierQueryVariableName": "id"
      }
    }
  },
  "name": "relayCache_video",
  "selections": [
    {
      "alias": null,
      "args": null,
      "kind": "ScalarField",
      "name": "id",
      "storageKey": null
    },
    {
      "alias": null,
      "args": null,
      "kind": "ScalarField",
      "name": "fps",
      "storageKey": null
    }
  ],
  "type": "Video",
  "abstractKey": null
};

node.hash = "0510f52ce7f1308be6c6ef17f88b6a2f";

export default node;
