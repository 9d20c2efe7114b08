// Contact sidebar: profile (editable), browser session metadata, previous conversations.

import {get, patch} from "./api.js";
import {$, colorFor, contactName, h, initials, relTime, toast} from "./dom.js";
import {emit, inboxName, store} from "./store.js";

function row(label, value) {
  if (value === null || value === undefined || value === "") return [];
  return [h("dt", {}, label), h("dd", {}, String(value))];
}

export class Sidebar {
  constructor() {
    this.box = $("#side");
    this.contactId = null;
    this.data = null;
  }

  async show(contactId) {
    this.contactId = contactId;
    this.box.replaceChildren(h("p", {class: "muted"}, "Loading contact…"));
    try {
      const data = await get(`/api/v1/contacts/${contactId}`);
      if (this.contactId !== contactId) return;
      this.data = data;
      this.render();
    } catch (err) {
      this.box.replaceChildren(h("p", {class: "muted"}, err.message));
    }
  }

  /** A contact.updated / contact.session event. */
  refresh(contactId) { if (contactId === this.contactId && !this.editing) this.show(contactId); }

  render() {
    const {contact, session, conversations} = this.data;
    const name = contactName(contact);
    const avatar = h("div", {class: "avatar"}, initials(name));
    avatar.style.background = colorFor(contact.id);
    const attrs = Object.entries(contact.custom_attributes || {});
    const s = session || {};
    this.box.replaceChildren(...[
      h("div", {class: "side-head"}, avatar, h("div", {}, h("h2", {}, name),
        h("div", {class: "muted"}, s.online ? "● Online now" : contact.last_seen_at ? `Last seen ${relTime(contact.last_seen_at)} ago` : ""))),
      h("h3", {}, "Contact"),
      h("dl", {class: "kv"}, row("Email", contact.email), row("Phone", contact.phone), row("Identifier", contact.identifier),
        contact.identifier || contact.email || contact.phone ? [] : [h("dt", {}, "Details"), h("dd", {class: "muted"}, "Anonymous visitor")]),
      h("div", {class: "side-actions"}, h("button", {type: "button", onclick: () => this.edit()}, "Edit contact")),
      session ? [h("h3", {}, "Browser"), h("dl", {class: "kv"},
        row("Location", [s.timezone, s.locale].filter(Boolean).join(" · ")), row("Browser", [s.browser, s.os].filter(Boolean).join(" on ")),
        row("IP", s.ip), row("User agent", s.browser ? null : s.user_agent), row("Page", s.current_title || s.current_url), row("URL", s.current_title ? s.current_url : null),
        row("Referrer", s.referrer), row("Verified", s.hmac_verified ? "Yes (HMAC)" : null))] : [],
      attrs.length ? [h("h3", {}, "Attributes"), h("dl", {class: "kv"}, attrs.map(([k, v]) => row(k, v)))] : [],
      h("h3", {}, `Conversations (${conversations.length})`),
      conversations.map((c) => h("a", {class: "prev", href: `#c${c.id}`, onclick: (e) => { e.preventDefault(); emit("open", c.id); }},
        h("span", {}, `#${c.display_id} · ${c.status} · ${new Date(c.created_at).toLocaleDateString()}`),
        h("span", {class: "muted"}, c.last_message_preview || inboxName(c.inbox_id)))),
    ].flat(2));
  }

  edit() {
    const c = this.data.contact;
    this.editing = true;
    const field = (name, label, value, type = "text") => h("label", {}, label, h("input", {name, type, value: value || ""}));
    const attrs = h("textarea", {name: "attrs", rows: 4}, Object.entries(c.custom_attributes || {}).map(([k, v]) => `${k}=${v}`).join("\n"));
    const form = h("form", {}, field("name", "Name", c.name), field("email", "Email", c.email, "email"),
      field("phone", "Phone", c.phone, "tel"), h("label", {}, "Attributes (one name=value per line)", attrs),
      h("p", {class: "field-error", role: "alert"}),
      h("div", {class: "side-actions"}, h("button", {type: "submit", class: "primary-btn"}, "Save"),
        h("button", {type: "button", onclick: () => { this.editing = false; this.render(); }}, "Cancel")));
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
        toast("Contact saved");
      } catch (err) {
        form.querySelector(".field-error").textContent = err.message;
      }
    });
    this.box.replaceChildren(h("h3", {}, "Edit contact"), form);
    form.name.focus();
  }
}
