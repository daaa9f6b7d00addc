/**
 * @generated SignedSource<<f67e322833d3d8fbdef5413a4f30be40>>
 * @lightSyntaxTransform
 */

/* eslint-disable */

'use strict';

var node = (function(){
var v0 = [
  {
    "defaultValue": null,
    "kind": "LocalArgument",
    "name": "nos"
  }
],
v1 = [
  {
    "alias": null,
    "args": [
      {
        "kind": "Variable",
        "name": "videoNos",
        "variableName": "nos"
      }
    ],
    "concreteType": "Video",
    "kind": "LinkedField",
    "name": "videos",
    "plural": true,
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
        "name": "videoName",
        "storageKey": null
      },
      {
        "alias": null,
        "args": null,
        "kind": "ScalarField",
        "name": "status",
        "storageKey": null
      }
    ],
    "storageKey": null
  }
];
return {
  "fragment": {
    "argumentDefinitions": (v0/*:: as any*/),
    "kind": "Fragment",
    "metadata": null,
    "name": "relayCacheVideosQuery",
    "selections": (v1/*:: as any*/),
    "type": "Query",
    "abstractKey": null
  },
  "kind": "Request",
  "operation": {
    "argumentDefinitions": (v0/*:: as any*/),
    "kind": "Operation",
    "name": "relayCacheVideosQuery",
    "selections": (v1/*:: as any*/)
  },
  "params": {
    "cacheID": "91b80e8e9a20dd1366203759d10bea24",
    "id": null,
    "metadata": {},
    "name": "relayCacheVideosQuery",
    "operationKind": "query",
    "text": "query relayCacheVideosQuery(\n  $nos: [ID!]!\n) {\n  videos(videoNos: $nos) {\n    id\n    videoName\n    status\n  }\n}\n"
  }
};
})();

node.hash = "bf50eb334db94e8baf03b6cf05616e63";

export default node;
