// Messenger chat frame: vanilla JS, every piece of user text goes through textContent.
import { connect as connectStream } from '/static/js/shared/stream.js';
import { attachmentLabel, isPreviewable, uploadFile } from '/static/js/shared/upload.js';

const $ = (id) => document.getElementById(id);
const B = document.body.dataset;
const INBOX = B.inbox;
const API = '/widget/api/v1';
const KEY = 'msgr.v1.' + INBOX;
const OUT = 'msgr.v1.out.' + INBOX;
const ORIGINS = JSON.parse(B.origins || '[]');
const T = {
  en: {
    placeholder: 'Write a message…', send: 'Send', attach: 'Attach a file', close: 'Close chat',
    connecting: 'Connecting…', offline: "You're offline — messages will be sent when you're back",
    lost: 'Connection lost — reconnecting…', back: 'Back online', sending: 'Sending…', sent: 'Sent',
    read: 'Read', failed: 'Not sent', retry: 'Retry', typing: '{n} is typing…', operator: 'Operator',
    queue: 'You are number {n} in the queue', wait: 'Estimated wait: about {m} min',
    waiting: "We'll reply as soon as we can.", offerOffline: "Nobody has picked up yet. Leave your email and we'll reply.",
    leave: 'Leave your email', email: 'Email', name: 'Name', message: 'Message', submit: 'Send',
    start: 'Start chat', required: 'Required', awayUntil: "We're away. Back {t}.", away: "We're away right now.",
    offlineSent: "Thanks! We'll reply by email.", offlineIntro: "Leave a message and your email — we'll reply.", rate: 'How did we do?', comment: 'Comment (optional)',
    thanks: 'Thank you for your feedback!', resolved: 'This conversation was resolved.', online: 'We usually reply in a few minutes',
    blocked: 'Chat is not available.', tooBig: 'The file is too big', badType: 'This file type is not allowed',
    uploadFailed: 'Upload failed', star: '{n} of 5',
  },
  ru: {
    placeholder: 'Напишите сообщение…', send: 'Отправить', attach: 'Прикрепить файл', close: 'Закрыть чат',
    connecting: 'Подключение…', offline: 'Нет сети — сообщения отправятся, когда связь вернётся',
    lost: 'Связь потеряна — переподключаемся…', back: 'Снова на связи', sending: 'Отправляется…',
    sent: 'Отправлено', read: 'Прочитано', failed: 'Не отправлено', retry: 'Повторить', typing: '{n} печатает…',
    operator: 'Оператор', queue: 'Вы {n}-й в очереди', wait: 'Ожидание: около {m} мин',
    waiting: 'Мы ответим, как только сможем.', offerOffline: 'Пока никто не ответил. Оставьте почту — мы напишем.',
    leave: 'Оставить почту', email: 'Почта', name: 'Имя', message: 'Сообщение', submit: 'Отправить',
    start: 'Начать чат', required: 'Обязательное поле', awayUntil: 'Сейчас нас нет. Вернёмся {t}.',
    away: 'Сейчас нас нет на месте.', offlineSent: 'Спасибо! Мы ответим на почту.',
    offlineIntro: 'Оставьте сообщение и почту — мы ответим.', rate: 'Как мы справились?',
    comment: 'Комментарий (необязательно)', thanks: 'Спасибо за отзыв!', resolved: 'Разговор завершён.',
    online: 'Обычно отвечаем за несколько минут', blocked: 'Чат недоступен.', tooBig: 'Файл слишком большой',
    badType: 'Такой тип файла нельзя загрузить', uploadFailed: 'Не удалось загрузить', star: '{n} из 5',
    scanning: 'Проверка…', infected: 'Файл удалён: найдено вредоносное ПО', unavailable: 'Файл недоступен',
  },
};
let lang = /^ru/i.test(navigator.language || '') ? 'ru' : (B.lang === 'ru' ? 'ru' : 'en');
const t = (k, v = {}) => T[lang][k].replace(/\{(\w)\}/g, (_, x) => v[x]);

const S = { token: null, config: null, conv: null, msgs: new Map(), hasMore: false, open: false, unread: 0,
  parent: B.parent || null, online: true, page: null, typingAt: 0, typingTimer: 0, waiting: [] };
let outbox = load(OUT, []).filter((o) => !o.uploading);
const urls = new Map();

function load(key, fallback) {
  try { return JSON.parse(localStorage.getItem(key)) ?? fallback; } catch (_) { return fallback; }
}
function store(key, value) {
  try { localStorage.setItem(key, JSON.stringify(value)); } catch (_) { /* private mode: memory only */ }
}
const saveOut = () => store(OUT, outbox);
const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function post(type, data) {
  if (S.parent && window.parent !== window) window.parent.postMessage({ msgr: 1, t: type, d: data }, S.parent);
}

async function api(method, path, body) {
  let resp;
  try {
    resp = await fetch(API + path, {
      method, headers: { 'Content-Type': 'application/json', ...(S.token ? { 'X-Visitor-Token': S.token } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw Object.assign(new Error('network'), { network: true });
  }
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw Object.assign(new Error(data.message || resp.statusText), { status: resp.status, code: data.error, field: data.field });
  return data;
}

// ---- connection state ------------------------------------------------------------------------
let bannerTimer = 0;
function banner(text, ok) {
  const b = $('banner');
  clearTimeout(bannerTimer);
  b.hidden = !text;
  b.textContent = text || '';
  b.className = ok ? 'ok' : '';
  if (ok) bannerTimer = setTimeout(() => { b.hidden = true; }, 2500);
}
function setOnline(up) {
  const was = S.online;
  S.online = up;
  if (!up) banner(navigator.onLine ? t('lost') : t('offline'));
  else if (!was) { banner(t('back'), true); flush(); }
}
addEventListener('online', () => flush());
addEventListener('offline', () => setOnline(false));
// The online/offline events are not delivered to every frame reliably: look every 2 s as well.
setInterval(() => { if (!navigator.onLine && S.online) setOnline(false); else if (navigator.onLine && outbox.length) flush(); }, 2000);

// ---- rendering -------------------------------------------------------------------------------
const keyOf = (m) => m.client_id || 'i' + m.id;
function upsert(m) {
  if (!m || (S.conv && m.conversation_id && m.conversation_id !== S.conv.id)) return;
  const key = keyOf(m);
  const old = S.msgs.get(key);
  if (old && old.attachments && !m.attachments) m.attachments = old.attachments;
  S.msgs.set(key, { ...old, ...m });
}
function tick(m) {
  if (m.pending) return m.failed ? t('failed') : '◷ ' + t('sending');
  return m.status === 'read' ? '✓✓ ' + t('read') : '✓ ' + t('sent');
}
// Plain text with http(s)/mailto links made clickable; no other scheme ever becomes a link (CASES 5).
const LINK = /\b(?:https?:\/\/|mailto:)[^\s<>"]+/gi;
function linkify(node, text) {
  let at = 0;
  for (const match of text.matchAll(LINK)) {
    const url = match[0].replace(/[.,;:!?)\]]+$/, '');
    node.append(text.slice(at, match.index));
    const a = node.appendChild(el('a', '', url));
    a.href = url;
    a.target = '_blank';
    a.rel = 'noopener noreferrer nofollow';
    at = match.index + url.length;
  }
  node.append(text.slice(at));
  return node;
}
function bubble(m) {
  if (m.type === 'activity') return el('div', 'sys', m.content);
  const mine = m.type === 'incoming';
  const node = linkify(el('div', 'msg ' + (mine ? 'me' : 'them') + (m.failed ? ' failed' : '')), m.content || '');
  for (const a of m.attachments || []) {
    const u = urls.get(a.id);
    const link = node.appendChild(el(u ? 'a' : 'span', 'att', u && isPreviewable(a) ? null : a.filename));
    if (u) {
      link.href = u.url;
      link.target = '_blank';
      link.rel = 'noopener noreferrer';
      if (isPreviewable(a) && u.thumb_url) {
        const img = link.appendChild(el('img'));
        img.src = u.thumb_url;
        img.alt = a.filename;
      }
    }
    const label = lang === 'ru' ? ({ pending: t('scanning'), infected: t('infected'), error: t('unavailable') }[a.status] || '')
      : attachmentLabel(a);
    if (label) node.appendChild(el('span', 'meta', label));
    if (a.progress != null) {
      const bar = node.appendChild(el('span', 'bar'));
      bar.appendChild(el('i')).style.width = Math.round(a.progress) + '%';
    }
  }
  if (mine) {
    const meta = node.appendChild(el('span', 'meta', tick(m)));
    if (m.failed) {
      const again = meta.appendChild(el('button', '', t('retry')));
      again.type = 'button';
      again.onclick = () => retry(m.client_id);
    }
  }
  return node;
}
function render(keepOffset) {
  const list = $('list');
  const bottom = list.scrollHeight - list.scrollTop - list.clientHeight < 60;
  const before = list.scrollHeight - list.scrollTop;
  const nodes = [];
  if (S.config && S.config.greeting && !S.hasMore) nodes.push(el('div', 'msg them', S.config.greeting));
  if (S.proactive && !S.hasMore) nodes.push(el('div', 'msg them', S.proactive));
  const sent = [...S.msgs.values()].sort((a, b) => a.id - b.id);
  const pending = outbox.map((o) => ({ ...o, type: 'incoming', pending: true, attachments: o.files }));
  let who = null;
  for (const m of [...sent, ...pending.filter((p) => !S.msgs.has(p.client_id))]) {
    // The operator's name above the first of their replies in a row (text only, never markup).
    const name = m.type === 'outgoing' ? m.sender_name || t('operator') : null;
    if (name && name !== who) nodes.push(el('div', 'who', name));
    if (m.type !== 'activity') who = name;
    nodes.push(bubble(m));
  }
  list.replaceChildren(...nodes);
  signUrls(sent);
  if (keepOffset) list.scrollTop = list.scrollHeight - before;
  else if (bottom) list.scrollTop = list.scrollHeight;
}

async function signUrls(messages) {
  const ids = messages.flatMap((m) => m.attachments || [])
    .filter((a) => a.status === 'clean' && !urls.has(a.id)).map((a) => a.id);
  if (!ids.length) return;
  ids.forEach((id) => urls.set(id, null));
  try {
    const r = await api('POST', '/attachment-urls', { ids: ids.slice(0, 50) });
    for (const [id, u] of Object.entries(r.urls || {})) urls.set(id, u);
    setTimeout(() => { for (const id of ids) urls.delete(id); }, (r.expires_in || 120) * 900);
    render();
  } catch (_) { ids.forEach((id) => urls.delete(id)); }
}

// ---- session + conversation ------------------------------------------------------------------
function applyConfig(c) {
  S.config = c;
  if (c.locale && T[c.locale.slice(0, 2)]) lang = c.locale.slice(0, 2);
  document.documentElement.lang = lang;
  if (/^#[0-9a-f]{3,8}$/i.test(c.color)) document.documentElement.style.setProperty('--accent', c.color);
  for (const n of document.querySelectorAll('[data-i18n-label]')) {
    n.setAttribute('aria-label', t(n.dataset.i18nLabel));
    n.title = t(n.dataset.i18nLabel);
  }
  $('input').placeholder = t('placeholder');
  const hours = c.business_hours || {};
  let sub = c.available ? t('online') : '';
  if (!hours.open) {
    sub = hours.next_open_at ? t('awayUntil', { t: new Date(hours.next_open_at).toLocaleString(lang,
      { weekday: 'short', hour: '2-digit', minute: '2-digit' }) }) : (c.away_message || t('away'));
  }
  $('subtitle').textContent = sub;
}

async function start() {
  banner(t('connecting'));
  for (let attempt = 0; ; attempt++) {
    try {
      const saved = load(KEY, {});
      const data = await api('POST', '/session', {
        inbox: INBOX, token: saved.token || null, ...(S.page || {}), locale: navigator.language,
        timezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
      });
      return adopt(data);
    } catch (e) {
      if (e.code === 'blocked' || e.status === 403 || e.status === 404) return stop(t('blocked'));
      banner(navigator.onLine ? t('lost') : t('offline'));
      await sleep(Math.min(30000, 1000 * 2 ** attempt));
    }
  }
}
function stop(text) {
  banner(text);
  $('composer').hidden = true;
}

async function adopt(data) {
  S.token = data.token;
  S.notice = null;
  store(KEY, { token: data.token });
  applyConfig(data.config);
  S.online = true;
  banner('');
  S.msgs.clear();
  S.conv = null;
  await setConversation(data.conversation);
  S.unread = data.conversation ? data.conversation.visitor_unread_count || 0 : 0;
  post('unread', S.open ? 0 : S.unread);
  connect();
  flush();
  for (const m of S.waiting.splice(0)) await handle(m);
}

async function setConversation(conv) {
  const changed = conv && (!S.conv || S.conv.id !== conv.id);
  S.conv = conv || null;
  post('active', !!conv);
  if (changed) {
    S.msgs.clear();
    const page = await api('GET', `/conversations/${conv.id}/messages`);
    page.messages.forEach(upsert);
    S.hasMore = page.has_more;
  }
  render();
  showPanel();
  markRead();
}

async function refreshConversation() {
  if (!S.conv) return;
  S.conv = await api('GET', `/conversations/${S.conv.id}`);
  showPanel();
}

async function olderPage() {
  if (!S.conv || !S.hasMore || S.loadingOlder) return;
  const first = Math.min(...[...S.msgs.values()].map((m) => m.id));
  S.loadingOlder = true;
  try {
    const page = await api('GET', `/conversations/${S.conv.id}/messages?before=${first}`);
    page.messages.forEach(upsert);
    S.hasMore = page.has_more;
    render(true);
  } finally { S.loadingOlder = false; }
}
$('list').addEventListener('scroll', () => { if ($('list').scrollTop < 40) olderPage().catch(() => {}); });

function markRead() {
  if (!S.conv || !S.open || document.hidden) return;
  S.unread = 0;
  post('unread', 0);
  const unseen = [...S.msgs.values()].some((m) => m.type === 'outgoing' && m.status !== 'read');
  if (unseen) api('POST', `/conversations/${S.conv.id}/read`, {}).catch(() => {});
}
document.addEventListener('visibilitychange', markRead);
// The queue moves on events; the queue timeout passes silently, so a waiting visitor also looks every 30 s.
setInterval(() => { if (S.conv && S.conv.queue && S.conv.queue.waiting) refreshConversation().catch(() => {}); }, 30000);

// ---- realtime: shared stream.js (SSE with ticket, long-poll fallback) -------------------------
let live = null;
let events = Promise.resolve();
function connect() {
  if (live) live.close();
  if (!S.token) return;
  let first = true;
  live = connectStream({
    streamUrl: API + '/stream',
    pollUrl: API + '/events',
    getTicket: async () => (await api('POST', '/stream-ticket', {})).ticket,
    headers: () => ({ 'X-Visitor-Token': S.token }),
    onEvent: (kind, data) => { events = events.then(() => onEvent(kind, data)).catch(() => {}); },
    onStatus: (status) => {
      if (status === 'live' || status === 'polling') {
        setOnline(true);
        if (first) { first = false; events = events.then(catchUp).catch(() => {}); }
      } else if (status === 'unauthorized') {
        live.close();
        localStorage.removeItem(KEY);
        start();
      } else if (status === 'offline' || !first) setOnline(false);
    },
  });
}
async function catchUp() {
  if (!S.conv) return;
  const ids = [...S.msgs.values()].map((m) => m.id).filter(Boolean);
  const after = ids.length ? Math.max(...ids) : 0;
  const page = await api('GET', `/conversations/${S.conv.id}/messages?after=${after}&limit=100`);
  page.messages.forEach(upsert);
  await refreshConversation();
  render();
}
async function onEvent(kind, d) {
  if (kind === 'typing') return showTyping(d);
  if (kind === 'resync') return catchUp();
  if (kind === 'queue.changed') return S.conv && S.conv.queue && S.conv.queue.waiting && refreshConversation();
  if (kind.startsWith('message.')) {
    if (!S.conv || d.conversation_id !== S.conv.id) return setConversation(await api('GET', `/conversations/${d.conversation_id}`));
    upsert(d);
    if (kind === 'message.created' && d.type === 'outgoing') {
      showTyping({ on: false });
      if (!S.open || document.hidden) { S.unread++; post('unread', S.unread); post('message', { content: d.content }); }
      markRead();
    }
    render();
  } else if (kind.startsWith('conversation.')) {
    if (S.conv && d.id === S.conv.id) await refreshConversation();
    else if (d.status !== 'resolved') await setConversation(await api('GET', `/conversations/${d.id}`));
  } else if (kind === 'attachment.updated') {
    const m = [...S.msgs.values()].find((x) => x.id === d.message_id);
    if (m) { m.attachments = (m.attachments || []).map((a) => (a.id === d.id ? { ...a, ...d } : a)); render(); }
  }
}
let typingHide = 0;
function showTyping(d) {
  const box = $('typing');
  clearTimeout(typingHide);
  box.hidden = !d.on || d.actor_type === 'visitor';
  box.textContent = t('typing', { n: d.name || t('operator') });
  if (d.on) typingHide = setTimeout(() => { box.hidden = true; }, (d.expires_in || 6) * 1000);
}

// ---- sending with an offline queue -----------------------------------------------------------
let flushing = false;
let flushTimer = 0;
async function flush() {
  if (flushing || !S.token) return;
  flushing = true;
  clearTimeout(flushTimer);
  try {
    for (const item of [...outbox]) {
      if (item.uploading) break;
      if (item.failed) continue;
      try {
        const r = await api('POST', '/messages', { content: item.content, client_id: item.client_id,
          conversation_id: null, attachments: (item.files || []).map((f) => f.id) });
        outbox = outbox.filter((o) => o.client_id !== item.client_id);
        saveOut();
        if (!S.conv || S.conv.id !== r.conversation.id) await setConversation(r.conversation);
        else S.conv = r.conversation;
        upsert(r.message);
        render();
        showPanel();
      } catch (e) {
        const transient = e.network || e.status >= 500 || e.status === 429;
        if (e.network) setOnline(false);
        if (transient && navigator.onLine) item.attempts = (item.attempts || 0) + 1;
        if (!transient || item.attempts >= 5) item.failed = true;
        if (e.code === 'prechat_required') { S.needForm = true; showPanel(); }
        saveOut();
        render();
        if (transient) {
          flushTimer = setTimeout(flush, Math.min(20000, 1000 * 2 ** (item.attempts || 1)));
          break;
        }
      }
    }
  } finally { flushing = false; }
}
function retry(clientId) {
  for (const o of outbox) if (o.client_id === clientId) { o.failed = false; o.attempts = 0; }
  saveOut();
  render();
  flush();
}
function queueMessage(content, files) {
  outbox.push({ client_id: crypto.randomUUID(), content, files: files || [], attempts: 0, at: Date.now() });
  saveOut();
  render();
  $('list').scrollTop = $('list').scrollHeight;
  flush();
}

$('composer').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $('input').value.trim();
  if (!text) return;
  $('input').value = '';
  typing(false);
  queueMessage(text);
});
$('input').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); $('composer').requestSubmit(); }
});
$('input').addEventListener('input', () => {
  typing(true);
  clearTimeout(S.typingTimer);
  S.typingTimer = setTimeout(() => typing(false), 4000);
});
function typing(on) {
  if (!S.conv || S.conv.status === 'resolved') return;
  const now = Date.now();
  if (on && now - S.typingAt < 3000) return;
  S.typingAt = on ? now : 0;
  api('POST', `/conversations/${S.conv.id}/typing`, { on }).catch(() => {});
}

// ---- panel: queue, pre-chat, offline form, CSAT -----------------------------------------------
function field(form, name, label, type, required, options) {
  const id = 'f-' + name;
  form.appendChild(el('label', '', label + (required ? ' *' : ''))).htmlFor = id;
  let input;
  if (type === 'select') {
    input = el('select');
    input.appendChild(el('option', '', ''));
    for (const o of options) input.appendChild(el('option', '', o)).value = o;
  } else if (type === 'textarea') {
    input = el('textarea');
  } else {
    input = el('input');
    input.type = { email: 'email', phone: 'tel', number: 'number', checkbox: 'checkbox' }[type] || 'text';
  }
  input.id = id;
  input.name = name;
  input.required = !!required;
  form.appendChild(input);
  return input;
}
function formValues(form) {
  const out = {};
  for (const i of form.querySelectorAll('[name]')) out[i.name] = i.type === 'checkbox' ? i.checked : i.value.trim();
  return out;
}
function formError(form, e) {
  for (const x of form.querySelectorAll('.err')) x.remove();
  const target = (e.field && form.querySelector(`[name="${CSS.escape(e.field)}"]`)) || form.lastElementChild;
  target.after(el('p', 'err', e.network ? t('offline') : e.message));
}
function showPanel() {
  const panel = $('panel');
  const c = S.config || {};
  const conv = S.conv;
  panel.replaceChildren();
  $('composer').hidden = false;
  if (S.notice) panel.appendChild(el('p', 'notice', S.notice));
  if (!conv && !outbox.length && c.business_hours && !c.business_hours.open) return offlineForm(panel);
  const fields = (c.prechat && c.prechat.enabled && c.prechat.fields) || [];
  if (!conv && (S.needForm || fields.some((f) => f.required))) return prechatForm(panel, fields);
  if (!conv) return;
  if (conv.status === 'resolved') {
    panel.appendChild(el('p', 'sys', t('resolved')));
    if (conv.csat_requested) csatForm(panel);
    else if (conv.csat) panel.appendChild(el('p', 'sys', t('thanks')));
    if (!c.reply_after_resolve) $('composer').hidden = true;
    return;
  }
  const q = conv.queue || {};
  if (q.waiting && !S.notice) {
    panel.appendChild(el('p', '', q.position ? t('queue', { n: q.position }) : t('waiting')));
    if (q.estimated_wait_s != null) panel.appendChild(el('p', 'sys', t('wait', { m: Math.max(1, Math.round(q.estimated_wait_s / 60)) })));
    if (q.offer_offline) {
      const b = panel.appendChild(el('button', 'primary', t('leave')));
      b.type = 'button';
      b.onclick = () => offlineForm(panel, t('offerOffline'));
    }
  }
}
function offlineForm(panel, intro) {
  panel.replaceChildren();
  $('composer').hidden = true;
  const form = el('form');
  form.appendChild(el('p', '', intro || t('offlineIntro')));
  field(form, 'name', t('name'), 'text');
  field(form, 'email', t('email'), 'email', true);
  field(form, 'message', t('message'), 'textarea', true);
  const b = form.appendChild(el('button', 'primary', t('submit')));
  form.onsubmit = async (e) => {
    e.preventDefault();
    b.disabled = true;
    try {
      const r = await api('POST', '/offline', { ...formValues(form), client_id: crypto.randomUUID() });
      S.notice = t('offlineSent');
      await setConversation(r.conversation);
    } catch (err) { formError(form, err); } finally { b.disabled = false; }
  };
  panel.appendChild(form);
}
function prechatForm(panel, fields) {
  $('composer').hidden = true;
  const form = el('form');
  for (const f of fields) field(form, f.name, f.label, f.type, f.required, f.options || []);
  field(form, 'message', t('message'), 'textarea', true);
  const b = form.appendChild(el('button', 'primary', t('start')));
  form.onsubmit = async (e) => {
    e.preventDefault();
    const { message, ...values } = formValues(form);
    b.disabled = true;
    try {
      const r = await api('POST', '/prechat', { fields: values, message, client_id: crypto.randomUUID() });
      S.needForm = false;
      await setConversation(r.conversation);
      flush();
    } catch (err) { formError(form, err); } finally { b.disabled = false; }
  };
  panel.appendChild(form);
}
function csatForm(panel) {
  const form = el('form');
  form.appendChild(el('p', '', t('rate')));
  const stars = form.appendChild(el('div', 'stars'));
  let rating = 0;
  for (let n = 1; n <= 5; n++) {
    const s = stars.appendChild(el('button', '', '★'));
    s.type = 'button';
    s.setAttribute('aria-label', t('star', { n }));
    s.onclick = () => {
      rating = n;
      [...stars.children].forEach((x, i) => {
        x.classList.toggle('on', i < n);
        x.setAttribute('aria-pressed', String(i === n - 1));
      });
    };
  }
  const comment = field(form, 'comment', t('comment'), 'textarea');
  const b = form.appendChild(el('button', 'primary', t('submit')));
  form.onsubmit = async (e) => {
    e.preventDefault();
    try {
      await api('POST', `/conversations/${S.conv.id}/csat`, { rating, comment: comment.value });
      await refreshConversation();
    } catch (err) { formError(form, err); }
  };
  panel.appendChild(form);
}

// ---- attachments: button, drag and drop, paste -----------------------------------------------
async function ensureConversation() {
  if (S.conv && S.conv.status !== 'resolved') return S.conv;
  await setConversation(await api('POST', '/conversations', {}));
  return S.conv;
}
async function sendFiles(files) {
  for (const file of files) {
    const note = { client_id: crypto.randomUUID(), content: '', files: [{ filename: file.name, progress: 0 }],
      attempts: 0, uploading: true };
    outbox.push(note);
    render();
    try {
      const conv = await ensureConversation();
      const up = uploadFile(`${API}/conversations/${conv.id}/attachments`, file, {
        headers: { 'X-Visitor-Token': S.token }, onProgress: (p) => { note.files[0].progress = p; render(); } });
      note.files = [await up.promise];
      note.uploading = false;
      saveOut();
      flush();
    } catch (e) {
      outbox = outbox.filter((o) => o !== note);
      render();
      const text = { too_large: t('tooBig'), type_not_allowed: t('badType') }[e.code] || (lang === 'en' && e.message) || t('uploadFailed');
      banner(file.name + ': ' + text);
    }
  }
}
$('attach').onclick = () => $('file').click();
$('file').onchange = () => { sendFiles([...$('file').files]); $('file').value = ''; };
addEventListener('dragover', (e) => { e.preventDefault(); $('drop').hidden = false; });
addEventListener('dragleave', (e) => { if (!e.relatedTarget) $('drop').hidden = true; });
addEventListener('drop', (e) => {
  e.preventDefault();
  $('drop').hidden = true;
  if (e.dataTransfer.files.length) sendFiles([...e.dataTransfer.files]);
});
$('input').addEventListener('paste', (e) => {
  const files = [...(e.clipboardData ? e.clipboardData.files : [])];
  if (files.length) { e.preventDefault(); sendFiles(files); }
});

// ---- proactive greeting: at most once per visitor per period, never over a chat in progress ----
const PRO = 'msgr.v1.pro.' + INBOX;
async function proactive(p) {
  while (!S.token) await sleep(200);
  const last = Number(load(PRO, 0)) || 0;
  if (S.open || (S.conv && S.conv.status !== 'resolved') || Date.now() - last < p.period_s * 1000) return;
  store(PRO, Date.now());
  S.proactive = p.message;
  render();
  post('open');
}

// ---- the host page (loader) ------------------------------------------------------------------
$('close').onclick = () => post('close');
addEventListener('keydown', (e) => { if (e.key === 'Escape') post('close'); });
addEventListener('message', async (e) => {
  const m = e.data;
  if (e.source !== window.parent || !m || m.msgr !== 1) return;
  if (S.parent ? e.origin !== S.parent : ORIGINS.length && !ORIGINS.includes(e.origin)) return;
  S.parent = e.origin;
  if (!S.token && /^(setUser|setAttributes|reset)$/.test(m.t)) { S.waiting.push(m); return; }
  handling = handling.then(() => handle(m));  // in order: page reports, setUser, reset
});
let handling = Promise.resolve();
async function handle(m) {
  const d = m.d;
  try {
    if (m.t === 'hello') post('ready');
    else if (m.t === 'open') { S.open = true; $('input').focus(); markRead(); }
    else if (m.t === 'close') S.open = false;
    else if (m.t === 'proactive') proactive(d);
    else if (m.t === 'page') {
      S.page = { url: d.url, title: d.title, referrer: d.referrer || null };
      if (S.token) await api('POST', '/page', S.page);
    } else if (m.t === 'setUser') {
      const r = await api('POST', '/identify', d);
      await setConversation(r.conversation);
      connect();
      post('identified', { verified: r.verified });
    } else if (m.t === 'setAttributes') {
      const { name, email, phone, ...custom } = d || {};
      await api('PATCH', '/contact', { name, email, phone, custom_attributes: custom });
    } else if (m.t === 'reset') {
      const r = await api('POST', '/reset', {});
      outbox = [];
      saveOut();
      await adopt(r);
    }
  } catch (err) { post('error', { type: m.t, code: err.code || 'network', message: err.message }); }
}
applyConfig({ color: null, business_hours: { open: true } });
$('composer').hidden = false;  // hidden in the HTML until this script runs
render();
start();
