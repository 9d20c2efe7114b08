// Realtime for the visitor: the shared stream client (SSE with ticket, long-poll fallback),
// events applied in order, a catch-up fetch after the first connect, the typing line.

import {api} from "./api.js";
import {refreshConversation, setConversation, markRead} from "./conversation.js";
import {$} from "./dom.js";
import {post} from "./host.js";
import {t} from "./i18n.js";
import {render, upsert, upsertAttachment} from "./messages.js";
import {connect as connectStream} from "../common/stream.js";
import {API, emit, state} from "./state.js";
import {setOnline} from "./status.js";

let live = null;
let events = Promise.resolve();

/** (Re)open the stream for the current token. */
export function connect() {
  if (live) live.close();
  if (!state.token) return;
  let first = true;
  live = connectStream({
    streamUrl: API + "/stream",
    pollUrl: API + "/events",
    getTicket: async () => (await api("POST", "/stream-ticket", {})).ticket,
    headers: () => ({"X-Visitor-Token": state.token}),
    onEvent: (kind, data) => { events = events.then(() => onEvent(kind, data)).catch(() => {}); },
    onStatus: (status) => {
      if (status === "live" || status === "polling") {
        setOnline(true);
        if (first) { first = false; events = events.then(catchUp).catch(() => {}); }
      } else if (status === "unauthorized") {
        live.close();
        emit("unauthorized");
      } else if (status === "offline" || !first) setOnline(false);
    },
  });
}

async function catchUp() {
  if (!state.conv) return;
  const ids = [...state.msgs.values()].map((m) => m.id).filter(Boolean);
  const after = ids.length ? Math.max(...ids) : 0;
  const page = await api("GET", `/conversations/${state.conv.id}/messages?after=${after}&limit=100`);
  page.messages.forEach(upsert);
  await refreshConversation();
  render();
}

async function onMessage(kind, d) {
  if (!state.conv || d.conversation_id !== state.conv.id) {
    return setConversation(await api("GET", `/conversations/${d.conversation_id}`));
  }
  upsert(d);
  if (kind === "message.created" && d.type === "outgoing") {
    showTyping({on: false});
    if (!state.open || document.hidden) {
      state.unread++;
      post("unread", state.unread);
      post("message", {content: d.content});
    }
    markRead();
  }
  render();
}

async function onEvent(kind, d) {
  if (kind === "typing") return showTyping(d);
  if (kind === "resync") return catchUp();
  if (kind === "queue.changed") return state.conv && state.conv.queue && state.conv.queue.waiting && refreshConversation();
  if (kind.startsWith("message.")) return onMessage(kind, d);
  if (kind.startsWith("conversation.")) {
    if (state.conv && d.id === state.conv.id) await refreshConversation();
    else if (d.status !== "resolved") await setConversation(await api("GET", `/conversations/${d.id}`));
  } else if (kind === "attachment.updated") {
    if (upsertAttachment(d)) render();
  }
}

let typingHide = 0;
function showTyping(d) {
  const box = $("typing");
  clearTimeout(typingHide);
  box.hidden = !d.on || d.actor_type === "visitor";
  box.textContent = t("typing", {n: d.name || t("operator")});
  if (d.on) typingHide = setTimeout(() => { box.hidden = true; }, (d.expires_in || 6) * 1000);
}
