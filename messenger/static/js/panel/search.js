// Search overlay (/ or Ctrl+K): Postgres full-text results with highlighted snippets.

import {get} from "./api.js";
import {$, contactName, h, relTime, snippet} from "./dom.js";
import {t} from "./i18n.js";
import {emit, statusName} from "./store.js";

export class Search {
  constructor() {
    this.overlay = $("#search-overlay");
    this.input = $("#search-input");
    this.results = $("#search-results");
    this.items = [];
    this.index = 0;
    this.seq = 0;
    this.input.addEventListener("input", () => { clearTimeout(this.timer); this.timer = setTimeout(() => this.run(), 180); });
    this.input.addEventListener("keydown", (e) => this.keydown(e));
    this.overlay.addEventListener("click", (e) => { if (e.target === this.overlay) this.close(); });
  }

  open() {
    this.overlay.hidden = false;
    this.input.focus();
    this.input.select();
  }

  close() { this.input.blur(); this.overlay.hidden = true; }

  async run() {
    const q = this.input.value.trim();
    const seq = ++this.seq;
    if (!q) { this.results.replaceChildren(); this.items = []; return; }
    let data;
    try { data = await get("/api/v1/search", {q}); } catch (err) {
      if (seq === this.seq) this.results.replaceChildren(h("div", {class: "sr-empty"}, err.message));
      return;
    }
    if (seq !== this.seq) return;
    this.items = [];
    const nodes = [];
    if (data.contacts.length) {
      nodes.push(h("div", {class: "sr-group"}, t("search.contacts")));
      for (const c of data.contacts) {
        this.items.push({conversation: c.conversation_id});
        nodes.push(this.row(this.items.length - 1, h("div", {class: "sr-top"}, h("b", {}, contactName(c)), h("span", {}, `#${c.display_id} · ${statusName(c.status)}`)),
          h("div", {class: "sr-snippet"}, snippet(c.snippet))));
      }
    }
    if (data.messages.length) {
      nodes.push(h("div", {class: "sr-group"}, t("search.messages")));
      for (const m of data.messages) {
        this.items.push({conversation: m.conversation_id, message: m.message_id});
        nodes.push(this.row(this.items.length - 1,
          h("div", {class: "sr-top"}, h("b", {}, contactName(m.contact)), h("span", {}, `#${m.display_id} · ${m.type === "note" ? t("sr.note") : m.type} · ${relTime(m.created_at)}`)),
          h("div", {class: "sr-snippet"}, snippet(m.snippet))));
      }
    }
    if (!nodes.length) nodes.push(h("div", {class: "sr-empty"}, t("search.none")));
    this.index = 0;
    this.results.replaceChildren(...nodes);
    this.highlight();
  }

  row(i, ...children) {
    return h("a", {class: "sr", href: "#", dataset: {i}, onclick: (e) => { e.preventDefault(); this.pick(i); }}, ...children);
  }

  highlight() {
    this.results.querySelectorAll(".sr").forEach((el) => el.classList.toggle("active", Number(el.dataset.i) === this.index));
    this.results.querySelector(".sr.active")?.scrollIntoView({block: "nearest"});
  }

  keydown(e) {
    if (e.key === "Escape") { e.preventDefault(); this.close(); return; }
    if (!this.items.length) return;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      this.index = (this.index + (e.key === "ArrowDown" ? 1 : this.items.length - 1)) % this.items.length;
      this.highlight();
    } else if (e.key === "Enter") { e.preventDefault(); this.pick(this.index); }
  }

  pick(i) {
    const item = this.items[i];
    if (!item) return;
    this.close();
    if (item.message) emit("reveal", item);
    else emit("open", item.conversation);
  }
}
