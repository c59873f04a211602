// oidc-provider (npm, panva) as a second real RFC 7662 server for the oauth2-spoa e2e tests.
// Unlike Hydra's admin endpoint, its introspection endpoint REQUIRES client authentication.
//
// Run (tests/e2e/lib.sh start_oidc_provider does this): copy this file next to a node_modules
// that holds the locked oidc-provider (tests/tools/prepare.sh installs it under
// $OAUTH2_SPOA_CACHE/node/current/node_modules), then: node server.mjs PORT
// PORT may also come from $PORT. Listens on 127.0.0.1 only, in-memory storage.
//
// Endpoints: POST /token, POST /token/introspection, POST /token/revocation, GET /jwks,
//            GET /.well-known/openid-configuration.
// Environment:
//   CC_TTL    lifetime of client_credentials tokens without resource, seconds (default 600)
//   RS_TTL    lifetime of tokens for resource https://api.example.test (default 300)
//   RS_FMT    format of those tokens: opaque (default) or jwt (jwt cannot be introspected)
//   OIDC_EXTRA_CLIENTS  JSON array of extra client metadata objects
//   OIDC_LAX_AUTH=1     accept client_secret_basic and client_secret_post interchangeably (stock
//                       oidc-provider behaviour). By default this server is strict: a client must
//                       authenticate with its registered token_endpoint_auth_method at /token,
//                       /token/introspection and /token/revocation (401 invalid_client otherwise).
// Test hooks (not part of oidc-provider):
//   GET  /_test/stats  {"introspection":{"total":N,"active":N,"by_client":{"rs-basic":N,...},
//                       "by_method":{"client_secret_basic":N,...}},"token":N,"revocation":N}
//   POST /_test/reset  zeroes the counters
// Static clients (ids and secrets are exported by lib.sh as OIDC_*):
//   rs-basic   / rs-basic-secret     resource server, introspects with client_secret_basic
//   rs-post    / rs-post-secret      resource server, introspects with client_secret_post
//   rs-special / 'p@ss:w0rd+/%& =~'  resource server, basic; secret needs form-urlencoding (RFC 6749 2.3.1)
//   svc-basic  / svc-basic-secret    client_credentials, scopes "read write", client_secret_basic
//   svc-post   / svc-post-secret     client_credentials, scope "read", client_secret_post
import Provider, { errors } from 'oidc-provider';

const PORT = Number(process.argv[2] || process.env.PORT || 0);
if (!Number.isInteger(PORT) || PORT <= 0 || PORT > 65535) {
  console.error('usage: node server.mjs PORT (or PORT=...)');
  process.exit(2);
}
const ISSUER = process.env.ISSUER || `http://127.0.0.1:${PORT}`;
const API = 'https://api.example.test';

const rs = (id, secret, method) => ({
  client_id: id,
  client_secret: secret,
  grant_types: [],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: method,
});
const svc = (id, secret, method, scope) => ({
  client_id: id,
  client_secret: secret,
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: method,
  scope,
});

const clients = [
  rs('rs-basic', 'rs-basic-secret', 'client_secret_basic'),
  rs('rs-post', 'rs-post-secret', 'client_secret_post'),
  rs('rs-special', 'p@ss:w0rd+/%& =~', 'client_secret_basic'),
  svc('svc-basic', 'svc-basic-secret', 'client_secret_basic', 'read write'),
  svc('svc-post', 'svc-post-secret', 'client_secret_post', 'read'),
  ...(process.env.OIDC_EXTRA_CLIENTS ? JSON.parse(process.env.OIDC_EXTRA_CLIENTS) : []),
];

const provider = new Provider(ISSUER, {
  clients,
  scopes: ['read', 'write'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => undefined,
      useGrantedResource: async () => false,
      getResourceServerInfo: async (ctx, resource) => {
        if (resource !== API) throw new errors.InvalidTarget();
        return {
          scope: 'read write',
          audience: API,
          accessTokenTTL: Number(process.env.RS_TTL || 300),
          accessTokenFormat: process.env.RS_FMT || 'opaque',
        };
      },
    },
  },
  ttl: { ClientCredentials: () => Number(process.env.CC_TTL || 600) },
});
provider.proxy = false;

const newStats = () => ({
  introspection: { total: 0, active: 0, by_client: {}, by_method: {} },
  token: 0,
  revocation: 0,
});
let stats = newStats();
const AUTH_PATHS = { '/token': 'token', '/token/introspection': 'introspection', '/token/revocation': 'revocation' };

provider.use(async (ctx, next) => {
  if (ctx.path === '/_test/stats' && ctx.method === 'GET') {
    ctx.body = stats;
    return;
  }
  if (ctx.path === '/_test/reset' && ctx.method === 'POST') {
    stats = newStats();
    ctx.status = 204;
    return;
  }
  await next();
  const what = ctx.method === 'POST' ? AUTH_PATHS[ctx.path] : undefined;
  if (!what) return;
  const used = /^basic /i.test(ctx.get('authorization')) ? 'client_secret_basic' : 'client_secret_post';
  const client = ctx.oidc?.client;
  if (client && ctx.status === 200 && !process.env.OIDC_LAX_AUTH && client.clientAuthMethod !== used
      && ['client_secret_basic', 'client_secret_post'].includes(client.clientAuthMethod)) {
    ctx.status = 401;
    ctx.body = {
      error: 'invalid_client',
      error_description: `client ${client.clientId} is registered for ${client.clientAuthMethod}, not ${used}`,
    };
  }
  if (what === 'introspection') {
    const st = stats.introspection;
    st.total += 1;
    if (ctx.status === 200 && ctx.body?.active === true) st.active += 1;
    const id = client?.clientId || '(none)';
    st.by_client[id] = (st.by_client[id] || 0) + 1;
    st.by_method[used] = (st.by_method[used] || 0) + 1;
  } else {
    stats[what] += 1;
  }
});

const server = provider.listen(PORT, '127.0.0.1', () => console.log(`oidc-provider listening ${ISSUER}`));
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    server.close();
    process.exit(0);
  });
}
