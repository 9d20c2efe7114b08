// The open conversation: header actions, messages grouped by day, scroll-up paging, live updates.

import {attachmentLabel, formatSize, isPreviewable} from "../shared/upload.js";
import {ApiError, get, post, put} from "./api.js";
import {$, clock, contactName, dayLabel, h, toast} from "./dom.js";
import {emit, inboxName, mergeCard, operatorName, store} from "./store.js";

const PAGE = 50;

/** Apply a 409 that carries the winner's state; returns true if it did. */
export function applyConflict(err) {
  if (err instanceof ApiError && err.status === 409 && err.body.conversation) {
    emit("card", mergeCard(err.body.conversation));
    return true;
  }
  return false;
}

export class ConversationView {
  constructor() {
    this.id = null;
    this.messages = [];           // sorted by id; pending ones (id null) at the end
    this.hasMore = false;
    this.loadingOlder = false;
    this.box = $("#messages");
    this.box.addEventListener("scroll", () => {
      if (this.box.scrollTop < 80) this.loadOlder();
    }, {passive: true});
    $("#act-status").addEventListener("click", () => this.toggleResolved());
    $("#act-priority").addEventListener("change", (e) => this.setPriority(Number(e.target.value)));
    $("#act-assign").addEventListener("change", (e) => this.assignFromPicker(e.target));
    this.menus();
  }

  get card() { return store.cards.get(this.id) || null; }

  async open(id) {
    this.id = id;
    this.messages = [];
    this.hasMore = false;
    $("#conv-empty").hidden = true;
    $("#conv").hidden = false;
    this.box.replaceChildren(h("div", {class: "load-older"}, "Loading…"));
    let card = this.card;
    if (!card || !card.contact) card = mergeCard(await get(`/api/v1/conversations/${id}`));
    if (this.id !== id) return;
    this.renderHeader();
    const page = await get(`/api/v1/conversations/${id}/messages`, {limit: PAGE});
    if (this.id !== id) return;
    this.messages = page.messages;
    this.hasMore = page.has_more;
    this.renderMessages();
    this.box.scrollTop = this.box.scrollHeight;
    if (card.unread_count > 0) this.markRead();
  }

  close() {
    this.id = null;
    $("#conv").hidden = true;
    $("#conv-empty").hidden = false;
  }

  async markRead() {
    try { emit("card", mergeCard(await post(`/api/v1/conversations/${this.id}/read`))); } catch (e) { /* next time */ }
  }

  // ---- header -------------------------------------------------------------------------
  renderHeader() {
    const c = this.card;
    if (!c) return;
    $("#conv-name").textContent = contactName(c.contact);
    $("#conv-ref").textContent = `#${c.display_id} · ${c.status}${c.snoozed_until ? ` until ${new Date(c.snoozed_until).toLocaleString()}` : ""}`;
    $("#conv-inbox").textContent = inboxName(c.inbox_id);
    const btn = $("#act-status");
    btn.textContent = c.status === "resolved" ? "Reopen" : "Resolve";
    btn.title = c.status === "resolved" ? "Reopen (E)" : "Resolve (E)";
    $("#act-priority").value = String(c.priority || 0);
    this.renderAssign();
    const labels = $("#conv-labels");
    labels.replaceChildren(...(c.labels || []).map((lid) => {
      const label = store.directory.labels.find((l) => l.id === lid);
      const dot = h("i");
      dot.style.background = label ? label.color : "#888";
      return h("span", {class: "label-chip"}, dot, label ? label.name : `#${lid}`);
    }));
    this.renderNotice();
  }

  renderAssign() {
    const c = this.card;
    const sel = $("#act-assign");
    const me = store.me;
    const options = [h("option", {value: "none"}, "Unassigned")];
    options.push(h("option", {value: `user:${me.id}`}, `${me.name} (me)`));
    const ops = store.directory.operators.filter((o) => o.id !== me.id);
    if (ops.length) options.push(h("optgroup", {label: "Operators"}, ops.map((o) => h("option", {value: `user:${o.id}`}, `${o.name} · ${o.availability}`))));
    if (store.directory.teams.length) options.push(h("optgroup", {label: "Teams"}, store.directory.teams.map((t) => h("option", {value: `team:${t.id}`}, t.name))));
    sel.replaceChildren(...options);
    sel.value = c.assignee_id ? `user:${c.assignee_id}` : (c.team_id ? `team:${c.team_id}` : "none");
    if (sel.value === "" && c.assignee_id) {
      sel.append(h("option", {value: `user:${c.assignee_id}`}, operatorName(c.assignee_id)));
      sel.value = `user:${c.assignee_id}`;
    }
  }

  /** The bar above the messages: who owns it, resolved state. */
  renderNotice() {
    const c = this.card;
    const box = $("#conv-notice");
    box.className = "conv-notice";
    if (c.status === "resolved") {
      box.replaceChildren(h("span", {}, "This conversation is resolved. A reply will reopen it."));
      box.hidden = false;
    } else if (c.assignee_id && c.assignee_id !== store.me.id) {
      box.replaceChildren(h("span", {}, `${operatorName(c.assignee_id)} is handling this conversation. You can still reply; they will see it.`),
        h("button", {type: "button", onclick: () => this.assign({user_id: store.me.id})}, "Take it"));
      box.hidden = false;
    } else {
      box.hidden = true;
    }
  }

  menus() {
    const toggle = (btn, menu, fill) => {
      $(btn).addEventListener("click", (e) => {
        e.stopPropagation();
        const open = $(menu).hidden;
        document.querySelectorAll(".menu").forEach((m) => { m.hidden = true; });
        if (open && fill) fill();
        $(menu).hidden = !open;
      });
    };
    toggle("#act-more", "#more-menu");
    toggle("#act-labels", "#labels-menu", () => this.fillLabels());
    document.addEventListener("click", (e) => {
      if (!e.target.closest(".menu")) document.querySelectorAll(".menu").forEach((m) => { m.hidden = true; });
    });
    $("#more-menu").addEventListener("click", (e) => {
      const b = e.target.closest("button");
      if (!b) return;
      if (b.dataset.status) this.setStatus(b.dataset.status);
      else if (b.dataset.snooze) this.setStatus("snoozed", snoozeTime(b.dataset.snooze));
      else if (b.id === "snooze-custom-go") {
        const v = $("#snooze-custom").value;
        if (!v) { toast("Pick a date and time first."); return; }
        this.setStatus("snoozed", new Date(v));
      }
      $("#more-menu").hidden = true;
    });
  }

  fillLabels() {
    const c = this.card;
    const menu = $("#labels-menu");
    if (!store.directory.labels.length) { menu.replaceChildren(h("p", {class: "muted"}, "No labels yet (an admin creates them).")); return; }
    menu.replaceChildren(...store.directory.labels.map((l) => {
      const box = h("input", {type: "checkbox", value: l.id, checked: (c.labels || []).includes(l.id)});
      box.addEventListener("change", () => {
        const ids = Array.from(menu.querySelectorAll("input:checked"), (i) => Number(i.value));
        this.action(() => put(`/api/v1/conversations/${this.id}/labels`, {labels: ids, version: this.card.version}));
      });
      return h("label", {class: "check"}, box, l.name);
    }));
  }

  // ---- actions --------------------------------------------------------------------------
  /** Run a conversation action; on 409 show the winner's state and say so. */
  async action(call, okText) {
    try {
      const card = await call();
      if (card && card.id) emit("card", mergeCard(card));
      if (okText) toast(okText);
      return true;
    } catch (err) {
      if (applyConflict(err)) toast(`${err.message} The conversation now shows their change.`, 6000);
      else toast(err.message);
      this.renderHeader();
      return false;
    }
  }

  setStatus(status, until) {
    const body = {status, version: this.card.version};
    if (until) body.snoozed_until = until.toISOString();
    const words = {resolved: "Resolved", open: "Reopened", pending: "Marked as pending", snoozed: "Snoozed"};
    return this.action(() => post(`/api/v1/conversations/${this.id}/status`, body), words[status]);
  }

  toggleResolved() {
    if (!this.id) return;
    return this.setStatus(this.card.status === "resolved" ? "open" : "resolved");
  }

  setPriority(priority) {
    return this.action(() => post(`/api/v1/conversations/${this.id}/priority`, {priority, version: this.card.version}));
  }

  assignFromPicker(sel) {
    const [kind, raw] = sel.value.split(":");
    if (kind === "none") this.assign({unassign: true});
    else if (kind === "user") this.assign({user_id: Number(raw)});
    else this.assign({team_id: Number(raw)});
  }

  /** Manual assignment through the routing API (POST /assign; docs/contracts.md). */
  assign(target) {
    if (!this.id) return;
    const body = {version: this.card.version};
    if (target.unassign) body.user_id = null;
    else if (target.team_id) body.team_id = target.team_id;
    else body.user_id = target.user_id;
    const name = target.user_id === store.me.id ? "you" : target.user_id ? operatorName(target.user_id) : "";
    return this.action(() => post(`/api/v1/conversations/${this.id}/assign`, body),
      target.unassign ? "Unassigned" : name ? `Assigned to ${name}` : "Assigned to the team");
  }

  // ---- messages -------------------------------------------------------------------------
  async loadOlder() {
    if (!this.hasMore || this.loadingOlder || !this.messages.length) return;
    this.loadingOlder = true;
    const id = this.id;
    try {
      const first = this.messages.find((m) => m.id);
      const page = await get(`/api/v1/conversations/${id}/messages`, {limit: PAGE, before_id: first.id});
      if (this.id !== id) return;
      const before = this.box.scrollHeight - this.box.scrollTop;
      this.messages = page.messages.concat(this.messages);
      this.hasMore = page.has_more;
      this.renderMessages();
      this.box.scrollTop = this.box.scrollHeight - before;
    } finally {
      this.loadingOlder = false;
    }
  }

  /** Load older pages until ``messageId`` is on screen, then flash it (search results). */
  async reveal(messageId) {
    for (let i = 0; i < 40 && !this.messages.some((m) => m.id === messageId) && this.hasMore; i++) {
      await this.loadOlder();
    }
    const el = this.box.querySelector(`[data-mid="${messageId}"]`);
    if (el) {
      el.scrollIntoView({block: "center"});
      el.classList.add("flash");
      setTimeout(() => el.classList.remove("flash"), 2500);
    }
  }

  /** A message from the stream or from our own send (replaces the pending copy by client_id). */
  upsertMessage(msg) {
    if (msg.conversation_id !== this.id) return;
    const nearBottom = this.box.scrollHeight - this.box.scrollTop - this.box.clientHeight < 120;
    const idx = this.messages.findIndex((m) => (msg.id && m.id === msg.id) || (msg.client_id && m.client_id === msg.client_id));
    if (idx >= 0) {
      const attachments = msg.attachments || this.messages[idx].attachments;
      this.messages[idx] = Object.assign({}, this.messages[idx], msg, {attachments, pending: false});
    } else {
      const oldest = this.messages.find((m) => m.id);
      if (msg.id && oldest && msg.id < oldest.id) return;  // not loaded yet: scrolling up will bring it
      this.messages.push(msg);
      this.messages.sort((a, b) => (a.id && b.id ? a.id - b.id : a.id ? -1 : b.id ? 1 : 0));
    }
    this.stickToBottom = this.stickToBottom || nearBottom || !!msg.pending;
    // Bursts (a read receipt updates every message) render once per frame.
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = null;
      this.renderMessages();
      if (this.stickToBottom) this.box.scrollTop = this.box.scrollHeight;
      this.stickToBottom = false;
    });
  }

  attachmentUpdated(att) {
    for (const m of this.messages) {
      const list = m.attachments || [];
      const i = list.findIndex((a) => a.id === att.id);
      if (i >= 0) { list[i] = Object.assign({}, list[i], att); this.renderMessages(); return; }
    }
  }

  renderMessages() {
    const nodes = [];
    if (this.hasMore) nodes.push(h("div", {class: "load-older"}, "Scroll up for older messages"));
    let day = null;
    let prev = null;
    for (const m of this.messages) {
      const d = dayLabel(m.created_at || new Date().toISOString());
      if (d !== day) { nodes.push(h("div", {class: "day"}, d)); day = d; prev = null; }
      // Same author and kind within 5 minutes: one group, the name is shown once.
      const grouped = !!prev && prev.type === m.type && prev.sender_user_id === m.sender_user_id &&
        m.type !== "activity" && Date.parse(m.created_at || new Date().toISOString()) - Date.parse(prev.created_at) < 300000;
      nodes.push(this.message(m, grouped));
      prev = m.created_at ? m : null;
    }
    if (!this.messages.length) nodes.push(h("div", {class: "load-older"}, "No messages yet."));
    this.box.replaceChildren(...nodes);
  }

  message(m, grouped = false) {
    if (m.type === "activity") {
      return h("div", {class: "activity", dataset: {mid: m.id}}, h("span", {}, m.content, " · ", clock(m.created_at)));
    }
    const c = this.card || {};
    const who = m.type === "incoming" ? contactName(c.contact) : operatorName(m.sender_user_id);
    const meta = [];
    if (m.type === "note") meta.push(h("span", {class: "note-tag"}, "Private note"));
    if (!grouped) meta.push(h("span", {}, who));
    meta.push(h("span", {title: m.created_at ? new Date(m.created_at).toLocaleString() : ""}, m.created_at ? clock(m.created_at) : "sending…"));
    if (m.type === "outgoing" && !m.pending) {
      const read = m.status === "read";
      const label = {sent: "Sent", delivered: "Delivered", read: "Read", failed: "Failed"}[m.status] || m.status;
      meta.push(h("span", {class: `ticks${read ? " read" : ""}`, title: label}, m.status === "sent" ? "✓" : m.status === "failed" ? "!" : "✓✓"));
    }
    const body = m.deleted ? h("div", {class: "bubble muted"}, "This message was deleted.") : (m.content ? h("div", {class: "bubble"}, m.content) : null);
    const classes = `msg ${m.type}${grouped ? " cont" : ""}${m.pending ? " pending" : ""}${m.failed ? " failed" : ""}`;
    return h("div", {class: classes, dataset: {mid: m.id || ""}}, body, this.attachments(m.attachments), h("div", {class: "msg-meta"}, meta));
  }

  attachments(list) {
    if (!list || !list.length) return null;
    return h("div", {class: "atts"}, list.map((a) => {
      const href = `/api/v1/attachments/${encodeURIComponent(a.id)}`;
      const label = attachmentLabel(a);
      if (label) return h("span", {class: `att${a.status === "pending" ? "" : " bad"}`}, `${a.filename}: ${label}`);
      if (isPreviewable(a)) {
        return h("a", {class: "att img", href, target: "_blank", rel: "noopener", title: a.filename},
          h("img", {src: `${href}/thumb`, alt: a.filename, loading: "lazy"}));
      }
      return h("a", {class: "att", href, target: "_blank", rel: "noopener"}, a.filename, h("span", {class: "muted"}, formatSize(a.size)));
    }));
  }
}

function snoozeTime(kind) {
  const d = new Date();
  if (kind === "1h") return new Date(Date.now() + 3600000);
  if (kind === "tomorrow") { d.setDate(d.getDate() + 1); d.setHours(9, 0, 0, 0); return d; }
  const add = ((8 - d.getDay()) % 7) || 7;
  d.setDate(d.getDate() + add); d.setHours(9, 0, 0, 0);
  return d;
}
