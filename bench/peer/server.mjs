// node-oidc-provider configured like the IdP's token endpoint, for bench/token.py:
// client_credentials and refresh_token grants for one confidential client (client_secret_basic),
// JWT access tokens (RFC 9068) signed with ALG, refresh tokens rotated at every use as ours
// are. The refresh chains' grant has no openid scope: no ID token on refresh, as on our side.
// Usage: PORT=… ALG=ES256|RS256 CHAINS=n node server.mjs — prints one JSON line
// {"refresh_tokens": [...]} once it listens, one refresh-token chain per client connection.
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT || 3000);
const alg = process.env.ALG || 'ES256';
const chains = Number(process.env.CHAINS || 4);
const issuer = `http://127.0.0.1:${port}`;
const client = {
  client_id: 'demo-portail-dsn',
  client_secret: 'demo-secret-portail-dsn-2026',
  grant_types: ['client_credentials', 'refresh_token', 'authorization_code'],
  response_types: ['code'],
  redirect_uris: ['http://127.0.0.1:5001/callback'],
  token_endpoint_auth_method: 'client_secret_basic',
  id_token_signed_response_alg: alg, // its only key (no ID token is asked for here)
};
const signingKey = (keyAlg) => {
  const pair = keyAlg === 'ES256'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...pair.privateKey.export({ format: 'jwk' }), alg: keyAlg, use: 'sig', kid: keyAlg };
};
const keys = [signingKey(alg)];
const resource = 'urn:net-entreprises:api';

const provider = new Provider(issuer, {
  clients: [client],
  jwks: { keys },
  scopes: ['offline_access', 'profile'],
  findAccount: (ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
  rotateRefreshToken: true,
  // The IdP's lifetimes: ten minutes for access and ID tokens, thirty days for refresh tokens.
  ttl: {
    AccessToken: 600, ClientCredentials: 600, IdToken: 600,
    RefreshToken: 30 * 24 * 3600, Grant: 30 * 24 * 3600,
  },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'profile',
        audience: resource,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg } },
      }),
    },
  },
});

// A refresh token as the authorization-code grant would have left it, one per chain.
async function refreshChain(index) {
  const accountId = `bench-${index}`;
  const grant = new provider.Grant({ accountId, clientId: client.client_id });
  grant.addOIDCScope('offline_access profile');
  grant.addResourceScope(resource, 'profile');
  const grantId = await grant.save();
  const token = new provider.RefreshToken({
    accountId,
    client: await provider.Client.find(client.client_id),
    grantId,
    gty: 'authorization_code',
    scope: 'offline_access profile',
    resource,
    authTime: Math.floor(Date.now() / 1000),
  });
  return token.save();
}

provider.listen(port, '127.0.0.1', async () => {
  const tokens = [];
  for (let i = 0; i < chains; i += 1) tokens.push(await refreshChain(i));
  console.log(JSON.stringify({ refresh_tokens: tokens }));
});
