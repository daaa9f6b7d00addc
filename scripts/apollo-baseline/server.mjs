// A minimal Apollo Server in front of memories.ai's get_metadata: the common
// alternative to the Go façade, for the load test's -vs-apollo comparison.
// It answers Query.video with the fields videoNo, uniqueId, videoName, size
// and status, read from the upstream the way the façade reads them.
//
//   MEMORIES_BASE_URL  upstream base URL (default https://api.memories.ai)
//   MEMORIES_API_KEY   sent as the Authorization header (required)
//   PORT               port to listen on (default 4000)
//   HOST               interface to listen on (default 127.0.0.1)
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { RESTDataSource } from '@apollo/datasource-rest';
import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';

const typeDefs = `#graphql
  "A 64-bit integer as a JSON number (sizes above 2 GiB do not fit GraphQL's Int)."
  scalar Int64

  enum VideoStatus { PARSE UNPARSE FAILED }

  type Video {
    videoNo: ID!
    uniqueId: String!
    videoName: String
    size: Int64
    status: VideoStatus!
  }

  type Query {
    video(videoNo: ID!, uniqueId: String! = "default"): Video
  }
`;

// toInt64 accepts an integer or a numeric string, as the upstream sends either.
function toInt64(v) {
  const n = typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
  if (!Number.isSafeInteger(n)) {
    throw new GraphQLError(`Int64 cannot represent ${JSON.stringify(v)}`);
  }
  return n;
}

const Int64 = new GraphQLScalarType({
  name: 'Int64',
  serialize: toInt64,
  parseValue: toInt64,
  parseLiteral(ast) {
    if (ast.kind !== Kind.INT) throw new GraphQLError('Int64 must be an integer');
    return toInt64(ast.value);
  },
});

// Legacy and unknown status spellings, as the façade maps them.
function normalizeStatus(raw) {
  switch (String(raw ?? '').trim().toUpperCase()) {
    case 'PARSE': return 'PARSE';
    case 'FAILED': case 'FAIL': case 'PARSE_ERROR': case 'ERROR': return 'FAILED';
    default: return 'UNPARSE';
  }
}

class MemoriesAPI extends RESTDataSource {
  constructor(options) {
    super(options);
    this.baseURL = (process.env.MEMORIES_BASE_URL || 'https://api.memories.ai').replace(/\/?$/, '/');
    this.apiKey = options.apiKey;
  }

  willSendRequest(_path, request) {
    request.headers.authorization = this.apiKey;
  }

  // getVideo returns the video, or null when the upstream has none.
  async getVideo(videoNo, uniqueId) {
    const env = await this.get('serve/api/v1/get_metadata', {
      params: { video_no: videoNo, unique_id: uniqueId },
    });
    const code = String(env?.code ?? '');
    if (code !== '0000') {
      throw new GraphQLError(`memories.ai answered ${code || 'without a code'}: ${env?.msg ?? ''}`, {
        extensions: { code: code === '0429' ? 'RATE_LIMITED' : 'UPSTREAM_ERROR' },
      });
    }
    const d = env.data;
    if (d == null) return null;
    return {
      videoNo: d.video_no,
      uniqueId,
      videoName: d.video_name ?? null,
      size: d.size ?? null,
      status: normalizeStatus(d.status),
    };
  }
}

const resolvers = {
  Int64,
  Query: {
    video: (_, { videoNo, uniqueId }, { dataSources }) => dataSources.memories.getVideo(videoNo, uniqueId),
  },
};

const apiKey = process.env.MEMORIES_API_KEY;
if (!apiKey) {
  console.error('MEMORIES_API_KEY is not set');
  process.exit(2);
}

const server = new ApolloServer({ typeDefs, resolvers });
const { url } = await startStandaloneServer(server, {
  listen: { host: process.env.HOST || '127.0.0.1', port: Number(process.env.PORT || 4000) },
  // One data source per request, sharing the server's cache, as Apollo's docs do it.
  context: async () => ({
    dataSources: { memories: new MemoriesAPI({ cache: server.cache, apiKey }) },
  }),
});
console.log(`apollo-baseline listening on ${url}`);
