// Helpers the browser tests call with page.evaluate(): each stream records
// what it receives in window.T.got[name], so tests await DOM-side state.
window.T = {
  got: {},
  streams: {},
  record(name, item) {
    (this.got[name] = this.got[name] || []).push(item);
    document.getElementById('log').textContent += name + ' ' + JSON.stringify(item) + '\n';
  },
  // An EventSource on channels (the browser's own reconnection and
  // Last-Event-ID), recording named events and herald.gap too.
  sse(name, url, opts = {}) {
    const u = new URL(url, location.href);
    for (const c of opts.channels || []) u.searchParams.append('channel', c);
    const es = new EventSource(u.href);
    const st = { opens: 0, errors: 0, es };
    const deliver = (e) => this.record(name, { type: e.type, data: e.data, id: e.lastEventId });
    es.onmessage = deliver;
    for (const ev of opts.events || []) es.addEventListener(ev, deliver);
    es.addEventListener('herald.gap', (e) => this.record(name, { type: 'herald.gap', info: JSON.parse(e.data), id: e.lastEventId }));
    es.onopen = () => st.opens++;
    es.onerror = () => st.errors++;
    this.streams[name] = st;
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
  // The shipped client (packages/herald-client, window.Herald) on a
  // herald.v1 WebSocket of its own: backoff with jitter, resume. data is
  // recorded as text (a JSON value as its JSON).
  ws(name, url, channels, opts = {}) {
    const st = { connects: 0, delays: [], subscribed: new Set(), gaps: [], errors: [] };
    st.client = new Herald(
      { ws: url, sse: null },
      {
        transport: 'websocket',
        shared: false,
        backoffBase: opts.baseDelay,
        backoffCap: opts.maxDelay,
        onStatus: (s) => {
          if (s.state === 'open') st.connects++;
          else st.subscribed.clear();
          if (s.state === 'reconnecting') st.delays.push(s.delay);
        },
        onControl: (c) => {
          if (c.type === 'subscribed') st.subscribed.add(c.channel);
        },
        onGap: (g) => st.gaps.push(g),
        onError: (e) => st.errors.push(e),
      },
    );
    for (const ch of channels) {
      st.client.subscribe(ch, (m) =>
        this.record(name, { data: typeof m.data === 'string' ? m.data : JSON.stringify(m.data), id: m.id, event: m.event }),
      );
    }
    this.streams[name] = st;
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
