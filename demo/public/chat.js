/*
 * The chat room (chat.php): a name in a cookie, then the browser client on
 * herald.v1. Up: send() to the application (demo/hooks.php in php-fpm),
 * whose reply resolves the promise. Down: the room's messages (published by
 * the hook with herald_publish()), and presence: the member list from
 * presence() after every (re)subscribe, then join and leave envelopes, which
 * the relay sends once per user, not per tab.
 */
(function () {
  'use strict';
  var cfg = window.HERALD_CHAT;
  var COOKIE = 'demo_user';
  var $ = function (id) {
    return document.getElementById(id);
  };

  // The relay's user alphabet; the hook applies the same rule.
  function sanitise(name) {
    return name
      .trim()
      .replace(/[^A-Za-z0-9_.:@=/-]/g, '_')
      .slice(0, 32);
  }
  function readName() {
    var m = new RegExp('(?:^|; )' + COOKIE + '=([^;]*)').exec(document.cookie);
    return m ? sanitise(decodeURIComponent(m[1])) : '';
  }
  // The cookie belongs to the host, whatever the port: the WebSocket to the
  // relay (same host, another port) carries it, and the connect hook reads it.
  function writeName(name, maxAge) {
    document.cookie = COOKIE + '=' + encodeURIComponent(name) + '; path=/; SameSite=Lax; max-age=' + maxAge;
  }
  function fmtTime(iso) {
    return (iso ? new Date(iso) : new Date()).toLocaleTimeString([], { hour12: false });
  }
  function setStatus(s) {
    var el = $('relay-status');
    el.dataset.status = s.state;
    el.dataset.role = s.role || '';
    el.dataset.transport = s.transport || '';
    var parts = [s.state];
    if (s.role && s.role !== 'single') parts.push(s.role === 'leader' ? 'this tab leads' : 'shared');
    el.innerHTML = 'relay <b>' + parts.join(' · ') + '</b>';
  }
  function showError(text) {
    var el = $('send-error');
    el.textContent = text;
    el.hidden = !text;
  }

  var me = '';
  var members = new Map(); // user -> info, as the relay has it

  function renderOnline() {
    var ul = $('online');
    ul.textContent = '';
    Array.from(members.keys())
      .sort()
      .forEach(function (user) {
        var li = document.createElement('li');
        li.dataset.user = user;
        var info = members.get(user);
        var b = document.createElement('b');
        b.textContent = (info && info.name) || user;
        li.append(b);
        if (user === me) li.append(' (you)');
        ul.append(li);
      });
    $('online-count').textContent = String(members.size);
    $('online').dataset.count = String(members.size);
  }
  // What presence said, newest first (join/leave envelopes only).
  function logPresence(type, user) {
    var li = document.createElement('li');
    li.dataset.type = type;
    li.dataset.user = user;
    var t = document.createElement('time');
    t.textContent = fmtTime();
    li.append(t, ' ' + user + (type === 'join' ? ' joined' : ' left'));
    $('presence-log').prepend(li);
  }
  function addMessage(m) {
    var li = document.createElement('li');
    li.className = 'note';
    li.dataset.from = m.from;
    var t = document.createElement('time');
    t.textContent = fmtTime(m.time);
    var from = document.createElement('b');
    from.textContent = m.from;
    var text = document.createElement('span');
    text.className = 'msg';
    text.textContent = m.text;
    li.append(t, from, text);
    var ul = $('messages');
    ul.append(li);
    ul.scrollTop = ul.scrollHeight;
    $('messages-empty').hidden = true;
  }

  function start(name) {
    me = name;
    $('me').dataset.user = name;
    $('me').textContent = 'you are ' + name;
    $('name-panel').hidden = true;
    $('chat-panel').hidden = false;

    var herald = new Herald(cfg.relay, {
      transport: 'websocket', // send() and presence need herald.v1
      shared: cfg.shared,
      // Tabs share a connection only with tabs of the same name: the
      // dashboard's connection has no user, and a renamed tab needs its own.
      name: 'herald-chat:' + name,
      onStatus: setStatus,
      onControl: function (env) {
        if (env.channel !== cfg.room) return;
        if (env.type === 'subscribed') {
          refreshMembers(); // after every (re)subscribe: joins and leaves may have been missed
        } else if (env.type === 'join') {
          members.set(env.user, env.info);
          logPresence('join', env.user);
          renderOnline();
        } else if (env.type === 'leave') {
          members.delete(env.user);
          logPresence('leave', env.user);
          renderOnline();
        }
      },
      onError: function (env) {
        showError(env.error + (env.channel ? ' (' + env.channel + ')' : ''));
      },
    });
    function refreshMembers() {
      herald.presence(cfg.room).then(
        function (list) {
          members = new Map(
            list.map(function (m) {
              return [m.user, m.info];
            }),
          );
          renderOnline();
        },
        function (e) {
          showError('presence: ' + e.message);
        },
      );
    }
    herald.subscribe(cfg.room, function (m) {
      if (m.data && typeof m.data === 'object') addMessage(m.data);
    });

    $('send-form').addEventListener('submit', function (e) {
      e.preventDefault();
      var input = $('send-text');
      var text = input.value;
      if (!text.trim()) return;
      // The hook publishes the message to the room and replies {ok: true}.
      herald.send({ text: text }, { channel: cfg.room }).then(
        function () {
          if (input.value === text) input.value = '';
          showError('');
        },
        function (err) {
          showError('not sent: ' + err.message);
        },
      );
    });
    window.chat = {
      herald: herald,
      members: function () {
        return members;
      },
    };
  }

  $('name-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var name = sanitise($('name-input').value);
    if (!name) return;
    writeName(name, 30 * 86400);
    start(name);
  });
  $('leave').addEventListener('click', function () {
    writeName('', 0);
    location.reload();
  });
  var saved = readName();
  if (saved) start(saved);
  else $('name-input').focus();
})();
