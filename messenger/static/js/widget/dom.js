// DOM helpers for the frame: every piece of user text goes in through textContent, never as markup.

export const $ = (id) => document.getElementById(id);

/** el("div", "msg them", "text"): an element with a class and text content. */
export function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}

/** The honeypot field's value: people never see or fill it, form-filling bots do (the server refuses those). */
export const honeypot = () => ($("hp") ? $("hp").value : "");

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Plain text with http(s)/mailto links made clickable; no other scheme ever becomes a link
// (docs/security.md, case 5).
const LINK = /\b(?:https?:\/\/|mailto:)[^\s<>"]+/gi;

/** Append `text` to `node`, with http(s)/mailto URLs as links opening in a new tab. */
export function linkify(node, text) {
  let at = 0;
  for (const match of text.matchAll(LINK)) {
    const url = match[0].replace(/[.,;:!?)\]]+$/, "");
    node.append(text.slice(at, match.index));
    const a = node.appendChild(el("a", "", url));
    a.href = url;
    a.target = "_blank";
    a.rel = "noopener noreferrer nofollow";
    at = match.index + url.length;
  }
  node.append(text.slice(at));
  return node;
}
