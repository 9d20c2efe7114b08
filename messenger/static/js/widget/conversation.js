// The visitor's current conversation: loading it, older pages, read receipts, the queue refresh.

import {api} from "./api.js";
import {$} from "./dom.js";
import {post} from "./host.js";
import {render, upsert, watchScroll} from "./messages.js";
import {emit, state} from "./state.js";

/** Make `conv` current (loading its last page when it is another one) and redraw everything. */
export async function setConversation(conv) {
  const changed = conv && (!state.conv || state.conv.id !== conv.id);
  state.conv = conv || null;
  post("active", !!conv);
  if (changed) {
    state.msgs.clear();
    const page = await api("GET", `/conversations/${conv.id}/messages`);
    page.messages.forEach(upsert);
    state.hasMore = page.has_more;
  }
  emit("changed");
  markRead();
}

export async function refreshConversation() {
  if (!state.conv) return;
  state.conv = await api("GET", `/conversations/${state.conv.id}`);
  emit("changed", {panelOnly: true});
}

/** The current conversation, or a new one when there is none or it was resolved. */
export async function ensureConversation() {
  if (state.conv && state.conv.status !== "resolved") return state.conv;
  await setConversation(await api("POST", "/conversations", {}));
  return state.conv;
}

async function olderPage() {
  if (!state.conv || !state.hasMore || state.loadingOlder) return;
  const first = Math.min(...[...state.msgs.values()].map((m) => m.id));
  state.loadingOlder = true;
  try {
    const page = await api("GET", `/conversations/${state.conv.id}/messages?before=${first}`);
    page.messages.forEach(upsert);
    state.hasMore = page.has_more;
    render(true);
  } finally { state.loadingOlder = false; }
}

/** Clear the badge and send read ticks when the visitor can see the conversation. */
export function markRead() {
  if (!state.conv || !state.open || document.hidden) return;
  state.unread = 0;
  post("unread", 0);
  const unseen = [...state.msgs.values()].some((m) => m.type === "outgoing" && m.status !== "read");
  if (unseen) api("POST", `/conversations/${state.conv.id}/read`, {}).catch(() => {});
}

export function watchConversation() {
  watchScroll($("list"));
  $("list").addEventListener("scroll", () => { if ($("list").scrollTop < 40) olderPage().catch(() => {}); });
  document.addEventListener("visibilitychange", markRead);
  // The queue moves on events; the queue timeout passes silently, so a waiting visitor also looks every 30 s.
  setInterval(() => {
    if (state.conv && state.conv.queue && state.conv.queue.waiting) refreshConversation().catch(() => {});
  }, 30000);
}
