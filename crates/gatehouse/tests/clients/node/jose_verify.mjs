// jose against gatehouse's JWKS: verifies the id_token (audience: the client) and the JWT
// access token (audience: GH_ACCESS_AUDIENCE) from GH_ID_TOKEN and GH_ACCESS_TOKEN with
// createRemoteJWKSet on the jwks_uri that discovery names, checking the issuer.
import * as jose from 'jose';
import { env, report } from './common.mjs';

await report(async () => {
  const issuer = env('ISSUER');
  const discovery = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
  const jwks = jose.createRemoteJWKSet(new URL(discovery.jwks_uri));
  const id = await jose.jwtVerify(env('ID_TOKEN'), jwks, {
    issuer: discovery.issuer,
    audience: env('CLIENT_ID'),
  });
  const access = await jose.jwtVerify(env('ACCESS_TOKEN'), jwks, {
    issuer: discovery.issuer,
    audience: env('ACCESS_AUDIENCE'),
  });
  let tampered;
  try {
    const [h, p, s] = env('ACCESS_TOKEN').split('.');
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    claims.sub = 'someone-else';
    const forged = [h, Buffer.from(JSON.stringify(claims)).toString('base64url'), s].join('.');
    await jose.jwtVerify(forged, jwks, { issuer: discovery.issuer });
    tampered = 'accepted';
  } catch (err) {
    tampered = err.code;
  }
  return {
    id_token: { alg: id.protectedHeader.alg, sub: id.payload.sub, iss: id.payload.iss },
    access_token: { alg: access.protectedHeader.alg, sub: access.payload.sub, aud: access.payload.aud },
    tampered,
  };
});
