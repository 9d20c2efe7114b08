// The composer: reply / private note, Enter to send, per-conversation drafts shared across
// tabs, "/" canned responses, emoji, attachments with progress, typing + collision warning.

import {uploadFile} from "../common/upload.js";
import {ApiError, csrfToken, get, post} from "./api.js";
import {applyConflict} from "./conversation.js";
import {$, contactName, h, uuid} from "./dom.js";
import {t} from "./i18n.js";
import {emit, mergeCard, store} from "./store.js";

const EMOJI = "😀 😃 😄 😊 🙂 😉 😍 🤔 😅 😂 🙏 👍 👌 👋 🙌 👏 🎉 ✅ ❌ ⚠️ ❤️ 💡 📎 📞 📧 🕐 🚀 🔧 💳 📦 🤝 😢 😮 🙈 ⭐ 🔥".split(" ");
const TYPING_EVERY = 2500;

export class Composer {
  constructor(view) {
    this.view = view;
    this.input = $("#composer-input");
    this.mode = "reply";
    this.uploads = [];           // {key, name, el, done}
    this.canned = [];
    this.cannedMatches = [];
    this.cannedIndex = 0;
    this.typingSentAt = 0;
    this.typers = new Map();     // user_id -> {name, timer}
    this.channel = "BroadcastChannel" in window ? new BroadcastChannel("messenger-drafts") : null;
    if (this.channel) this.channel.onmessage = (e) => this.remoteDraft(e.data);
    this.input.addEventListener("keydown", (e) => this.keydown(e));
    this.input.addEventListener("input", () => this.changed());
    this.input.addEventListener("blur", () => { this.flushDraft(); this.typing(false); });
    window.addEventListener("pagehide", () => this.flushDraft());
    document.querySelectorAll(".mode button").forEach((b) => b.addEventListener("click", () => this.setMode(b.dataset.mode)));
    $("#send-btn").addEventListener("click", () => this.send());
    $("#emoji-btn").addEventListener("click", (e) => { e.stopPropagation(); this.toggleEmoji(); });
    $("#attach-btn").addEventListener("click", () => $("#attach-input").click());
    $("#attach-input").addEventListener("change", (e) => { this.upload(Array.from(e.target.files)); e.target.value = ""; });
    const zone = $("#composer");
    zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("dragover"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("dragover"));
    zone.addEventListener("drop", (e) => { e.preventDefault(); zone.classList.remove("dragover"); this.upload(Array.from(e.dataTransfer.files)); });
    this.input.addEventListener("paste", (e) => {
      const files = Array.from(e.clipboardData?.files || []);
      if (files.length) { e.preventDefault(); this.upload(files); }
    });
    document.addEventListener("click", (e) => { if (!e.target.closest("#emoji")) $("#emoji").hidden = true; });
    this.loadCanned();
  }

  /** The canned responses this operator may use (again when an admin or the operator changes them). */
  loadCanned() {
    return get("/api/v1/canned-responses").then((r) => { this.canned = r.items; }).catch(() => {});
  }

  draftKey(id) { return `messenger.draft.${store.me.id}.${id}`; }

  /** A conversation was opened: restore its draft, clear the rest. */
  /** Save a draft still waiting for its debounce (conversation switch, page leaving). */
  flushDraft() {
    if (!this.draftTimer) return;
    clearTimeout(this.draftTimer);
    this.draftTimer = null;
    this.saveDraft();
  }

  load(id) {
    this.flushDraft();
    this.convId = id;
    this.clearUploads();
    this.typers.forEach((x) => clearTimeout(x.timer));
    this.typers.clear();
    this.renderCollision();
    $("#visitor-typing").textContent = "";
    let draft = null;
    try { draft = JSON.parse(localStorage.getItem(this.draftKey(id)) || "null"); } catch (e) { draft = null; }
    this.input.value = draft ? draft.text : "";
    this.setMode(draft && draft.mode === "note" ? "note" : "reply", false);
    this.error("");
    this.closeCanned();
  }

  setMode(mode, save = true) {
    this.mode = mode;
    document.querySelectorAll(".mode button").forEach((b) => b.classList.toggle("active", b.dataset.mode === mode));
    $("#composer").classList.toggle("note", mode === "note");
    this.input.placeholder = t(mode === "note" ? "composer.notePlaceholder" : "composer.placeholder");
    $("#send-btn").textContent = t(mode === "note" ? "composer.addNote" : "composer.send");
    if (save) this.saveDraft();
  }

  focus(mode) {
    if (mode) this.setMode(mode);
    this.input.focus();
  }

  saveDraft() {
    if (!this.convId) return;
    const text = this.input.value;
    const key = this.draftKey(this.convId);
    if (text.trim()) localStorage.setItem(key, JSON.stringify({text, mode: this.mode, at: Date.now()}));
    else localStorage.removeItem(key);
    if (this.channel) this.channel.postMessage({user: store.me.id, conv: this.convId, text, mode: this.mode});
  }

  remoteDraft(data) {
    if (!data || data.user !== store.me.id || data.conv !== this.convId) return;
    if (document.activeElement === this.input && document.hasFocus()) return;  // never clobber live typing
    this.input.value = data.text;
    this.setMode(data.mode === "note" ? "note" : "reply", false);
  }

  changed() {
    clearTimeout(this.draftTimer);
    this.draftTimer = setTimeout(() => { this.draftTimer = null; this.saveDraft(); }, 250);
    this.updateCanned();
    const now = Date.now();
    if (this.input.value.trim() && now - this.typingSentAt > TYPING_EVERY) {
      this.typingSentAt = now;
      this.typing(true);
    } else if (!this.input.value.trim()) {
      this.typing(false);
    }
  }

  typing(on) {
    if (!this.convId || (!on && !this.typingSentAt)) return;
    if (!on) this.typingSentAt = 0;
    post(`/api/v1/conversations/${this.convId}/typing`, {on, private: this.mode === "note"}).catch(() => {});
  }

  keydown(e) {
    if (!$("#canned").hidden) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        const n = this.cannedMatches.length;
        this.cannedIndex = (this.cannedIndex + (e.key === "ArrowDown" ? 1 : n - 1)) % n;
        this.renderCanned();
        return;
      }
      if (e.key === "Enter" || e.key === "Tab") { e.preventDefault(); this.pickCanned(this.cannedIndex); return; }
      if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); this.closeCanned(); return; }
    }
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); this.send(); return; }
    if (e.key === "Escape") { this.input.blur(); }
  }

  // ---- canned responses -----------------------------------------------------------------
  cannedToken() {
    const upto = this.input.value.slice(0, this.input.selectionStart);
    const m = /(^|\s)\/([a-z0-9_-]*)$/i.exec(upto);
    return m ? {start: upto.length - m[2].length - 1, code: m[2].toLowerCase()} : null;
  }

  updateCanned() {
    const token = this.cannedToken();
    if (!token || !this.canned.length) { this.closeCanned(); return; }
    this.cannedMatches = this.canned.filter((c) => c.short_code.startsWith(token.code)).slice(0, 8);
    if (!this.cannedMatches.length) { this.closeCanned(); return; }
    this.cannedIndex = Math.min(this.cannedIndex, this.cannedMatches.length - 1);
    this.renderCanned();
  }

  renderCanned() {
    const box = $("#canned");
    box.replaceChildren(...this.cannedMatches.map((c, i) => {
      const el = h("div", {class: `canned-item${i === this.cannedIndex ? " active" : ""}`, role: "option",
        "aria-selected": i === this.cannedIndex ? "true" : "false"}, h("b", {}, `/${c.short_code}`), h("span", {}, c.content));
      el.addEventListener("mousedown", (e) => { e.preventDefault(); this.pickCanned(i); });
      return el;
    }));
    box.hidden = false;
  }

  closeCanned() { $("#canned").hidden = true; this.cannedIndex = 0; }

  pickCanned(i) {
    const c = this.cannedMatches[i];
    const token = this.cannedToken();
    if (!c || !token) { this.closeCanned(); return; }
    const v = this.input.value, caret = this.input.selectionStart;
    this.input.value = v.slice(0, token.start) + c.content + v.slice(caret);
    const pos = token.start + c.content.length;
    this.input.setSelectionRange(pos, pos);
    this.closeCanned();
    this.saveDraft();
  }

  // ---- emoji ------------------------------------------------------------------------------
  toggleEmoji() {
    const box = $("#emoji");
    if (!box.childElementCount) {
      box.append(...EMOJI.map((em) => h("button", {type: "button", onclick: () => this.insert(em)}, em)));
    }
    box.hidden = !box.hidden;
  }

  insert(text) {
    const s = this.input.selectionStart ?? this.input.value.length, e = this.input.selectionEnd ?? s;
    this.input.value = this.input.value.slice(0, s) + text + this.input.value.slice(e);
    this.input.setSelectionRange(s + text.length, s + text.length);
    this.input.focus();
    this.saveDraft();
  }

  // ---- attachments --------------------------------------------------------------------------
  upload(files) {
    if (!this.convId) return;
    for (const file of files.slice(0, 10)) {
      const bar = h("progress", {max: 100, value: 0});
      const item = {key: null, name: file.name, done: false, failed: false, abort: () => {}};
      const remove = h("button", {type: "button", class: "icon-btn", "aria-label": t("composer.remove", {name: file.name}), onclick: () => {
        item.abort(); this.uploads = this.uploads.filter((u) => u !== item); item.el.remove();
      }}, "×");
      item.el = h("div", {class: "upload"}, h("span", {}, file.name), bar, remove);
      $("#uploads").append(item.el);
      this.uploads.push(item);
      const upload = uploadFile(`/api/v1/conversations/${this.convId}/attachments`, file,
        {headers: {"X-CSRFToken": csrfToken()}, onProgress: (pct) => { bar.value = pct; }});
      item.abort = upload.abort;
      upload.promise.then((body) => { item.key = body.id; item.done = true; bar.value = 100; item.el.classList.add("done"); }).catch((err) => {
        if (err.code === "aborted") return;
        item.failed = true;
        item.el.classList.add("error");
        bar.replaceWith(h("span", {}, err.message));
      });
    }
  }

  clearUploads() { this.uploads = []; $("#uploads").replaceChildren(); }

  // ---- sending --------------------------------------------------------------------------------
  error(text) { $("#composer-error").textContent = text; }

  async send(opts = {}) {
    const id = this.convId;
    const text = opts.text ?? this.input.value.trim();
    if (this.uploads.some((u) => !u.done && !u.failed)) { this.error(t("composer.waitUploads")); return; }
    const keys = opts.keys ?? this.uploads.filter((u) => u.done).map((u) => u.key);
    if (!id || (!text && !keys.length)) return;
    const private_ = opts.private ?? this.mode === "note";
    const clientId = opts.clientId || uuid();
    this.error("");
    if (!opts.retry) {
      this.input.value = "";
      this.clearUploads();
      this.saveDraft();
      this.typing(false);
      this.closeCanned();
      this.view.upsertMessage({id: null, client_id: clientId, conversation_id: id, type: private_ ? "note" : "outgoing",
        content: text, sender_user_id: store.me.id, created_at: null, pending: true, attachments: []});
    }
    try {
      const res = await post(`/api/v1/conversations/${id}/messages`, {content: text, client_id: clientId,
        private: private_, reopen: !!opts.reopen, attachments: keys});
      this.view.upsertMessage(res.message);
      emit("card", mergeCard(res.conversation));
      if (this.convId === id) this.view.renderHeader();
    } catch (err) {
      this.view.messages = this.view.messages.filter((m) => m.client_id !== clientId || m.id);
      this.view.renderMessages();
      if (this.convId === id && !this.input.value) { this.input.value = text; this.saveDraft(); }
      applyConflict(err);
      if (err instanceof ApiError && err.code === "conversation_resolved") {
        this.view.renderHeader();
        this.resolvedNotice({text, keys, private: private_, clientId});
      } else {
        this.error(err.message);
      }
    }
  }

  /** Someone resolved the conversation while we typed: offer "Reopen and send". */
  resolvedNotice(pending) {
    const box = $("#conv-notice");
    box.className = "conv-notice danger";
    box.replaceChildren(h("span", {}, t("composer.resolvedWhileTyping")),
      h("button", {type: "button", class: "primary-btn", onclick: () => {
        this.input.value = "";
        this.saveDraft();
        this.view.upsertMessage({id: null, client_id: pending.clientId, conversation_id: this.convId,
          type: "outgoing", content: pending.text, sender_user_id: store.me.id, created_at: null, pending: true});
        this.send({text: pending.text, keys: pending.keys, private: pending.private, clientId: pending.clientId, reopen: true, retry: true});
      }}, t("composer.reopenSend")));
    box.hidden = false;
  }

  // ---- collision warning ----------------------------------------------------------------------
  /** Typing signal from the stream: warn when a colleague types in this conversation. */
  onTyping(sig) {
    if (sig.conversation_id !== this.convId) return;
    if ((sig.from || sig.actor_type) === "visitor") { this.visitorTyping(sig); return; }
    if (sig.user_id === store.me.id) return;
    const old = this.typers.get(sig.user_id);
    if (old) clearTimeout(old.timer);
    if (sig.on) {
      const timer = setTimeout(() => { this.typers.delete(sig.user_id); this.renderCollision(); }, (sig.expires_in || 6) * 1000);
      this.typers.set(sig.user_id, {name: sig.name, private: sig.private, timer});
    } else {
      this.typers.delete(sig.user_id);
    }
    this.renderCollision();
  }

  visitorTyping(sig) {
    const box = $("#visitor-typing");
    clearTimeout(this.visitorTimer);
    const card = store.cards.get(this.convId);
    box.textContent = sig.on ? t("typing.visitor", {name: contactName(card && card.contact)}) : "";
    if (sig.on) this.visitorTimer = setTimeout(() => { box.textContent = ""; }, (sig.expires_in || 6) * 1000);
  }

  renderCollision() {
    const box = $("#collision");
    const names = Array.from(this.typers.values(), (x) => x.name || t("typing.aColleague"));
    if (!names.length) { box.hidden = true; return; }
    box.textContent = t(names.length > 1 ? "typing.colleagues" : "typing.colleague", {names: names.join(", ")});
    box.hidden = false;
  }
}
