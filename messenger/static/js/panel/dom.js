// DOM helpers: every piece of user text goes in through textContent, never innerHTML.

import {getLang, t} from "./i18n.js";

/** Create an element: h("div", {class: "x", onclick: fn}, "text", child, …). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

/** Highlighted snippet from [[text, marked], …] segments: text nodes and <mark>, no HTML parsing. */
export function snippet(segments) {
  const frag = document.createDocumentFragment();
  for (const [text, marked] of segments || []) {
    frag.append(marked ? h("mark", {}, text) : document.createTextNode(text));
  }
  return frag;
}

export function initials(name) {
  const parts = String(name || "").trim().split(/\s+/).filter(Boolean);
  if (!parts.length) return "?";
  return (parts[0][0] + (parts.length > 1 ? parts[parts.length - 1][0] : "")).toUpperCase();
}

const COLORS = ["#5b8def", "#e8793c", "#35a57a", "#b35bd6", "#d64f6a", "#3a9fb5", "#8d7b2f", "#6571d8"];
export function colorFor(id) { return COLORS[Math.abs(Number(id) || 0) % COLORS.length]; }

export function contactName(contact) {
  if (!contact) return t("msg.visitor");
  return contact.name || contact.email || contact.phone || `${t("msg.visitor")} ${contact.id}`;  // legacy unnamed contacts
}

const UNITS = {en: {m: "m", h: "h", d: "d"}, ru: {m: " мин", h: " ч", d: " д"}};

/** "now", "5m", "3h", "2d", or a date (in the panel's language). */
export function relTime(iso, now = Date.now()) {
  if (!iso) return "";
  const s = Math.max(0, (now - Date.parse(iso)) / 1000);
  const u = UNITS[getLang()] || UNITS.en;
  if (s < 60) return t("rel.now");
  if (s < 3600) return `${Math.floor(s / 60)}${u.m}`;
  if (s < 86400) return `${Math.floor(s / 3600)}${u.h}`;
  if (s < 86400 * 7) return `${Math.floor(s / 86400)}${u.d}`;
  return new Date(iso).toLocaleDateString(getLang(), {month: "short", day: "numeric"});
}

export function clock(iso) {
  return new Date(iso).toLocaleTimeString(getLang(), {hour: "2-digit", minute: "2-digit"});
}

/** Date and time for tooltips and snooze ends, in the panel's language. */
export function dateTime(iso) {
  return new Date(iso).toLocaleString(getLang(), {dateStyle: "medium", timeStyle: "short"});
}

export function dayLabel(iso) {
  const d = new Date(iso);
  const today = new Date();
  const yesterday = new Date(Date.now() - 86400000);
  if (d.toDateString() === today.toDateString()) return t("day.today");
  if (d.toDateString() === yesterday.toDateString()) return t("day.yesterday");
  return d.toLocaleDateString(getLang(), {weekday: "long", month: "long", day: "numeric", year: "numeric"});
}

let toastTimer = null;
/** A short message at the bottom of the screen. */
export function toast(text, ms = 4000) {
  const el = $("#toast");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, ms);
}

export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
  const x = Array.from(b, (v) => v.toString(16).padStart(2, "0")).join("");
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

export function isTyping(target) {
  return target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}
