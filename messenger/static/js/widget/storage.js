// The frame's localStorage: visitor token, unsent messages, proactive greeting timestamp.
// Private browsing may refuse storage: everything then lives in memory for this page only.

import {INBOX} from "./state.js";

export const KEYS = {
  session: "msgr.v1." + INBOX,      // {token}
  outbox: "msgr.v1.out." + INBOX,   // [{client_id, content, files, attempts, failed}]
  proactive: "msgr.v1.pro." + INBOX, // ms timestamp of the last proactive greeting
};

export function load(key, fallback) {
  try { return JSON.parse(localStorage.getItem(key)) ?? fallback; } catch (_) { return fallback; }
}

export function store(key, value) {
  try { localStorage.setItem(key, JSON.stringify(value)); } catch (_) { /* private mode: memory only */ }
}

export function forget(key) {
  try { localStorage.removeItem(key); } catch (_) { /* private mode */ }
}
