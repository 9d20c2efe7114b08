// The conversation list: keyset pages from the API, windowed rendering, live reordering.

import {get} from "./api.js";
import {$, colorFor, contactName, dateTime, h, initials, relTime} from "./dom.js";
import {t} from "./i18n.js";
import {emit, isWaiting, mergeCard, operatorName, priorityName, statusName, store, teamName} from "./store.js";

const ROW = 84;          // card height in px (matches .card-c in panel.css)
const OVERSCAN = 6;      // cards rendered above/below the viewport
const PAGE = 50;

function key(card, sort) {
  const t = (iso) => (iso ? Date.parse(iso) : null);
  if (sort === "newest") return [t(card.created_at), card.id];
  if (sort === "priority") return [card.priority, t(card.last_activity_at), card.id];
  if (sort === "oldest_waiting") return [card.waiting_since ? t(card.waiting_since) : null, card.id];
  return [t(card.last_activity_at), card.id];
}

/** Negative when a sorts before b in the given sort order. */
export function compare(a, b, sort) {
  const ka = key(a, sort), kb = key(b, sort);
  if (sort === "oldest_waiting") {
    if ((ka[0] === null) !== (kb[0] === null)) return ka[0] === null ? 1 : -1;
    if (ka[0] !== kb[0]) return ka[0] - kb[0];
    return ka[1] - kb[1];
  }
  for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return kb[i] - ka[i];
  return 0;
}

export class ConversationList {
  constructor() {
    this.scroller = $("#list-scroll");
    this.spacer = $("#list-spacer");
    this.foot = $("#list-foot");
    this.params = {tab: "mine", status: "open", sort: "latest"};
    this.ids = [];
    this.cursor = null;
    this.loading = false;
    this.generation = 0;
    this.rendered = new Map();   // id -> element
    this.selected = null;
    this.dirty = new Set();
    this.scroller.addEventListener("scroll", () => this.schedule(), {passive: true});
    window.addEventListener("resize", () => this.schedule());
    this.scroller.addEventListener("click", (e) => {
      const el = e.target.closest(".card-c");
      if (el) emit("open", Number(el.dataset.id));
    });
    setInterval(() => this.refreshTimes(), 30000);
  }

  /** Replace the filters and load the first page. */
  async reset(params) {
    if (params) this.params = Object.assign({}, this.params, params);
    this.generation++;
    this.loading = false;
    this.ids = [];
    this.cursor = null;
    this.exhausted = false;
    for (const el of this.rendered.values()) el.remove();
    this.rendered.clear();
    if (this.emptyEl) { this.emptyEl.remove(); this.emptyEl = null; }
    this.scroller.scrollTop = 0;
    await this.loadMore();
  }

  async loadMore() {
    if (this.loading || this.exhausted) return;
    this.loading = true;
    const gen = this.generation;
    this.foot.textContent = t("list.loading");
    try {
      const page = await get("/api/v1/conversations",
        Object.assign({}, this.params, {limit: PAGE, cursor: this.cursor}));
      if (gen !== this.generation) return;
      const known = new Set(this.ids);
      for (const item of page.items) {
        mergeCard(item);
        if (!known.has(item.id)) this.ids.push(item.id);
        this.dirty.add(item.id);
      }
      this.cursor = page.next_cursor;
      this.exhausted = !page.next_cursor;
    } catch (err) {
      this.foot.textContent = t("list.error", {error: err.message});
      this.loading = false;
      return;
    } finally {
      if (gen === this.generation) this.loading = false;
    }
    this.render();
    emit("list-changed");
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => { this.frame = null; this.render(); });
  }

  matches(card) {
    const p = this.params;
    if (p.tab === "waiting" && !isWaiting(card)) return false;
    if (p.tab === "mine" && card.assignee_id !== store.me.id) return false;
    if (p.tab === "unassigned" && card.assignee_id !== null) return false;
    if (p.tab !== "waiting" && p.status !== "any" && card.status !== p.status) return false;
    if (p.inbox_id && card.inbox_id !== Number(p.inbox_id)) return false;
    if (p.team_id && card.team_id !== Number(p.team_id)) return false;
    if (p.priority !== undefined && p.priority !== "" && card.priority !== Number(p.priority)) return false;
    if (p.label_id && !(card.labels || []).includes(Number(p.label_id))) return false;
    return true;
  }

  /** A card changed (live event or our own action): insert, move or drop it. */
  upsert(card) {
    const at = this.ids.indexOf(card.id);
    if (at >= 0) this.ids.splice(at, 1);
    if (this.matches(card)) {
      const sort = this.params.sort;
      let lo = 0, hi = this.ids.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        const other = store.cards.get(this.ids[mid]);
        if (other && compare(other, card, sort) < 0) lo = mid + 1; else hi = mid;
      }
      // Past the loaded end with more pages to come: the next keyset page will bring it.
      if (lo < this.ids.length || this.exhausted) this.ids.splice(lo, 0, card.id);
    }
    this.dirty.add(card.id);
    this.schedule();
  }

  remove(id) {
    const at = this.ids.indexOf(id);
    if (at >= 0) { this.ids.splice(at, 1); this.schedule(); }
  }

  select(id) {
    const prev = this.selected;
    this.selected = id;
    if (prev !== null) this.dirty.add(prev);
    this.dirty.add(id);
    const idx = this.ids.indexOf(id);
    if (idx >= 0) {
      const top = idx * ROW, bottom = top + ROW;
      if (top < this.scroller.scrollTop) this.scroller.scrollTop = top;
      else if (bottom > this.scroller.scrollTop + this.scroller.clientHeight) {
        this.scroller.scrollTop = bottom - this.scroller.clientHeight;
      }
    }
    this.schedule();
  }

  /** The id next to the selected one (delta +1 / -1), loading more at the end. */
  neighbour(delta) {
    const idx = this.ids.indexOf(this.selected);
    const next = idx < 0 ? 0 : idx + delta;
    if (next >= this.ids.length - 3) this.loadMore();
    return this.ids[Math.max(0, Math.min(this.ids.length - 1, next))] ?? null;
  }

  refreshTimes() {
    for (const id of this.rendered.keys()) this.dirty.add(id);
    this.schedule();
  }

  render() {
    const total = this.ids.length;
    this.spacer.style.height = `${total * ROW}px`;
    const top = this.scroller.scrollTop, height = this.scroller.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / ROW) - OVERSCAN);
    const last = Math.min(total, Math.ceil((top + height) / ROW) + OVERSCAN);
    const wanted = new Set(this.ids.slice(first, last));
    for (const [id, el] of this.rendered) {
      if (!wanted.has(id)) { el.remove(); this.rendered.delete(id); }
    }
    for (let i = first; i < last; i++) {
      const id = this.ids[i];
      let el = this.rendered.get(id);
      if (!el || this.dirty.has(id)) {
        const fresh = this.card(store.cards.get(id));
        if (el) el.replaceWith(fresh); else this.spacer.append(fresh);
        el = fresh;
        this.rendered.set(id, el);
      }
      el.style.top = `${i * ROW}px`;
    }
    this.dirty.clear();
    if (!total) {
      if (!this.loading && !this.emptyEl) {
        this.emptyEl = h("div", {class: "list-empty"}, t(this.params.tab === "waiting" ? "list.emptyWaiting" : "list.empty"));
        this.spacer.append(this.emptyEl);
      }
    } else if (this.emptyEl) { this.emptyEl.remove(); this.emptyEl = null; }
    if (!this.loading) {
      this.foot.textContent = this.exhausted ? (total === 1 ? t("list.total1") : t("list.total", {n: total})) : t("list.more", {n: total});
    }
    if (!this.exhausted && last >= total - OVERSCAN * 2) this.loadMore();
  }

  card(c) {
    const name = contactName(c.contact);
    const unread = c.unread_count > 0;
    const meta = [h("span", {class: `badge ${c.status}`}, statusName(c.status))];
    if (c.priority) meta.push(h("span", {class: `badge p${c.priority}`}, priorityName(c.priority)));
    if (c.waiting_since && c.status !== "resolved") {
      meta.push(h("span", {class: "waiting", title: t("card.waitingTitle")}, t("card.waiting", {time: relTime(c.waiting_since)})));
    }
    meta.push(h("span", {}, c.assignee_id ? `→ ${operatorName(c.assignee_id)}` : t("card.unassigned")));
    if (c.team_id) meta.push(h("span", {}, `· ${teamName(c.team_id)}`));
    const avatar = h("div", {class: "avatar"}, initials(name));
    avatar.style.background = colorFor(c.contact_id);
    const preview = (c.last_message_type === "outgoing" ? t("card.you") : "") + (serverPreview(c.last_message_preview) || t("card.noMessages"));
    const el = h("div", {
      class: `card-c${unread ? " unread" : ""}${c.id === this.selected ? " selected" : ""}`,
      dataset: {id: c.id}, role: "button", "aria-label": `${name}: ${c.last_message_preview || ""}`,
    },
    avatar,
    h("div", {class: "c-name"}, name, h("span", {class: "muted"}, `  #${c.display_id}`)),
    h("div", {class: "c-time", title: dateTime(c.last_activity_at)}, relTime(c.last_activity_at)),
    h("div", {class: "c-preview"}, preview),
    unread ? h("span", {class: "c-unread"}, c.unread_count > 99 ? "99+" : c.unread_count) : h("span"),
    h("div", {class: "c-meta"}, meta));
    return el;
  }
}

// Previews the server writes itself (services/messages.py, services/message_edits.py), in the panel's language.
const SERVER_PREVIEWS = {"Message deleted": "card.deleted", "📎 Attachment": "card.attachment"};
function serverPreview(text) { return SERVER_PREVIEWS[text] ? t(SERVER_PREVIEWS[text]) : text; }
