// Widget frame state: one object whose every field is declared (and explained) here, plus a
// tiny event bus so modules tell each other "something changed" without importing each other.

const B = document.body.dataset;

export const INBOX = B.inbox;                              // the inbox's website token
export const ORIGINS = JSON.parse(B.origins || "[]");      // allowed host origins (empty: any)
export const API = "/widget/api/v1";

export const state = {
  token: null,          // visitor token (persisted in localStorage, see storage.js)
  config: null,         // the inbox's widget config from POST /session
  conv: null,           // the visitor's current conversation (widget shape) or null
  msgs: new Map(),      // keyOf(message) -> message, everything loaded for `conv`
  hasMore: false,       // older messages exist above the first loaded one
  loadingOlder: false,  // an older page is being fetched
  open: false,          // the loader shows the frame
  unread: 0,            // operator messages not seen yet (badge on the launcher)
  parent: B.parent || null,  // the host page's origin (from Referer, or the first valid message)
  online: true,         // the last known connection state
  page: null,           // {url, title, referrer, pages} last reported by the loader (pages: this visit)
  notice: null,         // a line above the conversation (e.g. after the offline form)
  needForm: false,      // the server answered prechat_required
  proactive: null,      // proactive greeting text shown above the conversation
  waiting: [],          // loader messages that arrived before the session existed
  outbox: [],           // messages the server has not accepted yet (persisted, see outbox.js)
  urls: new Map(),      // attachment id -> signed {url, thumb_url}; null while being signed
};

const bus = new EventTarget();
/** Events: "changed" (re-render list + panel), "online" (connection back), "retry" (client_id),
 *  "unauthorized" (token revoked), "session" (a session was adopted). */
export function emit(name, detail) { bus.dispatchEvent(new CustomEvent(name, {detail})); }
export function on(name, fn) { bus.addEventListener(name, (e) => fn(e.detail)); }
