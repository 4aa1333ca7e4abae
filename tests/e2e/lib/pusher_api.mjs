// The Pusher HTTP API's side of the e2e tests: the app's settings, a relay
// with them, the npm `pusher` client on it, and a signer of our own (the
// formula of pusher-http-node and pusher-php-server) for the requests the
// client would never send (stale, wrong MD5, doubled parameters).
import crypto from 'node:crypto';
import Pusher from 'pusher';

export const APP = { appId: '4242', key: 'app-key-1', secret: 'app-secret-1' };

export const pusherFlags = (extra = {}) => ({
  pusher_app_id: APP.appId,
  pusher_key: APP.key,
  pusher_secret: APP.secret,
  ...extra,
});

export function pusherClient(port, over = {}) {
  return new Pusher({ ...APP, host: '127.0.0.1', port: String(port), useTLS: false, ...over });
}

// A signed request: method, path, params (besides the auth ones), body
// text; opts change what is signed (ts, key, secret, md5) or the query
// string after signing (tamper).
export async function signedFetch(port, method, path, { params = {}, body, ts, key, secret, md5, tamper } = {}) {
  const q = {
    auth_key: key ?? APP.key,
    auth_timestamp: String(ts ?? Math.floor(Date.now() / 1000)),
    auth_version: '1.0',
    ...params,
  };
  if (body !== undefined) q.body_md5 = md5 ?? crypto.createHash('md5').update(body).digest('hex');
  const qs = Object.keys(q)
    .sort()
    .map((k) => `${k}=${q[k]}`)
    .join('&');
  const sig = crypto
    .createHmac('sha256', secret ?? APP.secret)
    .update(`${method}\n${path}\n${qs}`)
    .digest('hex');
  let url = `http://127.0.0.1:${port}${path}?${qs}&auth_signature=${sig}`;
  if (tamper) url = tamper(url);
  const res = await fetch(url, {
    method,
    body,
    headers: body !== undefined ? { 'content-type': 'application/json' } : {},
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* a text error */
  }
  return { status: res.status, text, json, headers: res.headers };
}
