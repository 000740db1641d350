// The legacy auth0 Node SDK (v4) AuthenticationClient against gatehouse over HTTPS: the
// password grant (the SDK validates the id_token: RS256 or HS256 only, iss https://DOMAIN/),
// refresh, revokeRefreshToken, and UserInfoClient.getUserInfo. v4 has no MFA API (no
// enrol/challenge methods; `mfa-otp` is not one of its grants).
import { AuthenticationClient, UserInfoClient } from 'auth0';
import { env, report, claimsOf } from './common.mjs';

await report(async () => {
  const domain = env('DOMAIN');
  const auth = new AuthenticationClient({
    domain,
    clientId: env('CLIENT_ID'),
    clientSecret: env('CLIENT_SECRET'),
  });
  const login = await auth.oauth.passwordGrant({
    username: env('USERNAME'),
    password: env('PASSWORD'),
    scope: 'openid email offline_access',
  });
  const refreshed = await auth.oauth.refreshTokenGrant({ refresh_token: login.data.refresh_token });
  const userinfo = await new UserInfoClient({ domain }).getUserInfo(refreshed.data.access_token);
  const revoked = await auth.oauth.revokeRefreshToken({ token: refreshed.data.refresh_token });
  let afterRevocation;
  try {
    await auth.oauth.refreshTokenGrant({ refresh_token: refreshed.data.refresh_token });
    afterRevocation = 'refreshed';
  } catch (err) {
    afterRevocation = err.error ?? err.body ?? String(err);
  }
  const idToken = claimsOf(login.data.id_token);
  return {
    id_token_alg: JSON.parse(Buffer.from(login.data.id_token.split('.')[0], 'base64url')).alg,
    sub: idToken.sub,
    iss: idToken.iss,
    refreshed: Boolean(refreshed.data.access_token),
    userinfo: userinfo.data,
    revoke_status: revoked.status,
    after_revocation: afterRevocation,
  };
});
