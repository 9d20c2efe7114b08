// The host page's loader talks to the frame with postMessage({msgr: 1, t, d}): accepted only
// from the parent window at the origin the server saw (or an allowed origin), applied in order.
// Kinds: hello, open, close, proactive, page, setUser, setAttributes, reset.

import {api} from "./api.js";
import {markRead, setConversation} from "./conversation.js";
import {$, sleep} from "./dom.js";
import {post} from "./host.js";
import {connect} from "./live.js";
import {clearOutbox} from "./outbox.js";
import {adopt, refreshConfig} from "./session.js";
import {emit, on, ORIGINS, state} from "./state.js";
import {KEYS, load, store} from "./storage.js";

let handling = Promise.resolve();
const CONFIG_FRESH_MS = 60000;  // opening the chat re-reads an older config
const AWAY_RECHECK_MS = 30000;  // while open and nobody can answer: is someone back?

setInterval(() => {
  if (state.open && !document.hidden && state.config && state.config.available === false) refreshConfig(AWAY_RECHECK_MS);
}, AWAY_RECHECK_MS / 3);

// Proactive greeting: at most once per visitor per period, never over a chat in progress.
async function proactive(p) {
  while (!state.token) await sleep(200);
  const last = Number(load(KEYS.proactive, 0)) || 0;
  if (state.open || (state.conv && state.conv.status !== "resolved") || Date.now() - last < p.period_s * 1000) return;
  store(KEYS.proactive, Date.now());
  state.proactive = p.message;
  emit("changed");
  post("open");
}

const HANDLERS = {
  hello: () => post("ready"),
  open: () => { state.open = true; $("input").focus(); markRead(); refreshConfig(CONFIG_FRESH_MS); },
  close: () => { state.open = false; },
  proactive: (d) => { proactive(d); },
  page: async (d) => {
    state.page = {url: d.url, title: d.title, referrer: d.referrer || null, pages: d.pages || null};
    if (state.token) await api("POST", "/page", state.page);
  },
  setUser: async (d) => {
    const r = await api("POST", "/identify", d);
    await setConversation(r.conversation);
    connect();
    post("identified", {verified: r.verified});
  },
  setAttributes: async (d) => {
    const {name, email, phone, ...custom} = d || {};
    await api("PATCH", "/contact", {name, email, phone, custom_attributes: custom});
  },
  reset: async () => {
    const r = await api("POST", "/reset", {});
    clearOutbox();
    await adopt(r);
  },
};

async function handle(m) {
  try {
    await HANDLERS[m.t]?.(m.d);
  } catch (err) { post("error", {type: m.t, code: err.code || "network", message: err.message}); }
}

export function listenToHost() {
  addEventListener("message", (e) => {
    const m = e.data;
    if (e.source !== window.parent || !m || m.msgr !== 1) return;
    if (state.parent ? e.origin !== state.parent : ORIGINS.length && !ORIGINS.includes(e.origin)) return;
    state.parent = e.origin;
    if (!state.token && /^(setUser|setAttributes|reset)$/.test(m.t)) { state.waiting.push(m); return; }
    handling = handling.then(() => handle(m));  // in order: page reports, setUser, reset
  });
  // Identity calls that came before the session: apply them once it exists.
  on("session", () => {
    // A page report that came while the session was being created would be lost: send it now.
    if (state.page) handling = handling.then(() => handle({t: "page", d: state.page}));
    for (const m of state.waiting.splice(0)) handling = handling.then(() => handle(m));
  });
  $("close").onclick = () => post("close");
  addEventListener("keydown", (e) => { if (e.key === "Escape") post("close"); });
}
