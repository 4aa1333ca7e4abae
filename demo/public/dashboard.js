/*
 * The dashboard: charts and feeds fed by the browser client
 * (packages/herald-client, window.Herald). One client per tab, shared: the
 * tabs of this origin hold one connection to the relay between them.
 */
(function () {
  'use strict';
  var cfg = window.HERALD_DEMO;
  var $ = function (id) {
    return document.getElementById(id);
  };
  var counts = { metrics: 0, alert: 0, notify: 0 };

  function fmtBytes(n) {
    var u = ['B', 'KB', 'MB', 'GB', 'TB'];
    var i = 0;
    while (n >= 1024 && i < u.length - 1) {
      n /= 1024;
      i++;
    }
    return (n >= 100 || i === 0 ? n.toFixed(0) : n.toFixed(1)) + ' ' + u[i];
  }
  function fmtTime(iso) {
    var d = iso ? new Date(iso) : new Date();
    return d.toLocaleTimeString([], { hour12: false });
  }
  // "relay open · WebSocket · leader": the state of the shared connection,
  // how it goes, and whether this tab holds it (leader) or another one does.
  function setStatus(el, s) {
    el.dataset.status = s.state;
    el.dataset.role = s.role || '';
    el.dataset.transport = s.transport || '';
    var text = s.state;
    if (s.state === 'reconnecting' && s.delay !== undefined) text = 'retry in ' + (s.delay / 1000).toFixed(1) + ' s';
    var parts = [text];
    if (s.transport) parts.push(s.transport === 'websocket' ? 'WebSocket' : 'SSE');
    if (s.role && s.role !== 'single') parts.push(s.role === 'leader' ? 'this tab leads' : 'shared');
    el.innerHTML = 'relay <b>' + parts.join(' · ') + '</b>';
  }
  function updateCounts() {
    var n = function (k, word) {
      return counts[k] + ' ' + word + (counts[k] === 1 ? '' : 's');
    };
    $('counts').textContent = n('metrics', 'sample') + ' · ' + n('alert', 'alert') + ' · ' + n('notify', 'notification') + ' received';
  }

  // A small line chart on a canvas: fixed window, several series.
  function Chart(canvas, series, opts) {
    this.canvas = canvas;
    this.series = series; // [{color, data: []}]
    this.opts = opts || {};
    this.max = 90;
    this.points = 0;
  }
  Chart.prototype.push = function (values) {
    var self = this;
    values.forEach(function (v, i) {
      var d = self.series[i].data;
      d.push(v);
      if (d.length > self.max) d.shift();
    });
    this.points++;
    this.canvas.dataset.points = String(this.points);
    this.draw();
  };
  Chart.prototype.draw = function () {
    var c = this.canvas;
    var dpr = window.devicePixelRatio || 1;
    var w = c.clientWidth || c.width;
    var h = c.clientHeight || c.height;
    if (c.width !== Math.round(w * dpr)) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
    }
    var g = c.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    var top = this.opts.fixedMax;
    if (!top) {
      top = 1;
      this.series.forEach(function (s) {
        s.data.forEach(function (v) {
          top = Math.max(top, v);
        });
      });
      top *= 1.2;
    }
    var left = 48;
    var pad = 8;
    var plotW = w - left - pad;
    var plotH = h - 2 * pad;
    g.font = '11px system-ui, sans-serif';
    g.fillStyle = '#7d8aa5';
    g.strokeStyle = 'rgba(125,138,165,0.18)';
    g.lineWidth = 1;
    for (var i = 0; i <= 4; i++) {
      var y = pad + (plotH * i) / 4;
      g.beginPath();
      g.moveTo(left, y);
      g.lineTo(w - pad, y);
      g.stroke();
      var label = top * (1 - i / 4);
      g.fillText(this.opts.format ? this.opts.format(label) : label.toFixed(0), 4, y + 4);
    }
    var max = this.max;
    this.series.forEach(function (s) {
      var d = s.data;
      if (d.length < 2) return;
      var x0 = left + plotW * (1 - (d.length - 1) / (max - 1));
      var pt = function (k) {
        return [x0 + (plotW * k) / (max - 1), pad + plotH * (1 - Math.min(d[k], top) / top)];
      };
      g.beginPath();
      d.forEach(function (v, k) {
        var p = pt(k);
        if (k === 0) g.moveTo(p[0], p[1]);
        else g.lineTo(p[0], p[1]);
      });
      g.strokeStyle = s.color;
      g.lineWidth = 2;
      g.setLineDash(s.dash || []);
      g.stroke();
      g.setLineDash([]);
      g.lineTo(pt(d.length - 1)[0], pad + plotH);
      g.lineTo(x0, pad + plotH);
      g.closePath();
      g.fillStyle = s.fill;
      g.fill();
    });
  };

  var usage = new Chart(
    $('chart-usage'),
    [
      { color: '#4fc3f7', fill: 'rgba(79,195,247,0.12)', data: [] },
      { color: '#b388ff', fill: 'rgba(179,136,255,0.10)', data: [] },
    ],
    { fixedMax: 100 },
  );
  var net = new Chart(
    $('chart-net'),
    [
      { color: '#69f0ae', fill: 'rgba(105,240,174,0.10)', data: [] },
      { color: '#ffd54f', fill: 'rgba(255,213,79,0.08)', dash: [6, 4], data: [] },
    ],
    { format: fmtBytes },
  );

  function onMetrics(m) {
    counts.metrics++;
    $('host').textContent = m.host + ' · up ' + Math.floor(m.uptime / 3600) + ' h ' + Math.floor((m.uptime % 3600) / 60) + ' min';
    $('cpu-value').textContent = m.cpu.toFixed(1) + ' %';
    $('cpu-sub').textContent = m.ncpu + ' CPU' + (m.ncpu > 1 ? 's' : '');
    $('mem-value').textContent = m.mem.pct.toFixed(1) + ' %';
    $('mem-sub').textContent = fmtBytes(m.mem.used) + ' of ' + fmtBytes(m.mem.total);
    $('load-value').textContent = m.load[0].toFixed(2);
    $('load-sub').textContent = '5 min ' + m.load[1].toFixed(2) + ' · 15 min ' + m.load[2].toFixed(2);
    $('net-value').textContent = fmtBytes(m.net.rx) + '/s';
    $('net-sub').textContent = 'sent ' + fmtBytes(m.net.tx) + '/s';
    var checks = $('checks');
    checks.innerHTML = '';
    Object.keys(m.checks).forEach(function (name) {
      var c = m.checks[name];
      var li = document.createElement('li');
      li.className = c.ok ? 'ok' : 'bad';
      li.textContent = name + ' ' + (c.ok ? c.ms.toFixed(1) + ' ms' : 'down');
      checks.appendChild(li);
    });
    usage.push([m.cpu, m.mem.pct]);
    net.push([m.net.rx, m.net.tx]);
    updateCounts();
  }

  function addItem(list, emptyId, li) {
    var ul = $(list);
    ul.insertBefore(li, ul.firstChild);
    while (ul.children.length > 50) ul.removeChild(ul.lastChild);
    $(emptyId).hidden = true;
  }

  function onAlert(a) {
    counts.alert++;
    var li = document.createElement('li');
    li.className = 'level-' + a.level;
    li.dataset.rule = a.rule;
    var t = document.createElement('time');
    t.textContent = fmtTime(a.time);
    var badge = document.createElement('span');
    badge.className = 'badge';
    badge.textContent = a.state === 'resolved' ? 'resolved' : a.level;
    var msg = document.createElement('span');
    msg.className = 'msg';
    msg.textContent = a.message;
    li.append(t, badge, msg);
    addItem('alerts', 'alerts-empty', li);
    updateCounts();
  }

  function onNotify(n) {
    counts.notify++;
    var li = document.createElement('li');
    li.className = 'note';
    li.dataset.id = n.id;
    var t = document.createElement('time');
    t.textContent = fmtTime(n.time);
    var from = document.createElement('b');
    from.textContent = n.from;
    var msg = document.createElement('span');
    msg.className = 'msg';
    msg.textContent = n.text;
    li.append(t, from, msg);
    addItem('notifications', 'notifications-empty', li);
    updateCounts();
  }

  var herald = new Herald(cfg.relay, {
    parseJson: true, // every payload of this demo is JSON
    events: ['metrics', 'alert'], // SSE fallback: the event names published
    onGap: function (info) {
      onAlert({
        level: 'info',
        rule: 'herald.gap',
        state: 'firing',
        message: 'Reconnected; events may have been missed on ' + info.channel,
        time: new Date().toISOString(),
      });
    },
    onStatus: function (s) {
      setStatus($('relay-status'), s);
    },
  });
  herald.subscribe('metrics', function (m) {
    onMetrics(m.data);
  });
  herald.subscribe('alerts', function (m) {
    onAlert(m.data);
  });
  herald.subscribe('notify', function (m) {
    if (m.data && typeof m.data === 'object') onNotify(m.data);
  });

  function post(url, body) {
    return fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body || {}),
    }).then(function (r) {
      return r.json();
    });
  }

  $('raise-alert').addEventListener('click', function () {
    post('alert.php');
  });
  $('notify-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var text = $('notify-text');
    post('notify.php', { from: $('notify-from').value, text: text.value }).then(function (r) {
      if (r.ok) text.value = '';
    });
  });
  window.addEventListener('resize', function () {
    usage.draw();
    net.draw();
  });

  window.demo = { herald: herald, counts: counts };
})();
