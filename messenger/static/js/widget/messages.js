// The conversation list: message bubbles, attachments with signed URLs, the operator's name.

import {api} from "./api.js";
import {$, el, linkify} from "./dom.js";
import {lang, t} from "./i18n.js";
import {attachmentLabel, isPreviewable} from "../common/upload.js";
import {emit, state} from "./state.js";

export const keyOf = (m) => m.client_id || "i" + m.id;

/** Merge a message (API or event payload) into the loaded ones; other conversations are ignored. */
export function upsert(m) {
  if (!m || (state.conv && m.conversation_id && m.conversation_id !== state.conv.id)) return;
  const key = keyOf(m);
  const old = state.msgs.get(key);
  if (old && old.attachments && !m.attachments) m.attachments = old.attachments;
  if (m.deleted) m.attachments = [];
  state.msgs.set(key, {...old, ...m});
}

/** An attachment event: add the file to its message (events of new messages carry none) or update it. */
export function upsertAttachment(d) {
  const m = [...state.msgs.values()].find((x) => x.id === d.message_id);
  if (!m || m.deleted) return false;
  const known = (m.attachments || []).some((a) => a.id === d.id);
  m.attachments = known ? m.attachments.map((a) => (a.id === d.id ? {...a, ...d} : a)) : [...(m.attachments || []), d];
  return true;
}

function tick(m) {
  if (m.pending) return m.failed ? t("failed") : "◷ " + t("sending");
  return m.status === "read" ? "✓✓ " + t("read") : "✓ " + t("sent");
}

function attachment(node, a) {
  const u = state.urls.get(a.id);
  const link = node.appendChild(el(u ? "a" : "span", "att", u && isPreviewable(a) ? null : a.filename));
  if (u) {
    link.href = u.url;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    if (isPreviewable(a) && u.thumb_url) link.appendChild(thumbnail(a, u.thumb_url));
  }
  const label = lang === "ru" ? ({pending: t("scanning"), infected: t("infected"), error: t("unavailable")}[a.status] || "")
    : attachmentLabel(a);
  if (label) node.appendChild(el("span", "meta", label));
  if (a.progress != null) {
    const bar = node.appendChild(el("span", "bar"));
    bar.appendChild(el("i")).style.width = Math.round(a.progress) + "%";
  }
}

// One <img> per attachment, kept across redraws: a new element would be empty until its picture
// decodes, so every redraw would shrink the list and make it jump (and lose the end of it).
const thumbs = new Map();

function thumbnail(a, url) {
  let img = thumbs.get(a.id);
  if (!img) {
    img = el("img");
    img.onload = keepPinned;  // the picture grows the list after render: stay at the end
    img.onerror = () => thumbs.delete(a.id);  // the next redraw tries again (with a fresh URL once re-signed)
    img.src = url;  // a later re-signed URL is not needed: the picture is already here
    img.alt = a.filename;
    thumbs.set(a.id, img);
  }
  return img;
}

/** A line the server marked for visitors ({key, name}), in the visitor's language. */
function activity(m) {
  const line = (m.content_attributes || {}).visitor;
  return el("div", "sys", line ? t(line.key, {n: line.name || t("operator")}) : m.content);
}

function bubble(m) {
  if (m.type === "activity") return activity(m);
  const mine = m.type === "incoming";
  if (m.deleted) return el("div", "msg deleted " + (mine ? "me" : "them"), t("deleted"));
  const node = linkify(el("div", "msg " + (mine ? "me" : "them") + (m.failed ? " failed" : "")), m.content || "");
  for (const a of m.attachments || []) attachment(node, a);
  if (m.edited_at) node.appendChild(el("span", "meta", t("edited")));
  if (mine) {
    const meta = node.appendChild(el("span", "meta", tick(m)));
    if (m.failed) {
      const again = meta.appendChild(el("button", "", t("retry")));
      again.type = "button";
      again.onclick = () => emit("retry", m.client_id);
    }
  }
  return node;
}

// Whether the visitor reads the end of the conversation. Only moving up unpins it: a scroll event
// also reports our own scrolling, and content that grew meanwhile below (a picture decoding)
// must not read as the visitor leaving the end.
let pinned = true;
let lastTop = 0;

export function watchScroll(list) {
  list.addEventListener("scroll", () => {
    if (list.scrollHeight - list.scrollTop - list.clientHeight < 60) pinned = true;
    else if (list.scrollTop < lastTop) pinned = false;
    lastTop = list.scrollTop;
  });
}

function keepPinned() {
  const list = $("list");
  if (pinned) list.scrollTop = list.scrollHeight;
}

/** Scroll to the newest message (the visitor just sent one). */
export function scrollToEnd() {
  pinned = true;
  keepPinned();
}

/** Redraw the list; stays at the end when the visitor was there (keepOffset: an older page was added). */
export function render(keepOffset) {
  const list = $("list");
  const before = list.scrollHeight - list.scrollTop;
  const nodes = [];
  // The inbox greeting may promise a quick answer: only while someone can give one (the header
  // says "We're away" otherwise).
  const c = state.config || {};
  if (c.greeting && c.available !== false && !state.hasMore) nodes.push(el("div", "msg them", c.greeting));
  if (state.proactive && !state.hasMore) nodes.push(el("div", "msg them", state.proactive));
  const sent = [...state.msgs.values()].sort((a, b) => a.id - b.id);
  const pending = state.outbox.map((o) => ({...o, type: "incoming", pending: true, attachments: o.files}));
  let who = null;
  for (const m of [...sent, ...pending.filter((p) => !state.msgs.has(p.client_id))]) {
    // The operator's name above the first of their replies in a row (text only, never markup).
    const name = m.type === "outgoing" ? m.sender_name || t("operator") : null;
    if (name && name !== who) nodes.push(el("div", "who", name));
    if (m.type !== "activity") who = name;
    nodes.push(bubble(m));
  }
  list.replaceChildren(...nodes);
  signUrls(sent);
  if (keepOffset) list.scrollTop = list.scrollHeight - before;
  else keepPinned();
}

/** Ask for signed URLs of clean attachments not signed yet, then redraw; they expire, so forget them in time. */
async function signUrls(messages) {
  const ids = messages.flatMap((m) => m.attachments || [])
    .filter((a) => a.status === "clean" && !state.urls.has(a.id)).map((a) => a.id);
  if (!ids.length) return;
  ids.forEach((id) => state.urls.set(id, null));
  try {
    const r = await api("POST", "/attachment-urls", {ids: ids.slice(0, 50)});
    for (const [id, u] of Object.entries(r.urls || {})) state.urls.set(id, u);
    setTimeout(() => { for (const id of ids) state.urls.delete(id); }, (r.expires_in || 120) * 900);
    render();
  } catch (_) { ids.forEach((id) => state.urls.delete(id)); }
}
