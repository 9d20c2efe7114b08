// The visitor session: POST /session (resume with the stored token or create), the inbox
// config (colour, language, header line), retry with backoff while the server is unreachable.

import {api} from "./api.js";
import {setConversation} from "./conversation.js";
import {$, sleep} from "./dom.js";
import {post} from "./host.js";
import {lang, setLocale, t} from "./i18n.js";
import {connect} from "./live.js";
import {flush} from "./outbox.js";
import {emit, INBOX, state} from "./state.js";
import {banner} from "./status.js";
import {KEYS, load, store} from "./storage.js";

let configAt = 0;  // when the config was last read (the session answer or GET /config)

/** Apply the inbox config: language, accent colour, labels, the header's availability line. */
export function applyConfig(c) {
  state.config = c;
  if (c.available !== null) configAt = Date.now();
  setLocale(c.locale);
  if (/^#[0-9a-f]{3,8}$/i.test(c.color)) document.documentElement.style.setProperty("--accent", c.color);
  for (const n of document.querySelectorAll("[data-i18n-label]")) {
    n.setAttribute("aria-label", t(n.dataset.i18nLabel));
    n.title = t(n.dataset.i18nLabel);
  }
  $("input").placeholder = t("placeholder");
  $("subtitle").textContent = availability(c);
}

/** Read the config again when it is older than ``maxAgeMs``: whether someone can answer now,
 * and what the admin changed (greeting, colour, hours, pre-chat form) since the page loaded. */
export async function refreshConfig(maxAgeMs) {
  if (!state.token || Date.now() - configAt < maxAgeMs) return;
  configAt = Date.now();
  try { applyConfig(await api("GET", `/config?inbox=${encodeURIComponent(INBOX)}`)); } catch (e) { return; }
  // Redraw (the offline form gives way to the chat, a new greeting) unless that would drop
  // what the visitor is typing into a form; the header line is already up to date.
  if (![...$("panel").querySelectorAll("input, textarea")].some((x) => x.value.trim())) emit("changed");
}

/** The header line: back when (closed), away (nobody online), or online with the measured wait. */
function availability(c) {
  const hours = c.business_hours || {};
  if (c.available === null) return "";  // not known before the session answers
  if (!hours.open && hours.next_open_at) {
    return t("awayUntil", {t: new Date(hours.next_open_at).toLocaleString(lang,
      {weekday: "short", hour: "2-digit", minute: "2-digit"})});
  }
  if (!c.available) return c.away_message || t("away");
  if (c.expected_wait_s != null) return t("replyIn", {m: Math.max(1, Math.round(c.expected_wait_s / 60))});
  return t("online");
}

/** Resume or create the session; retries until the server answers (blocked/unknown: stop). */
export async function start() {
  banner(t("connecting"));
  for (let attempt = 0; ; attempt++) {
    try {
      const saved = load(KEYS.session, {});
      const data = await api("POST", "/session", {
        inbox: INBOX, token: saved.token || null, ...(state.page || {}), locale: navigator.language,
        timezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
      });
      return adopt(data);
    } catch (e) {
      if (e.code === "blocked" || e.status === 403 || e.status === 404) return stop(t("blocked"));
      banner(navigator.onLine ? t("lost") : t("offline"));
      await sleep(Math.min(30000, 1000 * 2 ** attempt));
    }
  }
}

function stop(text) {
  banner(text);
  $("composer").hidden = true;
}

/** Take over a session answer ({token, config, conversation}): store it, load, go live, send. */
export async function adopt(data) {
  state.token = data.token;
  state.notice = null;
  store(KEYS.session, {token: data.token});
  applyConfig(data.config);
  state.online = true;
  banner("");
  state.msgs.clear();
  state.conv = null;
  await setConversation(data.conversation);
  state.unread = data.conversation ? data.conversation.visitor_unread_count || 0 : 0;
  post("unread", state.open ? 0 : state.unread);
  connect();
  flush();
  emit("session");
}
