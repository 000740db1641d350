// openid-client v6 against gatehouse: discovery, the password grant through
// genericGrantRequest, refresh, userinfo, introspection and revocation, with the client
// authentication named by argv[2]: client_secret_basic, client_secret_jwt or private_key_jwt.
import * as client from 'openid-client';
import * as jose from 'jose';
import { readFileSync } from 'node:fs';
import { env, report, recordingFetch, assertionLifetimes } from './common.mjs';

await report(async () => {
  const method = process.argv[2];
  const secret = process.env.GH_CLIENT_SECRET;
  let auth;
  if (method === 'client_secret_basic') auth = client.ClientSecretBasic(secret);
  else if (method === 'client_secret_jwt') auth = client.ClientSecretJwt(secret);
  else if (method === 'private_key_jwt') {
    const key = await jose.importPKCS8(readFileSync(env('KEY_FILE'), 'utf8'), 'RS256');
    auth = client.PrivateKeyJwt({ key, kid: env('KID') });
  } else throw new Error(`unknown method ${method}`);
  const config = await client.discovery(new URL(env('ISSUER')), env('CLIENT_ID'), undefined, auth);
  const sent = [];
  config[client.customFetch] = recordingFetch(sent);

  const login = await client.genericGrantRequest(config, 'password', {
    username: env('USERNAME'),
    password: env('PASSWORD'),
    scope: 'openid email offline_access',
  });
  const idClaims = login.claims();
  const refreshed = await client.refreshTokenGrant(config, login.refresh_token);
  const userinfo = await client.fetchUserInfo(config, refreshed.access_token, idClaims.sub);
  const introspection = await client.tokenIntrospection(config, refreshed.access_token);
  await client.tokenRevocation(config, refreshed.refresh_token, {
    token_type_hint: 'refresh_token',
  });
  const afterRevocation = await client.tokenIntrospection(config, refreshed.refresh_token);
  return {
    issuer: config.serverMetadata().issuer,
    id_token_sub: idClaims.sub,
    id_token_iss: idClaims.iss,
    scope: login.scope,
    refreshed: Boolean(refreshed.access_token && refreshed.refresh_token),
    refresh_token_rotated: refreshed.refresh_token !== login.refresh_token,
    userinfo,
    introspection,
    after_revocation: afterRevocation,
    assertion_lifetimes: assertionLifetimes(sent),
    refresh_token: refreshed.refresh_token,
  };
});
