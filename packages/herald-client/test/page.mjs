// The test page: the client as an application loads it, plus window.T,
// which records everything the client reports so tests wait on that state.
import { Herald } from '/herald-client.js';

const log = (s) => {
  document.getElementById('log').textContent += s + '\n';
};

window.Herald = Herald;
window.T = {
  ready: true,
  client: null,
  got: {}, // channel -> [{channel, id, data, event, binary}]
  statuses: [],
  gaps: [],
  errors: [],
  controls: [],
  subs: {},
  tokenCalls: 0,
  // start(relayUrl, options): options as JSON; token: 'fetch' calls /token.
  start(url, options = {}) {
    const opts = { ...options };
    if (opts.token === 'fetch') {
      opts.token = async () => {
        this.tokenCalls++;
        const r = await fetch('/token?tab=' + encodeURIComponent(location.search));
        return (await r.json()).token;
      };
    }
    opts.onStatus = (s) => {
      this.statuses.push(s);
      log('status ' + JSON.stringify(s));
    };
    opts.onGap = (g) => this.gaps.push(g);
    opts.onError = (e) => this.errors.push(e);
    opts.onControl = (e) => this.controls.push(e);
    this.client = new Herald(url, opts);
    return true;
  },
  sub(channel, opts) {
    this.got[channel] = this.got[channel] || [];
    this.subs[channel] = this.client.subscribe(
      channel,
      (m) => {
        const rec = { ...m };
        if (m.binary) rec.data = Array.from(m.data);
        this.got[channel].push(rec);
      },
      opts,
    );
    return true;
  },
  unsub(channel) {
    this.subs[channel].unsubscribe();
    delete this.subs[channel];
    return true;
  },
  get role() {
    return this.client && this.client.status.role;
  },
  get state() {
    return this.client && this.client.status.state;
  },
  get transport() {
    return this.client && this.client.status.transport;
  },
  // Promise outcome as data: {ok, value} or {ok: false, error}.
  async settle(p) {
    try {
      return { ok: true, value: await p };
    } catch (e) {
      return { ok: false, error: e.message, code: e.code };
    }
  },
  send(data, opts) {
    return this.settle(this.client.send(data, opts));
  },
  presence(channel) {
    return this.settle(this.client.presence(channel));
  },
  // Counts of each id per channel: what "received once" is checked on.
  dupes(channel) {
    const seen = new Map();
    for (const m of this.got[channel] || []) seen.set(m.id, (seen.get(m.id) || 0) + 1);
    return [...seen].filter(([, n]) => n > 1);
  },
};
