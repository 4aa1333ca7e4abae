/*
 * herald-client.js: the browser side of Herald, no dependencies, one file.
 * Load it with <script src="herald-client.js"></script>; it defines window.Herald.
 *
 *   Herald.events(url, { channels, events, onEvent, onGap, onStatus })
 *     An EventSource on /sse?channel=A&channel=B… (one connection for all
 *     channels). The browser reconnects by itself and sends Last-Event-ID, so
 *     the relay replays what was missed; a "herald.gap" event (onGap) says when
 *     it could not. Only if the browser gives up for good (a non-200 answer,
 *     readyState CLOSED) is a new EventSource opened, with backoff.
 *
 *   Herald.socket(url, { channels, onMessage, onStatus })
 *     A WebSocket on /ws that reconnects with exponential backoff and jitter
 *     and subscribes again to every channel of its set after each reconnection.
 *     subscribe(ch) / unsubscribe(ch) change the set at any time.
 *
 *   Herald.backoff(attempt, { baseDelay, maxDelay }, random)
 *     The delay before reconnection attempt N (0, 1, 2…): "equal jitter",
 *     uniform in [d/2, d] with d = min(maxDelay, baseDelay * 2^N), so clients
 *     cut off together by a relay restart do not come back in the same instant.
 */
(function (global) {
  'use strict';

  var DEFAULTS = { baseDelay: 500, maxDelay: 30000 };

  function backoff(attempt, opts, random) {
    var base = (opts && opts.baseDelay) || DEFAULTS.baseDelay;
    var cap = (opts && opts.maxDelay) || DEFAULTS.maxDelay;
    var d = Math.min(cap, base * Math.pow(2, Math.min(attempt, 30)));
    var r = (random || Math.random)();
    return Math.round(d / 2 + (r * d) / 2);
  }

  function withChannels(url, channels) {
    var u = new URL(url, global.location && global.location.href);
    channels.forEach(function (c) {
      u.searchParams.append('channel', c);
    });
    return u.toString();
  }

  // Relay control replies: {"type":"subscribed"|"unsubscribed","channel":C} or
  // {"type":"error","channel":C,"error":E}. Anything else is an application message.
  function controlReply(text) {
    if (typeof text !== 'string' || text.charAt(0) !== '{' || text.indexOf('"type"') < 0) return null;
    var o;
    try {
      o = JSON.parse(text);
    } catch (e) {
      return null;
    }
    if (!o || typeof o.channel !== 'string') return null;
    var keys = Object.keys(o).sort().join(',');
    if ((o.type === 'subscribed' || o.type === 'unsubscribed') && keys === 'channel,type') return o;
    if (o.type === 'error' && keys === 'channel,error,type') return o;
    return null;
  }

  function HeraldSocket(url, opts) {
    opts = opts || {};
    this.url = url;
    this.opts = opts;
    this.channels = new Set(opts.channels || []);
    this.subscribed = new Set();
    this.attempt = 0; // consecutive failed attempts
    this.connects = 0; // successful opens
    this.delays = []; // every reconnection delay chosen, for display and tests
    this.status = 'connecting';
    this.closedByUser = false;
    this.ws = null;
    this.timer = null;
    this._open();
  }

  HeraldSocket.prototype._setStatus = function (s, extra) {
    this.status = s;
    if (this.opts.onStatus) this.opts.onStatus(s, extra || {});
  };

  HeraldSocket.prototype._open = function () {
    var self = this;
    var WS = this.opts.WebSocket || global.WebSocket;
    var ws = new WS(this.url);
    this.ws = ws;
    this._setStatus('connecting', { attempt: this.attempt });
    ws.onopen = function () {
      self.attempt = 0;
      self.connects++;
      self.subscribed.clear();
      self.channels.forEach(function (c) {
        ws.send(JSON.stringify({ type: 'subscribe', channel: c }));
      });
      self._setStatus('open', { connects: self.connects });
    };
    ws.onmessage = function (e) {
      var ctl = controlReply(e.data);
      if (ctl) {
        if (ctl.type === 'subscribed') self.subscribed.add(ctl.channel);
        if (ctl.type === 'unsubscribed') self.subscribed.delete(ctl.channel);
        if (self.opts.onControl) self.opts.onControl(ctl);
        return;
      }
      if (self.opts.onMessage) self.opts.onMessage(e.data, e);
    };
    ws.onclose = function (e) {
      if (self.ws !== ws) return;
      self.ws = null;
      self.subscribed.clear();
      if (self.closedByUser) {
        self._setStatus('closed', { code: e.code });
        return;
      }
      var delay = backoff(self.attempt, self.opts);
      self.attempt++;
      self.delays.push(delay);
      self._setStatus('reconnecting', { delay: delay, attempt: self.attempt, code: e.code });
      self.timer = setTimeout(function () {
        self.timer = null;
        self._open();
      }, delay);
    };
    ws.onerror = function () {
      /* a close event follows */
    };
  };

  HeraldSocket.prototype.subscribe = function (channel) {
    this.channels.add(channel);
    if (this.ws && this.ws.readyState === 1) this.ws.send(JSON.stringify({ type: 'subscribe', channel: channel }));
  };

  HeraldSocket.prototype.unsubscribe = function (channel) {
    this.channels.delete(channel);
    if (this.ws && this.ws.readyState === 1) this.ws.send(JSON.stringify({ type: 'unsubscribe', channel: channel }));
  };

  HeraldSocket.prototype.close = function () {
    this.closedByUser = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000);
    else this._setStatus('closed', {});
  };

  function HeraldEvents(url, opts) {
    opts = opts || {};
    this.opts = opts;
    this.url = opts.channels && opts.channels.length ? withChannels(url, opts.channels) : url;
    this.opens = 0; // 'open' events: the first connection and every reconnection
    this.reopens = 0; // new EventSource objects after the browser gave up
    this.gaps = 0;
    this.lastEventId = '';
    this.attempt = 0;
    this.status = 'connecting';
    this.closedByUser = false;
    this._open();
  }

  HeraldEvents.prototype._setStatus = function (s, extra) {
    this.status = s;
    if (this.opts.onStatus) this.opts.onStatus(s, extra || {});
  };

  HeraldEvents.prototype._open = function () {
    var self = this;
    var url = this.url;
    // A new EventSource has no last event id of its own: hand over the old one.
    if (this.lastEventId) {
      var u = new URL(url, global.location && global.location.href);
      u.searchParams.set('last_event_id', this.lastEventId);
      url = u.toString();
    }
    var es = new EventSource(url, { withCredentials: !!this.opts.withCredentials });
    this.es = es;
    var deliver = function (e) {
      if (e.lastEventId) self.lastEventId = e.lastEventId;
      if (self.opts.onEvent) self.opts.onEvent(e.type, e.data, e);
    };
    es.onmessage = deliver;
    (this.opts.events || []).forEach(function (name) {
      es.addEventListener(name, deliver);
    });
    es.addEventListener('herald.gap', function (e) {
      self.gaps++;
      if (e.lastEventId) self.lastEventId = e.lastEventId;
      var info = {};
      try {
        info = JSON.parse(e.data);
      } catch (err) {
        /* keep {} */
      }
      if (self.opts.onGap) self.opts.onGap(info, e);
    });
    es.onopen = function () {
      self.opens++;
      self.attempt = 0;
      self._setStatus('open', { opens: self.opens });
    };
    es.onerror = function () {
      if (self.closedByUser) return;
      if (es.readyState === EventSource.CLOSED) {
        // The browser gave up (an answer that was not a 200 event stream).
        var delay = backoff(self.attempt++, self.opts);
        self._setStatus('reconnecting', { delay: delay, gaveUp: true });
        setTimeout(function () {
          if (self.closedByUser) return;
          self.reopens++;
          self._open();
        }, delay);
      } else {
        self._setStatus('reconnecting', { gaveUp: false });
      }
    };
  };

  HeraldEvents.prototype.close = function () {
    this.closedByUser = true;
    this.es.close();
    this._setStatus('closed', {});
  };

  global.Herald = {
    backoff: backoff,
    socket: function (url, opts) {
      return new HeraldSocket(url, opts);
    },
    events: function (url, opts) {
      return new HeraldEvents(url, opts);
    },
    isControlReply: controlReply,
  };
})(typeof window !== 'undefined' ? window : globalThis);
