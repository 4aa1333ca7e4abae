// n relays joined through one real redis-server (a new one unless given),
// each with a publisher, once every relay reports its Redis link up. urls[i]
// names another address for relay i (a RedisProxy), own[i] its own flags.
import { Relay, Publisher, waitFor } from './harness.mjs';
import { Redis } from './redis.mjs';

export async function cluster(n, { flags = {}, urls = [], own = [], redis } = {}) {
  redis = redis || (await new Redis().start());
  const relays = [];
  redis.relays = relays; // redis.subscribers() asks them (workers)
  for (let i = 0; i < n; i++)
    relays.push(
      await new Relay({ flags: { redis: urls[i] || redis.url, ...flags, ...own[i] } }).start(),
    );
  await waitFor(async () => {
    for (const r of relays) if ((await r.metrics()).herald_redis_up !== 1) return false;
    return true;
  }, 'every relay linked to Redis');
  const pubs = [];
  for (const r of relays) pubs.push(await new Publisher(r.socket).connect());
  const stop = async () => {
    for (const p of pubs) await p.close();
    for (const r of relays) await r.stopClean();
    await redis.kill();
  };
  return { redis, relays, pubs, stop };
}
