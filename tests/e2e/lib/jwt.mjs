// JWTs for the Mercure front's tests (docs/PROTOCOL.md, Mercure), signed
// with node:crypto: HS256 over a shared secret, RS256 with an RSA key pair
// made here (the relay gets the PEM public key), and the forgeries the
// relay must refuse (alg none, another alg, a bad signature, expired).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const b64url = (buf) => Buffer.from(buf).toString('base64url');
export const now = () => Math.floor(Date.now() / 1000);

function parts(header, payload) {
  return `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
}

export function hs256(payload, secret, header = { alg: 'HS256', typ: 'JWT' }) {
  const input = parts(header, payload);
  return `${input}.${crypto.createHmac('sha256', secret).update(input).digest('base64url')}`;
}

export function rs256(payload, privateKey, header = { alg: 'RS256', typ: 'JWT' }) {
  const input = parts(header, payload);
  const sig = crypto.sign('sha256', Buffer.from(input), privateKey);
  return `${input}.${b64url(sig)}`;
}

// "alg": "none" with an empty signature.
export function algNone(payload) {
  return `${parts({ alg: 'none', typ: 'JWT' }, payload)}.`;
}

// An RSA key pair: the private key (KeyObject) to sign, the public key as
// PEM (SubjectPublicKeyInfo) for the relay, written to dir when given.
export function rsaKeys(dir) {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = publicKey.export({ type: 'spki', format: 'pem' });
  const file = dir ? path.join(dir, 'mercure-pub.pem') : null;
  if (file) fs.writeFileSync(file, pem);
  return { privateKey, publicPem: pem, file };
}

// The claims of a Mercure JWT: publish and subscribe selector lists (left
// out when undefined), exp an hour ahead unless given (null: none).
export function mercureClaims({ publish, subscribe, exp = now() + 3600, extra = {} } = {}) {
  const mercure = {};
  if (publish !== undefined) mercure.publish = publish;
  if (subscribe !== undefined) mercure.subscribe = subscribe;
  const c = { mercure, ...extra };
  if (exp !== null) c.exp = exp;
  return c;
}
