// @auth0/auth0-auth-js against gatehouse over HTTPS (the SDK builds https://GH_DOMAIN).
// argv[2] picks the flow:
//   password   getTokenByPassword, getTokenByRefreshToken, getUserInfo, revokeToken, then a
//              refresh with the revoked token (must fail);
//   mfa        a login answered mfa_required, mfa.enrollAuthenticator (otp), mfa.verify with the
//              first code; a second login, mfa.listAuthenticators, mfa.challengeAuthenticator,
//              mfa.verify;
//   mfa-challenge-first   enrollAuthenticator, challengeAuthenticator, verify (the SDK's own
//              enrol -> challenge -> verify sequence);
//   mfa-delete a login after enrolment, listAuthenticators, deleteAuthenticator (refused with
//              the mfa_token, done with the access token of the login that passed the factor).
import { AuthClient, isMfaRequiredError } from '@auth0/auth0-auth-js';
import { env, report, totp, nowStep } from './common.mjs';

const auth = new AuthClient({
  domain: env('DOMAIN'),
  clientId: env('CLIENT_ID'),
  clientSecret: env('CLIENT_SECRET'),
});
const credentials = { username: env('USERNAME'), password: env('PASSWORD') };
const scope = 'openid email offline_access';

/** A password login that must answer mfa_required; returns its mfa_token. */
async function mfaToken() {
  try {
    await auth.getTokenByPassword({ ...credentials, scope });
  } catch (err) {
    if (isMfaRequiredError(err)) return err.cause.mfa_token;
    throw err;
  }
  throw new Error('the login did not ask for a second factor');
}

const flows = {
  async password() {
    const login = await auth.getTokenByPassword({ ...credentials, scope });
    const refreshed = await auth.getTokenByRefreshToken({ refreshToken: login.refreshToken });
    const userinfo = await auth.getUserInfo({
      accessToken: refreshed.accessToken,
      expectedSubject: login.claims.sub,
    });
    await auth.revokeToken({ token: refreshed.refreshToken, tokenTypeHint: 'refresh_token' });
    let afterRevocation;
    try {
      await auth.getTokenByRefreshToken({ refreshToken: refreshed.refreshToken });
      afterRevocation = 'refreshed';
    } catch (err) {
      afterRevocation = err.cause?.error ?? String(err);
    }
    return {
      sub: login.claims.sub,
      iss: login.claims.iss,
      scope: login.scope,
      rotated: refreshed.refreshToken !== login.refreshToken,
      userinfo,
      after_revocation: afterRevocation,
    };
  },

  async mfa() {
    const first = await mfaToken();
    const enrolment = await auth.mfa.enrollAuthenticator({ authenticatorTypes: ['otp'], mfaToken: first });
    const step = nowStep();
    const enrolled = await auth.mfa.verify({ mfaToken: first, factorType: 'otp', otp: totp(enrolment.secret, step) });
    const second = await mfaToken();
    const authenticators = await auth.mfa.listAuthenticators({ mfaToken: second });
    const challenge = await auth.mfa.challengeAuthenticator({
      challengeType: 'otp',
      authenticatorId: authenticators.find((a) => a.authenticatorType === 'otp').id,
      mfaToken: second,
    });
    // The server takes each step once and accepts one step ahead of its clock.
    const verified = await auth.mfa.verify({ mfaToken: second, factorType: 'otp', otp: totp(enrolment.secret, step + 1) });
    return {
      enrolment: { authenticatorType: enrolment.authenticatorType, barcodeUri: enrolment.barcodeUri, recovery_codes: enrolment.recoveryCodes?.length ?? 0 },
      enrolled: { sub: enrolled.claims?.sub, amr: enrolled.claims?.amr, refresh: Boolean(enrolled.refreshToken) },
      authenticators,
      challenge,
      verified: { sub: verified.claims?.sub, amr: verified.claims?.amr, access: Boolean(verified.accessToken) },
    };
  },

  async 'mfa-challenge-first'() {
    const token = await mfaToken();
    const enrolment = await auth.mfa.enrollAuthenticator({ authenticatorTypes: ['otp'], mfaToken: token });
    const challenge = await auth.mfa.challengeAuthenticator({ challengeType: 'otp', mfaToken: token });
    const verified = await auth.mfa.verify({ mfaToken: token, factorType: 'otp', otp: totp(enrolment.secret, nowStep()) });
    return { challenge, verified: { sub: verified.claims?.sub, amr: verified.claims?.amr } };
  },

  async 'mfa-delete'() {
    const first = await mfaToken();
    const enrolment = await auth.mfa.enrollAuthenticator({ authenticatorTypes: ['otp'], mfaToken: first });
    const step = nowStep();
    await auth.mfa.verify({ mfaToken: first, factorType: 'otp', otp: totp(enrolment.secret, step) });
    const second = await mfaToken();
    const before = await auth.mfa.listAuthenticators({ mfaToken: second });
    const otp = before.find((a) => a.authenticatorType === 'otp');
    // An mfa_token proves only the password: like Auth0, removing an active factor takes an
    // access token of a login that passed the second factor, which the SDK sends in its place.
    let withMfaToken;
    try {
      await auth.mfa.deleteAuthenticator({ authenticatorId: otp.id, mfaToken: second });
      withMfaToken = 'deleted';
    } catch (err) {
      withMfaToken = err.cause?.error ?? String(err);
    }
    const login = await auth.mfa.verify({ mfaToken: second, factorType: 'otp', otp: totp(enrolment.secret, step + 1) });
    await auth.mfa.deleteAuthenticator({ authenticatorId: otp.id, mfaToken: login.accessToken });
    // With no factor left, the next login is asked to enrol again.
    const third = await mfaToken();
    const after = await auth.mfa.listAuthenticators({ mfaToken: third });
    return { before, with_mfa_token: withMfaToken, after };
  },
};

await report(() => flows[process.argv[2]]());
