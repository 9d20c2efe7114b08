/* Messenger loader: launcher + lazy chat frame; one <script data-inbox> per inbox. */
(function (w, d) {
  var s = d.currentScript, tok = s && s.getAttribute('data-inbox');
  if (!tok) return;
  var base = new URL(s.src).origin, K = 'msgr:' + tok, u = '?inbox=' + encodeURIComponent(tok), M = w.Messenger, q = [], N = 'http://www.w3.org/2000/svg';
  function st(e, c) { e.style.cssText = c; return e; }
  function at(e, a) { for (var k in a) e.setAttribute(k, a[k]); return e; }
  if (!M || !M._l) {
    q = M && M.forEach ? M : [];
    M = w.Messenger = { _l: [], _h: {} };
    M.push = function (a) { M[a[0]] && M[a[0]].apply(M, a.slice(1)); };
    M.on = function (e, cb) { (M._h[e] = M._h[e] || []).push(cb); };
    'open close toggle reset setUser setAttributes'.split(' ').forEach(function (n) {
      M[n] = function (a, b) {
        var only = n[0] == 's' ? (M[n + '_'] = a, b) : a;
        M._l.forEach(function (l) { if (!only || l.t == only) l[n](a); });
      };
    });
    /* This tab's visit: the landing page (with the referrer) first, then the last pages, each with
       when it was opened and, once left, the seconds spent on it (s). */
    try { M._v = JSON.parse(sessionStorage['msgr:pages']) || []; } catch (_) { M._v = []; }
    var rec = function () {
      var n = Date.now(), v = M._v, l = v[v.length - 1], e = { url: location.href, title: d.title, at: n };
      if (l && l.url == e.url) return;
      if (l) l.s = Math.round((n - l.at) / 1e3);
      else e.ref = d.referrer;
      if (v.push(e) > 20) v.splice(1, 1);
      try { sessionStorage['msgr:pages'] = JSON.stringify(v); } catch (_) {}
    };
    rec();
    var nav = function () { setTimeout(function () { rec(); M._l.forEach(function (l) { l.page(); }); }); };
    ['pushState', 'replaceState'].forEach(function (f) {
      var o = history[f];
      history[f] = function () { var r = o.apply(this, arguments); nav(); return r; };
    });
    w.addEventListener('popstate', nav);
  }
  /* data-position="left" puts this launcher (and its chat) on the left; launchers on one side stack. */
  var side = s.getAttribute('data-position') == 'left' ? 'left' : 'right';
  var SET = ['setUser', 'setAttributes'], L = { t: tok, s: side }, open, ready, out = [], fr;
  var x = 20 + M._l.filter(function (l) { return l.s == side; }).length * 76 + 'px';
  M._l.push(L);
  var btn = at(st(d.createElement('button'), 'position:fixed;bottom:20px;' + side + ':' + x + ';width:60px;height:60px;' +
    'border-radius:50%;border:0;cursor:pointer;box-shadow:0 4px 14px #0004;z-index:2147483000;padding:16px'),
    { 'aria-label': 'Chat', 'aria-expanded': false, 'data-inbox': tok });
  /* With several launchers on a page each shows its inbox name above it. */
  var tag = st(d.createElement('span'), 'position:absolute;bottom:64px;right:0;' +
    'white-space:nowrap;padding:0 6px;border-radius:9px;background:#fff;color:#000;font:12px/18px sans-serif');
  L.tag = function () { if (M._l.length > 1) btn.appendChild(tag); };
  var svg = btn.appendChild(at(d.createElementNS(N, 'svg'), { viewBox: '0 0 24 24', width: 28, height: 28 }));
  svg.appendChild(at(d.createElementNS(N, 'path'), { fill: '#fff', d: 'M3 4h18v13H9l-6 4z' }));
  var badge = btn.appendChild(st(d.createElement('span'), 'position:absolute;top:-4px;right:-4px;min-width:20px;' +
    'border-radius:10px;background:#d93025;color:#fff;font:bold 12px/20px sans-serif;display:none'));
  btn.onclick = function () { L.toggle(); };
  function emit(e, v) { (M._h[e] || []).forEach(function (cb) { try { cb(v, tok); } catch (_) {} }); }
  function send(t, v) { ready ? fr.contentWindow.postMessage({ msgr: 1, t: t, d: v }, base) : out.push([t, v]); }
  function size() {
    st(fr, 'position:fixed;z-index:2147483001;border:0;background:#fff;display:' + (open ? 'block' : 'none') +
      (w.innerWidth <= 480 ? ';inset:0;width:100%;height:100%' : ';bottom:92px;' + side + ':' + x +
        ';width:370px;height:min(620px,calc(100vh - 120px));border-radius:14px;box-shadow:0 8px 30px #0004'));
  }
  function state(o) { open = o; size(); at(btn, { 'aria-expanded': !!o }); send(o ? 'open' : 'close'); emit(o ? 'open' : 'close'); }
  L.load = function () {
    if (fr) return;
    fr = at(d.createElement('iframe'), { src: base + '/widget/frame' + u, title: 'Chat' });
    size();
    w.addEventListener('resize', size);
    fr.onload = function () { fr.contentWindow.postMessage({ msgr: 1, t: 'hello' }, base); };
    d.body.appendChild(fr);
    L.page();
    SET.forEach(function (n) { M[n + '_'] && send(n, M[n + '_']); });
  };
  L.open = function () { L.load(); state(1); };
  L.close = function () { if (fr) state(0); };
  L.toggle = function () { open ? L.close() : L.open(); };
  L.reset = function () { L.load(); send('reset'); };
  SET.forEach(function (n) { L[n] = function (a) { fr && send(n, a); }; });
  L.page = function () { fr && send('page', { url: location.href, title: d.title, pages: M._v }); };
  w.addEventListener('message', function (e) {
    var m = e.data, t = m && m.t, v = m && m.d;
    if (e.origin != base || !fr || e.source != fr.contentWindow || !m || m.msgr != 1) return;
    if (t == 'ready') { ready = 1; out.splice(0).forEach(function (a) { send(a[0], a[1]); }); }
    if (t == 'close') L.close();
    if (t == 'open') L.open();
    if (t == 'unread') { badge.textContent = v > 9 ? '9+' : v; badge.style.display = v ? 'block' : 'none'; }
    if (t == 'active') try { localStorage[K] = v ? 1 : ''; } catch (_) {}
    emit(t, v);
  });
  fetch(base + '/widget/api/v1/config' + u + '&page=' + encodeURIComponent(location.pathname)).then(function (r) {
    return r.ok && r.json();
  }).then(function (c) {
    if (!c || c.hidden) return;
    btn.style.background = /^#[0-9a-f]{3,8}$/i.test(c.color) ? c.color : '#1f6feb';
    if (c.name) { at(btn, { 'aria-label': c.name, title: c.name }); tag.textContent = c.name; }
    d.body.appendChild(btn);
    M._l.forEach(function (l) { l.tag(); });
    var p = c.proactive;
    if (p) setTimeout(function () { L.load(); send('proactive', p); }, p.delay_s * 1e3);
    try { if (localStorage[K]) (w.requestIdleCallback || setTimeout)(L.load); } catch (_) {}
  }, function () {});
  q.forEach(M.push);
})(window, document);
