// The operations relay-cache.mjs runs, for Relay's compiler (README.md):
// it writes their artifacts to __generated__/, which the script imports.
// Nothing imports this file.
import { graphql } from 'relay-runtime';

// A list and a detail view of one of its videos.
graphql`
  query relayCacheVideosQuery($nos: [ID!]!) {
    videos(videoNos: $nos) { id videoName status }
  }
`;
graphql`
  query relayCacheVideoQuery($no: ID!) {
    video(videoNo: $no) { id videoName duration ...relayCache_video }
  }
`;

// A fragment Relay refetches by the video's id, through Query.node:
// @refetchable needs Node and node(id:).
graphql`
  fragment relayCache_video on Video @refetchable(queryName: "relayCacheVideoRefetchQuery") {
    id
    fps
  }
`;
