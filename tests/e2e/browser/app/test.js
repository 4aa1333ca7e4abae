// Helpers the browser tests call with page.evaluate(): each stream records
// what it receives in window.T.got[name], so tests await DOM-side state.
window.T = {
  got: {},
  streams: {},
  record(name, item) {
    (this.got[name] = this.got[name] || []).push(item);
    document.getElementById('log').textContent += name + ' ' + JSON.stringify(item) + '\n';
  },
  // An EventSource through herald-client.js (native reconnection).
  sse(name, url, opts = {}) {
    const s = Herald.events(url, {
      channels: opts.channels,
      events: opts.events || [],
      onEvent: (type, data, e) => this.record(name, { type, data, id: e.lastEventId }),
      onGap: (info) => this.record(name, { type: 'herald.gap', info }),
      baseDelay: opts.baseDelay,
    });
    this.streams[name] = s;
    return true;
  },
  // A bare EventSource (to see readyState and errors as the browser has them).
  rawSse(name, url) {
    const es = new EventSource(url);
    const st = { opens: 0, errors: 0, es };
    es.onopen = () => st.opens++;
    es.onerror = () => st.errors++;
    es.onmessage = (e) => this.record(name, { type: e.type, data: e.data, id: e.lastEventId });
    this.streams[name] = st;
    return true;
  },
  // The shipped WebSocket client: backoff with jitter, resubscription.
  ws(name, url, channels, opts = {}) {
    const s = Herald.socket(url, {
      channels,
      baseDelay: opts.baseDelay,
      maxDelay: opts.maxDelay,
      onMessage: (data) => this.record(name, { data }),
    });
    this.streams[name] = s;
    return true;
  },
  // A bare WebSocket: messages as they come (no control filtering).
  rawWs(name, url) {
    const ws = new WebSocket(url);
    const st = { open: false, closed: null, ws };
    ws.onopen = () => (st.open = true);
    ws.onclose = (e) => (st.closed = { code: e.code });
    ws.onmessage = (e) => this.record(name, { data: e.data });
    this.streams[name] = st;
    return true;
  },
  data(name) {
    return (this.got[name] || []).map((x) => x.data);
  },
};
