// Mint subscription tokens (HS256 JWTs) the way PHP's herald_token() does,
// plus the broken ones the relay must refuse. Used by tests/e2e/security_*.
import { createHmac } from 'node:crypto';

export const SECRET = 'test-secret-0123456789abcdef';

export const b64url = (buf) => Buffer.from(buf).toString('base64url');

export function sign(headerObj, claimsObj, secret = SECRET) {
  const h = b64url(JSON.stringify(headerObj));
  const p = b64url(JSON.stringify(claimsObj));
  const sig = createHmac('sha256', secret).update(`${h}.${p}`).digest('base64url');
  return `${h}.${p}.${sig}`;
}

export const now = () => Math.floor(Date.now() / 1000);

// A good token for these channels (names or "prefix*"), valid for ttl seconds.
export function token(channels, { ttl = 3600, secret = SECRET, nbf } = {}) {
  const claims = { channels, exp: now() + ttl };
  if (nbf !== undefined) claims.nbf = nbf;
  return sign({ alg: 'HS256', typ: 'JWT' }, claims, secret);
}

// "alg": "none" with an empty signature: the classic forgery.
export function algNone(channels) {
  const h = b64url(JSON.stringify({ alg: 'none', typ: 'JWT' }));
  const p = b64url(JSON.stringify({ channels, exp: now() + 3600 }));
  return `${h}.${p}.`;
}

// A good token's signature on a payload that claims more.
export function tampered(goodChannels, wantedChannels) {
  const [h, , sig] = token(goodChannels).split('.');
  const p = b64url(JSON.stringify({ channels: wantedChannels, exp: now() + 3600 }));
  return `${h}.${p}.${sig}`;
}
