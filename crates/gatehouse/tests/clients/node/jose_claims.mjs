// A resource server reading gatehouse's custom claims with jose (docs/claims.md): verifies the
// JWT access token in GH_ACCESS_TOKEN against the JWKS that discovery names (issuer and
// audience checked), then reads the `tenant` and `roles` claims the client maps, as an API
// deciding access would.
import * as jose from 'jose';
import { env, report } from './common.mjs';

await report(async () => {
  const issuer = env('ISSUER');
  const discovery = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
  const jwks = jose.createRemoteJWKSet(new URL(discovery.jwks_uri));
  const { payload, protectedHeader } = await jose.jwtVerify(env('ACCESS_TOKEN'), jwks, {
    issuer: discovery.issuer,
    audience: env('CLIENT_ID'),
    typ: 'at+jwt',
  });
  const roles = Array.isArray(payload.roles) ? payload.roles : [];
  return {
    alg: protectedHeader.alg,
    sub: payload.sub,
    tenant: payload.tenant,
    roles,
    is_admin: roles.includes('gatehouse:admin'),
  };
});
