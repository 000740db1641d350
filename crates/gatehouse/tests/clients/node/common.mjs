// Shared by the Node client scripts that crates/gatehouse/tests/e2e/libraries.rs runs: the
// settings the test passes in GH_* variables, a JSON report on the last line of standard
// output, RFC 6238 codes, and a fetch that records what the library sent.
import { createHmac } from 'node:crypto';

/** A GH_* variable the test must set. */
export function env(name) {
  const value = process.env[`GH_${name}`];
  if (value === undefined) throw new Error(`GH_${name} is not set`);
  return value;
}

/** Runs `main`, printing its result (or the error, with its cause) as one JSON line. */
export async function report(main) {
  try {
    console.log(JSON.stringify({ ok: true, ...(await main()) }));
  } catch (err) {
    const cause = err?.cause && typeof err.cause === 'object' ? { ...err.cause } : err?.cause;
    console.log(JSON.stringify({ ok: false, error: String(err), code: err?.code, cause }));
    process.exitCode = 1;
  }
}

/** The RFC 6238 code (HMAC-SHA-1, 6 digits, 30 s) of a base32 secret at step `step`. */
export function totp(base32Secret, step) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of base32Secret.replace(/=+$/, '').toUpperCase()) {
    bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  }
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(code).padStart(6, '0');
}

/** The current RFC 6238 step. */
export function nowStep() {
  return Math.floor(Date.now() / 30_000);
}

/** A fetch that keeps each request's method, URL and body in `log`. */
export function recordingFetch(log) {
  return async (url, options = {}) => {
    let body = options.body;
    if (body instanceof URLSearchParams) body = body.toString();
    log.push({ method: options.method ?? 'GET', url: String(url), body: body ?? null });
    return fetch(url, options);
  };
}

/** The claims of a compact JWS, unverified. */
export function claimsOf(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
}

/** `exp - iat` of the client_assertion in the form body of each recorded token request. */
export function assertionLifetimes(log) {
  return log
    .filter((r) => typeof r.body === 'string' && r.body.includes('client_assertion='))
    .map((r) => {
      const c = claimsOf(new URLSearchParams(r.body).get('client_assertion'));
      return c.exp - c.iat;
    });
}
