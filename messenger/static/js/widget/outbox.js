// Sending with an offline queue: every message gets a client_id and is stored before it is
// sent; sent in order exactly once (the server dedupes by client_id); "Not sent" + Retry after
// 5 failed attempts or a 4xx. Files upload first, then travel as attachment ids.

import {api} from "./api.js";
import {ensureConversation, setConversation} from "./conversation.js";
import {honeypot} from "./dom.js";
import {lang, t} from "./i18n.js";
import {render, scrollToEnd, upsert} from "./messages.js";
import {uploadFile} from "../common/upload.js";
import {API, emit, state} from "./state.js";
import {banner, setOnline} from "./status.js";
import {KEYS, load, store} from "./storage.js";

state.outbox = load(KEYS.outbox, []).filter((o) => !o.uploading);
const save = () => store(KEYS.outbox, state.outbox);

let flushing = false;
let flushTimer = 0;

async function sendOne(item) {
  const r = await api("POST", "/messages", {content: item.content, client_id: item.client_id,
    conversation_id: null, attachments: (item.files || []).map((f) => f.id), hp: honeypot()});
  setOnline(true);  // delivered: the "offline" banner goes (the stream may still be reconnecting)
  state.outbox = state.outbox.filter((o) => o.client_id !== item.client_id);
  save();
  if (!state.conv || state.conv.id !== r.conversation.id) await setConversation(r.conversation);
  else state.conv = r.conversation;
  upsert(r.message);
  emit("changed");
}

/** Failed send: transient errors retry with backoff (true), others mark the message "Not sent". */
function failed(item, e) {
  const transient = e.network || e.status >= 500 || e.status === 429;
  if (e.network) setOnline(false);
  if (transient && navigator.onLine) item.attempts = (item.attempts || 0) + 1;
  if (!transient || item.attempts >= 5) item.failed = true;
  if (e.code === "prechat_required") { state.needForm = true; emit("changed", {panelOnly: true}); }
  save();
  render();
  return transient;
}

/** Send what is queued, in order; stops at the first transient failure and retries later. */
export async function flush() {
  if (flushing || !state.token) return;
  flushing = true;
  clearTimeout(flushTimer);
  try {
    for (const item of [...state.outbox]) {
      if (item.uploading) break;
      if (item.failed) continue;
      try {
        await sendOne(item);
      } catch (e) {
        if (failed(item, e)) {
          flushTimer = setTimeout(flush, Math.min(20000, 1000 * 2 ** (item.attempts || 1)));
          break;
        }
      }
    }
  } finally { flushing = false; }
}

export function retry(clientId) {
  for (const o of state.outbox) if (o.client_id === clientId) { o.failed = false; o.attempts = 0; }
  save();
  render();
  flush();
}

export function queueMessage(content, files) {
  state.outbox.push({client_id: crypto.randomUUID(), content, files: files || [], attempts: 0, at: Date.now()});
  save();
  render();
  scrollToEnd();
  flush();
}

/** Forget every unsent message (Messenger.reset: another person may use this browser next). */
export function clearOutbox() {
  state.outbox = [];
  save();
}

/** Upload each file (progress bar in its bubble), then queue it as a message. */
export async function sendFiles(files) {
  for (const file of files) {
    const note = {client_id: crypto.randomUUID(), content: "", files: [{filename: file.name, progress: 0}],
      attempts: 0, uploading: true};
    state.outbox.push(note);
    render();
    try {
      const conv = await ensureConversation();
      const up = uploadFile(`${API}/conversations/${conv.id}/attachments`, file, {
        headers: {"X-Visitor-Token": state.token}, onProgress: (p) => { note.files[0].progress = p; render(); }});
      note.files = [await up.promise];
      note.uploading = false;
      save();
      flush();
    } catch (e) {
      state.outbox = state.outbox.filter((o) => o !== note);
      render();
      const text = {too_large: t("tooBig"), type_not_allowed: t("badType")}[e.code] || (lang === "en" && e.message) || t("uploadFailed");
      banner(file.name + ": " + text);
    }
  }
}
