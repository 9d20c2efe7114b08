// Contact sidebar: profile (editable), browser session metadata, previous conversations.

import {api, get, patch, post} from "./api.js";
import {answerRows} from "./conversation.js";
import {$, colorFor, contactName, h, initials, relTime, toast} from "./dom.js";
import {t} from "./i18n.js";
import {emit, inboxName, statusName, store} from "./store.js";

/** Labels of every pre-chat field the operator's inboxes ask, so answers read "Order number", not a key. */
function fieldLabels() {
  const labels = new Map();
  for (const inbox of store.directory.inboxes) for (const f of inbox.prechat_fields || []) labels.set(f.name, f.label);
  return labels;
}

function row(label, value) {
  if (value === null || value === undefined || value === "") return [];
  return [h("dt", {}, label), h("dd", {}, String(value))];
}

/** "45 s", "3 min", "1 h 5 min": time spent on a page. */
function duration(seconds) {
  if (seconds < 60) return t("dur.s", {n: seconds});
  const minutes = Math.round(seconds / 60);
  return minutes < 60 ? t("dur.min", {n: minutes}) : t("dur.h", {h: Math.floor(minutes / 60), m: minutes % 60});
}

/** "/pricing?plan=pro": the part of a visited URL that tells pages of one site apart. */
function pagePath(url) {
  try { const u = new URL(url); return u.pathname + u.search; } catch (e) { return url; }
}

/** The visit the loader recorded: landing page (and referrer) first, then each page with its time. */
function visitRows(s) {
  const pages = Array.isArray(s.pages) ? s.pages : [];
  if (!pages.length) return [];
  const landing = pages[0].landing ? pages[0] : null;
  return [h("h3", {}, t("side.pages", {n: pages.length})),
    landing ? h("dl", {class: "kv"}, row(t("side.landing"), landing.title || landing.url),
      row(t("side.landingUrl"), landing.title ? landing.url : null)) : [],
    h("ol", {class: "visit"}, pages.map((p, i) => {
      const here = i === pages.length - 1 && p.seconds == null;
      const spent = here ? t("side.hereNow", {time: duration(Math.max(0, Math.round((Date.now() - Date.parse(p.at)) / 1000)))})
        : p.seconds != null ? duration(p.seconds) : "";
      return h("li", {title: p.url}, h("span", {}, pagePath(p.url)), h("span", {class: "muted"}, spent));
    }))].flat();
}

export class Sidebar {
  constructor() {
    this.box = $("#side");
    this.contactId = null;
    this.data = null;
  }

  async show(contactId, conversationId = null) {
    // Another contact: say it is loading. The same one again (a live update, a reopened
    // conversation): keep what is shown until the answer replaces it, so nothing flickers.
    if (contactId !== this.contactId) {
      this.data = null;  // live updates must never draw the previous contact under the new one's id
      this.box.replaceChildren(h("p", {class: "muted"}, t("side.loading")));
    }
    this.contactId = contactId;
    this.conversationId = conversationId;
    this.blocking = false;
    try {
      const data = await get(`/api/v1/contacts/${contactId}`);
      if (this.contactId !== contactId) return;
      this.data = data;
      this.render();
    } catch (err) {
      if (this.contactId !== contactId) return;
      this.data = null;  // nothing of it is drawn again (a later conversation event included)
      // The contact of a conversation the operator sees is only missing once it was erased.
      this.box.replaceChildren(h("p", {class: "muted", id: "contact-missing"}, err.status === 404 ? t("data.erasedNote") : err.message));
    }
  }

  /** A conversation.created / .updated card: the contact's conversations list follows (status,
   * last message, a new conversation on top), without asking the server again. */
  conversationChanged(card) {
    if (!this.data || card.contact_id !== this.contactId) return;
    const list = this.data.conversations;
    const entry = list.find((c) => c.id === card.id);
    const fields = {status: card.status, last_message_preview: card.last_message_preview};
    if (entry) Object.assign(entry, fields);
    else if (card.display_id && card.created_at) {
      list.unshift({id: card.id, display_id: card.display_id, created_at: card.created_at, inbox_id: card.inbox_id, ...fields});
      list.length = Math.min(list.length, 20);
    } else return;
    if (!this.editing && !this.blocking) this.render();
  }

  /** A contact.updated / contact.session event. */
  refresh(contactId) {
    if (contactId === this.contactId && !this.editing && !this.blocking) this.show(contactId, this.conversationId);
  }

  render() {
    const {contact, session, conversations} = this.data;
    const name = contactName(contact);
    const avatar = h("div", {class: "avatar"}, initials(name));
    avatar.style.background = colorFor(contact.id);
    const attrs = Object.entries(contact.custom_attributes || {});
    const s = session || {};
    this.box.replaceChildren(...[
      h("div", {class: "side-head"}, avatar, h("div", {}, h("h2", {}, name),
        h("div", {class: "muted"}, s.online ? t("side.online") : contact.last_seen_at ? t("side.lastSeen", {time: relTime(contact.last_seen_at)}) : ""))),
      h("h3", {}, t("side.contact")),
      h("dl", {class: "kv"}, row(t("side.email"), contact.email), row(t("side.phone"), contact.phone), row(t("side.identifier"), contact.identifier),
        contact.identifier || contact.email || contact.phone ? [] : [h("dt", {}, t("side.details")), h("dd", {class: "muted"}, t("side.anonymous"))]),
      h("div", {class: "side-actions"}, h("button", {type: "button", onclick: () => this.edit()}, t("side.edit")),
        contact.blocked
          ? h("button", {type: "button", class: "danger-text", onclick: () => this.unblock()}, t("block.unblock"))
          : h("button", {type: "button", class: "danger-text", onclick: () => this.blockForm()}, t("block.open"))),
      h("div", {class: "side-actions"},
        h("a", {class: "side-link", id: "contact-export", href: `/api/v1/contacts/${contact.id}/export`,
          download: `contact-${contact.id}.json`, title: t("data.exportTitle")}, t("data.export")),
        // Erasing is the API's admin-only action: agents are not offered it.
        store.me && store.me.role === "admin"
          ? h("button", {type: "button", class: "danger-text", id: "contact-erase", onclick: () => this.eraseConfirm()}, t("data.erase"))
          : []),
      contact.blocked ? h("p", {class: "blocked-note", role: "status"}, contact.blocked_until
        ? t("block.until", {time: new Date(contact.blocked_until).toLocaleString()}) : t("block.forGood")) : [],
      session ? [h("h3", {}, t("side.browser")), h("dl", {class: "kv"},
        row(t("side.location"), [s.timezone, s.locale].filter(Boolean).join(" · ")),
        row(t("side.browserName"), s.browser && s.os ? t("side.on", {browser: s.browser, os: s.os}) : s.browser || s.os),
        row(t("side.ip"), s.ip), row(t("side.ua"), s.browser ? null : s.user_agent), row(t("side.page"), s.current_title || s.current_url), row(t("side.url"), s.current_title ? s.current_url : null),
        row(t("side.referrer"), s.referrer), row(t("side.verified"), s.hmac_verified ? t("side.verifiedYes") : null)), ...visitRows(s)] : [],
      attrs.length ? [h("h3", {}, t("side.attributes")), h("dl", {class: "kv attrs"}, answerRows(contact.custom_attributes, fieldLabels()))] : [],
      h("h3", {}, t("side.conversations", {n: conversations.length})),
      conversations.map((c) => h("a", {class: "prev", href: `#c${c.id}`, onclick: (e) => { e.preventDefault(); emit("open", c.id); }},
        h("span", {}, `#${c.display_id} · ${statusName(c.status)} · ${new Date(c.created_at).toLocaleDateString(document.documentElement.lang)}`),
        h("span", {class: "muted"}, c.last_message_preview || inboxName(c.inbox_id)))),
    ].flat(2));
  }

  /** Block this contact (an expiry, optionally its IP too), or block and mark the open conversation as spam. */
  blockForm() {
    const c = this.data.contact;
    const ip = (this.data.session || {}).ip;
    this.blocking = true;
    const until = h("select", {name: "until"}, [["1", "block.day"], ["7", "block.week"], ["30", "block.month"],
      ["", "block.noExpiry"]].map(([v, key]) => h("option", {value: v}, t(key))));
    const address = h("input", {type: "checkbox", name: "block_address"});
    const reason = h("input", {name: "reason", maxlength: 255, placeholder: t("block.reason")});
    const error = h("p", {class: "field-error", role: "alert"});
    const done = (text) => { this.blocking = false; toast(text); this.show(c.id, this.conversationId); };
    const fail = (err) => { error.textContent = err.message; };
    const block = () => post(`/api/v1/contacts/${c.id}/block`, {reason: reason.value,
      until: until.value ? new Date(Date.now() + Number(until.value) * 86400000).toISOString() : null,
      block_address: address.checked}).then(() => done(t("block.done")), fail);
    const spam = () => post(`/api/v1/conversations/${this.conversationId}/spam`, {block_address: address.checked})
      .then(() => done(t("block.spamDone")), fail);
    this.box.replaceChildren(h("h3", {}, t("block.title")), h("p", {class: "muted"}, t("block.explain")),
      h("label", {}, t("block.for"), " ", until), ip ? h("label", {class: "check"}, address, " ", t("block.ip", {ip})) : [],
      h("label", {}, reason), error,
      h("div", {class: "side-actions"},
        h("button", {type: "button", class: "danger-btn", onclick: block}, t("block.submit")),
        this.conversationId ? h("button", {type: "button", onclick: spam}, t("block.spam")) : [],
        h("button", {type: "button", onclick: () => { this.blocking = false; this.render(); }}, t("msg.cancel"))));
  }

  /** Ask before erasing: the contact's text, files and sessions go for good (POST …/erase, audited there). */
  eraseConfirm() {
    const c = this.data.contact;
    this.blocking = true;  // no live refresh while the question is open
    const error = h("p", {class: "field-error", role: "alert"});
    const cancel = h("button", {type: "button", onclick: () => { this.blocking = false; this.render(); }}, t("msg.cancel"));
    const erase = async () => {
      try {
        await post(`/api/v1/contacts/${c.id}/erase`);
        this.blocking = false;
        toast(t("data.erased"));
        this.box.replaceChildren(h("p", {class: "muted", id: "contact-missing"}, t("data.erasedNote")));
        if (this.conversationId) emit("open", this.conversationId);  // its messages are blank now
      } catch (err) {
        error.textContent = err.message;
      }
    };
    this.box.replaceChildren(h("div", {class: "erase-confirm", role: "alertdialog", "aria-labelledby": "erase-title",
      "aria-describedby": "erase-explain"},
      h("h3", {id: "erase-title"}, t("data.eraseTitle", {name: contactName(c)})),
      h("p", {id: "erase-explain"}, t("data.eraseExplain")), error,
      h("div", {class: "side-actions"},
        h("button", {type: "button", class: "danger-btn", id: "erase-submit", onclick: erase}, t("data.eraseSubmit")), cancel)));
    cancel.focus();
  }

  async unblock() {
    try {
      await api("DELETE", `/api/v1/contacts/${this.data.contact.id}/block`);
      toast(t("block.undone"));
      this.show(this.data.contact.id, this.conversationId);
    } catch (err) {
      toast(err.message);
    }
  }

  edit() {
    const c = this.data.contact;
    this.editing = true;
    const field = (name, label, value, type = "text") => h("label", {}, label, h("input", {name, type, value: value || ""}));
    const attrs = h("textarea", {name: "attrs", rows: 4}, Object.entries(c.custom_attributes || {}).map(([k, v]) => `${k}=${v !== null && typeof v === "object" ? JSON.stringify(v) : v}`).join("\n"));
    const form = h("form", {}, field("name", t("side.name"), c.name), field("email", t("side.email"), c.email, "email"),
      field("phone", t("side.phone"), c.phone, "tel"), h("label", {}, t("side.attrsEdit"), attrs),
      h("p", {class: "field-error", role: "alert"}),
      h("div", {class: "side-actions"}, h("button", {type: "submit", class: "primary-btn"}, t("msg.save")),
        h("button", {type: "button", onclick: () => { this.editing = false; this.render(); }}, t("msg.cancel"))));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const custom = {};
      for (const line of attrs.value.split("\n")) {
        const at = line.indexOf("=");
        if (at > 0) custom[line.slice(0, at).trim()] = line.slice(at + 1).trim();
      }
      try {
        const updated = await patch(`/api/v1/contacts/${c.id}`, {name: form.name.value, email: form.email.value,
          phone: form.phone.value, custom_attributes: custom});
        this.editing = false;
        this.data.contact = updated;
        for (const card of store.cards.values()) {
          if (card.contact_id === c.id) { card.contact = Object.assign({}, card.contact, updated); emit("card", card); }
        }
        this.render();
        toast(t("toast.contactSaved"));
      } catch (err) {
        form.querySelector(".field-error").textContent = err.message;
      }
    });
    this.box.replaceChildren(h("h3", {}, t("side.editTitle")), form);
    form.name.focus();
  }
}
