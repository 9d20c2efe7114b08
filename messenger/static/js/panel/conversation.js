// The open conversation: header actions, messages grouped by day, scroll-up paging, live updates.

import {attachmentLabel, formatSize, isPreviewable} from "../common/upload.js";
import {activityLine} from "./activity.js";
import {ApiError, api, get, post, put} from "./api.js";
import {$, clock, contactName, dateTime, dayLabel, h, toast} from "./dom.js";
import {t} from "./i18n.js";
import {byId, emit, inboxName, mergeCard, operatorName, statusName, store} from "./store.js";

const PAGE = 50;
const EDIT_WINDOW_MS = 15 * 60 * 1000;  // services/message_edits.py EDIT_WINDOW

/** May I still edit or delete this message (mine, a reply or note, not deleted, within 15 minutes)? */
export function canChange(m, now = Date.now()) {
  return !!m.id && !m.deleted && (m.type === "outgoing" || m.type === "note") && m.sender_user_id === store.me.id &&
    !!m.created_at && now - Date.parse(m.created_at) < EDIT_WINDOW_MS;
}

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
    this.thumbs = new Map();      // attachment id -> its <img>, kept across redraws (no reload, no jump)
    this.pinned = true;           // the operator reads the end: a picture that loads keeps it in view
    this.lastTop = 0;
    this.box.addEventListener("scroll", () => {
      if (this.box.scrollTop < 80) this.loadOlder();
      // Only moving up leaves the end: our own scrolling and content growing below do not.
      if (this.nearBottom()) this.pinned = true;
      else if (this.box.scrollTop < this.lastTop) this.pinned = false;
      this.lastTop = this.box.scrollTop;
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
    this.thumbs = new Map();
    this.pinned = true;
    this.hasMore = false;
    this.csat = null;
    this.editing = null;
    $("#conv-empty").hidden = true;
    $("#conv").hidden = false;
    this.box.replaceChildren(h("div", {class: "load-older"}, t("msg.loading")));
    let card = this.card;
    if (!card || !card.contact) card = mergeCard(await get(`/api/v1/conversations/${id}`));
    if (this.id !== id) return;
    this.renderHeader();
    const page = await get(`/api/v1/conversations/${id}/messages`, {limit: PAGE});
    if (this.id !== id) return;
    this.messages = page.messages;
    this.hasMore = page.has_more;
    this.csat = page.csat || null;
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
    $("#conv-ref").textContent = t("conv.ref", {id: c.display_id, status: statusName(c.status)}) +
      (c.snoozed_until ? t("conv.until", {time: dateTime(c.snoozed_until)}) : "");
    $("#conv-inbox").textContent = inboxName(c.inbox_id);
    const btn = $("#act-status");
    btn.textContent = t(c.status === "resolved" ? "act.reopen" : "act.resolve");
    btn.title = t(c.status === "resolved" ? "act.reopenTitle" : "act.resolveTitle");
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
    const options = [h("option", {value: "none"}, t("assign.none"))];
    options.push(h("option", {value: `user:${me.id}`}, t("assign.me", {name: me.name})));
    const ops = store.directory.operators.filter((o) => o.id !== me.id);
    if (ops.length) options.push(h("optgroup", {label: t("assign.operators")}, ops.map((o) => h("option", {value: `user:${o.id}`}, `${o.name} · ${t(`avail.${o.availability}`)}`))));
    if (store.directory.teams.length) options.push(h("optgroup", {label: t("assign.teams")}, store.directory.teams.map((x) => h("option", {value: `team:${x.id}`}, x.name))));
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
      box.replaceChildren(h("span", {}, t("notice.resolved")));
      box.hidden = false;
    } else if (c.assignee_id && c.assignee_id !== store.me.id) {
      box.replaceChildren(h("span", {}, t("notice.other", {name: operatorName(c.assignee_id)})),
        h("button", {type: "button", onclick: () => this.assign({user_id: store.me.id})}, t("notice.take")));
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
        if (!v) { toast(t("toast.pickTime")); return; }
        this.setStatus("snoozed", new Date(v));
      }
      $("#more-menu").hidden = true;
    });
  }

  fillLabels() {
    const c = this.card;
    const menu = $("#labels-menu");
    if (!store.directory.labels.length) {
      // Admins can fix it: a link to the labels page; agents are told who can.
      menu.replaceChildren(store.me.role === "admin"
        ? h("p", {class: "muted labels-empty"}, t("labels.noneAdmin"), " ", h("a", {href: "/admin/labels"}, t("labels.create")))
        : h("p", {class: "muted labels-empty"}, t("labels.none")));
      return;
    }
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
      if (applyConflict(err)) toast(t("toast.conflict", {error: err.message}), 6000);
      else toast(err.message);
      this.renderHeader();
      return false;
    }
  }

  setStatus(status, until) {
    const body = {status, version: this.card.version};
    if (until) body.snoozed_until = until.toISOString();
    return this.action(() => post(`/api/v1/conversations/${this.id}/status`, body), t(`toast.${status}`));
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
    const done = target.unassign ? t("toast.unassigned") : target.user_id === store.me.id ? t("toast.assignedYou")
      : target.user_id ? t("toast.assigned", {name: operatorName(target.user_id)}) : t("toast.assignedTeam");
    return this.action(() => post(`/api/v1/conversations/${this.id}/assign`, body), done);
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
      // Event payloads carry no attachments: keep the ones we know (none once deleted).
      const attachments = msg.deleted ? [] : msg.attachments || this.messages[idx].attachments;
      this.messages[idx] = Object.assign({}, this.messages[idx], msg, {attachments, pending: false});
    } else {
      const oldest = this.messages.find((m) => m.id);
      if (msg.id && oldest && msg.id < oldest.id) return;  // not loaded yet: scrolling up will bring it
      this.messages.push(msg);
      this.messages.sort((a, b) => (a.id && b.id ? a.id - b.id : a.id ? -1 : b.id ? 1 : 0));
    }
    this.stickToBottom = this.stickToBottom || nearBottom || !!msg.pending;
    // Bursts (a read receipt updates every message) render once per frame.
    this.scheduleRender();
  }

  /** attachment.updated: a file joined its message (message_id set) or its scan finished. */
  attachmentUpdated(att) {
    if (att.conversation_id !== this.id) return;
    for (const m of this.messages) {
      const list = m.attachments || [];
      const i = list.findIndex((a) => a.id === att.id);
      if (i >= 0) { list[i] = Object.assign({}, list[i], att); this.scheduleRender(); return; }
    }
    // First news of this file (message.created carries no attachments): add it to its message.
    const owner = att.message_id && this.messages.find((m) => m.id === att.message_id);
    if (owner && !owner.deleted) {
      owner.attachments = (owner.attachments || []).concat([att]);
      this.stickToBottom = this.stickToBottom || this.nearBottom();
      this.scheduleRender();
    }
  }

  /** csat.created: the visitor rated this conversation. */
  csatReceived(data) {
    if (data.conversation_id !== this.id) return;
    this.csat = data;
    this.stickToBottom = this.stickToBottom || this.nearBottom();
    this.scheduleRender();
  }

  nearBottom() { return this.box.scrollHeight - this.box.scrollTop - this.box.clientHeight < 120; }

  scheduleRender() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = null;
      this.renderMessages();
      if (this.stickToBottom) this.box.scrollTop = this.box.scrollHeight;
      this.stickToBottom = false;
    });
  }

  renderMessages() {
    const nodes = [];
    if (this.hasMore) nodes.push(h("div", {class: "load-older"}, t("msg.older")));
    else nodes.push(this.prechat());
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
    if (!this.messages.length) nodes.push(h("div", {class: "load-older"}, t("msg.none")));
    nodes.push(this.rating());
    this.box.replaceChildren(...nodes.filter(Boolean));
    if (this.editing) this.box.querySelector(".edit-box textarea")?.focus();
  }

  /** The pre-chat answers, as the first lines of the conversation (labels from the inbox's form). */
  prechat() {
    const c = this.card;
    const answers = c && c.custom_attributes && c.custom_attributes.prechat;
    if (!answers || typeof answers !== "object" || !Object.keys(answers).length) return null;
    return h("div", {class: "prechat-box"}, h("div", {class: "box-title"}, t("prechat.title")),
      h("dl", {class: "kv"}, answerRows(answers, prechatLabels(c.inbox_id))));
  }

  /** The visitor's rating (stars and comment), after the last message. */
  rating() {
    if (!this.csat) return null;
    const n = Math.max(1, Math.min(5, Number(this.csat.rating) || 0));
    return h("div", {class: "csat-box"}, h("div", {class: "box-title"}, t("csat.title")),
      h("div", {class: "stars", title: t("csat.of5", {n}), "aria-label": t("csat.of5", {n})}, "★".repeat(n) + "☆".repeat(5 - n),
        h("span", {class: "muted"}, ` ${t("csat.of5", {n})}`)),
      h("p", {class: this.csat.comment ? "csat-comment" : "muted"}, this.csat.comment || t("csat.noComment")));
  }

  message(m, grouped = false) {
    if (m.type === "activity") {
      return h("div", {class: "activity", dataset: {mid: m.id}}, h("span", {}, activityLine(m), " · ", clock(m.created_at)));
    }
    const c = this.card || {};
    const who = m.type === "incoming" ? contactName(c.contact) : operatorName(m.sender_user_id);
    const meta = [];
    if (m.type === "note") meta.push(h("span", {class: "note-tag"}, t("msg.note")));
    if (!grouped) meta.push(h("span", {}, who));
    meta.push(h("span", {title: m.created_at ? dateTime(m.created_at) : ""}, m.created_at ? clock(m.created_at) : t("msg.sending")));
    if (m.edited_at && !m.deleted) meta.push(h("span", {class: "edited", title: dateTime(m.edited_at)}, t("msg.edited")));
    if (m.type === "outgoing" && !m.pending && !m.deleted) {
      const read = m.status === "read";
      meta.push(h("span", {class: `ticks${read ? " read" : ""}`, title: t(`msg.${m.status}`)}, m.status === "sent" ? "✓" : m.status === "failed" ? "!" : "✓✓"));
    }
    if (canChange(m) && this.editing !== m.id) {
      meta.push(h("span", {class: "msg-actions"},
        h("button", {type: "button", class: "link-btn", onclick: () => this.startEdit(m.id)}, t("msg.edit")),
        h("button", {type: "button", class: "link-btn", onclick: () => this.confirmDelete(m.id)}, t("msg.delete"))));
    }
    let body = m.deleted ? h("div", {class: "bubble muted deleted"}, t("msg.deleted")) : (m.content ? h("div", {class: "bubble"}, m.content) : null);
    if (this.editing === m.id) body = this.editBox(m);
    if (this.confirming === m.id) body = this.deleteBox(m);
    const classes = `msg ${m.type}${grouped ? " cont" : ""}${m.pending ? " pending" : ""}${m.failed ? " failed" : ""}${m.deleted ? " is-deleted" : ""}`;
    return h("div", {class: classes, dataset: {mid: m.id || ""}}, body, this.attachments(m.attachments), h("div", {class: "msg-meta"}, meta));
  }

  // ---- edit and delete my own messages (15 minutes; docs/contracts.md) -------------------
  startEdit(id) { this.confirming = null; this.editing = id; this.editDraft = null; this.renderMessages(); }

  confirmDelete(id) { this.editing = null; this.confirming = id; this.renderMessages(); }

  stopEditing() { this.editing = null; this.confirming = null; this.renderMessages(); }

  editBox(m) {
    const area = h("textarea", {rows: Math.min(8, Math.max(2, m.content.split("\n").length)), "aria-label": t("msg.edit")});
    area.value = this.editDraft ?? m.content;  // a live re-render keeps what is being typed
    area.addEventListener("input", () => { this.editDraft = area.value; });
    const save = () => this.changeMessage(m, "PATCH", {content: area.value});
    area.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); save(); }
      if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); this.stopEditing(); }
    });
    return h("div", {class: "bubble edit-box"}, area, h("div", {class: "edit-actions"},
      h("span", {class: "muted"}, t("msg.editHint")),
      h("button", {type: "button", onclick: () => this.stopEditing()}, t("msg.cancel")),
      h("button", {type: "button", class: "primary-btn", onclick: save}, t("msg.save"))));
  }

  deleteBox(m) {
    return h("div", {class: "bubble edit-box"}, h("p", {}, t("msg.confirmDelete")), h("div", {class: "edit-actions"},
      h("button", {type: "button", onclick: () => this.stopEditing()}, t("msg.cancel")),
      h("button", {type: "button", class: "danger-btn", onclick: () => this.changeMessage(m, "DELETE", {})}, t("msg.delete"))));
  }

  async changeMessage(m, method, body) {
    const version = (m.content_attributes && m.content_attributes.edits) || 0;
    try {
      const res = await api(method, `/api/v1/conversations/${m.conversation_id}/messages/${m.id}`, Object.assign({version}, body));
      this.editing = null;
      this.confirming = null;
      this.upsertMessage(res.message);
    } catch (err) {
      toast(err.message, 6000);
      if (err instanceof ApiError && err.body.current) { this.editing = null; this.confirming = null; this.upsertMessage(err.body.current); }
      else if (err instanceof ApiError && err.code === "edit_window_closed") this.stopEditing();
    }
  }

  /** The picture of an attachment: one element per file, so a redraw neither reloads it nor
   * shrinks the list while a copy decodes; when it loads, the end stays in view if it was. */
  thumbnail(a, href) {
    let img = this.thumbs.get(a.id);
    if (!img) {
      img = h("img", {src: `${href}/thumb`, alt: a.filename, loading: "lazy",
        onload: () => { if (this.pinned) this.box.scrollTop = this.box.scrollHeight; },
        onerror: () => this.thumbs.delete(a.id)});  // the next redraw tries again
      this.thumbs.set(a.id, img);
    }
    return img;
  }

  attachments(list) {
    if (!list || !list.length) return null;
    return h("div", {class: "atts"}, list.map((a) => {
      const href = `/api/v1/attachments/${encodeURIComponent(a.id)}`;
      const label = attachmentLabel(a);
      if (label) return h("span", {class: `att${a.status === "pending" ? "" : " bad"}`}, `${a.filename}: ${label}`);
      if (isPreviewable(a)) {
        return h("a", {class: "att img", href, target: "_blank", rel: "noopener", title: a.filename}, this.thumbnail(a, href));
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

function prechatLabels(inboxId) {
  const inbox = byId(store.directory.inboxes, inboxId);
  return new Map(((inbox && inbox.prechat_fields) || []).map((f) => [f.name, f.label]));
}

/** "order_number" -> "Order number": a readable label for a key nobody named. */
export function humanKey(key) {
  const words = String(key).replace(/[_-]+/g, " ").trim();
  return words ? words[0].toUpperCase() + words.slice(1) : String(key);
}

/** A value as text: Yes/No for booleans, "a, b" for lists, "key: value" pairs for objects, never "[object …]". */
export function displayValue(value) {
  if (value === true) return t("yes");
  if (value === false) return t("no");
  if (value === null || value === undefined) return "";
  if (Array.isArray(value)) return value.map(displayValue).join(", ");
  if (typeof value === "object") return Object.entries(value).map(([k, v]) => `${k}: ${displayValue(v)}`).join(", ");
  return String(value);
}

/** <dt>/<dd> rows for a key/value object; ``labels`` (key -> label, in form order) names and orders them. */
export function answerRows(values, labels = new Map()) {
  const order = Array.from(labels.keys());
  const rank = (k) => (order.includes(k) ? order.indexOf(k) : order.length);
  return Object.entries(values).filter(([, v]) => v !== null && v !== undefined && v !== "")
    .sort(([a], [b]) => rank(a) - rank(b))
    .map(([k, v]) => [h("dt", {}, labels.get(k) || humanKey(k)), h("dd", {}, displayValue(v))]);
}
