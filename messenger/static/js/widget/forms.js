// The area under the conversation: queue position, pre-chat form, offline form, CSAT.
// Every form is validated again on the server; its errors appear next to the named field.

import {api} from "./api.js";
import {refreshConversation, setConversation} from "./conversation.js";
import {$, el, honeypot} from "./dom.js";
import {t} from "./i18n.js";
import {flush} from "./outbox.js";
import {state} from "./state.js";

function field(form, name, label, type, required, options) {
  const id = "f-" + name;
  form.appendChild(el("label", "", label + (required ? " *" : ""))).htmlFor = id;
  let input;
  if (type === "select") {
    input = el("select");
    input.appendChild(el("option", "", ""));
    for (const o of options) input.appendChild(el("option", "", o)).value = o;
  } else if (type === "textarea") {
    input = el("textarea");
  } else {
    input = el("input");
    input.type = {email: "email", phone: "tel", number: "number", checkbox: "checkbox"}[type] || "text";
  }
  input.id = id;
  input.name = name;
  input.required = !!required;
  form.appendChild(input);
  return input;
}

function formValues(form) {
  const out = {};
  for (const i of form.querySelectorAll("[name]")) out[i.name] = i.type === "checkbox" ? i.checked : i.value.trim();
  return out;
}

function formError(form, e) {
  for (const x of form.querySelectorAll(".err")) x.remove();
  const target = (e.field && form.querySelector(`[name="${CSS.escape(e.field)}"]`)) || form.lastElementChild;
  target.after(el("p", "err", e.network ? t("offline") : e.message));
}

/** A form whose submit button is disabled while `send(values)` runs; errors go next to the field. */
function submitting(form, button, send) {
  form.onsubmit = async (e) => {
    e.preventDefault();
    button.disabled = true;
    try { await send(formValues(form)); } catch (err) { formError(form, err); } finally { button.disabled = false; }
  };
}

/** A string whose promise depends on whether Messenger can send e-mail (config.email_enabled). */
const byEmail = (key) => t((state.config || {}).email_enabled ? key + "Email" : key);

function queueLines(panel, q) {
  if (q.online === false) panel.appendChild(el("p", "sys", t("nobody")));
  panel.appendChild(el("p", "", q.position ? t("queue", {n: q.position}) : t("waiting")));
  if (q.estimated_wait_s != null) {
    panel.appendChild(el("p", "sys", t("wait", {m: Math.max(1, Math.round(q.estimated_wait_s / 60))})));
  }
  if (q.offer_offline) offerOfflineForm(panel);
}

/** "Leave your email" under a line; the composer stays, the visitor may still write here. */
function offerOfflineForm(panel, line) {
  if (line) panel.appendChild(el("p", "", line));
  const b = panel.appendChild(el("button", "primary", t("leave")));
  b.type = "button";
  b.onclick = () => offlineForm(panel);
}

function resolvedLines(panel, conv, c) {
  panel.appendChild(el("p", "sys", t("resolved")));
  if (conv.csat_requested) csatForm(panel);
  else if (conv.csat) panel.appendChild(el("p", "sys", t("thanks")));
  if (c.email_enabled) transcriptButton(panel);
  if (!c.reply_after_resolve) $("composer").hidden = true;
}

/** "Email me this conversation": to the address the visitor left, else one they type. */
function transcriptButton(panel) {
  const form = panel.appendChild(el("form", "transcript"));
  const b = form.appendChild(el("button", "", t("transcript")));
  submitting(form, b, async (values) => {
    try {
      const r = await api("POST", `/conversations/${state.conv.id}/transcript`, values);
      form.replaceWith(el("p", "sys", t("transcriptSent", {e: r.email})));
    } catch (err) {
      if (err.field !== "email" || form.querySelector("[name=email]")) throw err;
      field(form, "email", t("email"), "email", true);  // no address on file: ask for one
      form.appendChild(b);
    }
  });
}

/** Redraw the panel for the current state. */
export function showPanel() {
  const panel = $("panel");
  const c = state.config || {};
  const conv = state.conv;
  panel.replaceChildren();
  $("composer").hidden = false;
  if (state.notice) panel.appendChild(el("p", "notice", state.notice));
  if (!conv && !state.outbox.length && c.business_hours && !c.business_hours.open) return offlineForm(panel);
  if (!conv && !state.outbox.length && c.available === false) return offerOfflineForm(panel, t("nobody"));
  const fields = (c.prechat && c.prechat.enabled && c.prechat.fields) || [];
  if (!conv && (state.needForm || fields.some((f) => f.required))) return prechatForm(panel, fields);
  if (!conv) return;
  if (conv.status === "resolved") return resolvedLines(panel, conv, c);
  const q = conv.queue || {};
  if (q.waiting && !state.notice) queueLines(panel, q);
}

function offlineForm(panel, intro) {
  panel.replaceChildren();
  $("composer").hidden = true;
  const form = el("form");
  form.appendChild(el("p", "", intro || byEmail("offlineIntro")));
  field(form, "name", t("name"), "text");
  field(form, "email", t("email"), "email", true);
  field(form, "message", t("message"), "textarea", true);
  const b = form.appendChild(el("button", "primary", t("submit")));
  submitting(form, b, async (values) => {
    const r = await api("POST", "/offline", {...values, client_id: crypto.randomUUID(), hp: honeypot()});
    state.notice = byEmail("offlineSent");
    await setConversation(r.conversation);
  });
  panel.appendChild(form);
}

function prechatForm(panel, fields) {
  $("composer").hidden = true;
  const form = el("form");
  for (const f of fields) field(form, f.name, f.label, f.type, f.required, f.options || []);
  field(form, "message", t("message"), "textarea", true);
  const b = form.appendChild(el("button", "primary", t("start")));
  submitting(form, b, async ({message, ...values}) => {
    const r = await api("POST", "/prechat", {fields: values, message, client_id: crypto.randomUUID(), hp: honeypot()});
    state.needForm = false;
    await setConversation(r.conversation);
    flush();
  });
  panel.appendChild(form);
}

function csatForm(panel) {
  const form = el("form");
  form.appendChild(el("p", "", t("rate")));
  const stars = form.appendChild(el("div", "stars"));
  let rating = 0;
  for (let n = 1; n <= 5; n++) {
    const s = stars.appendChild(el("button", "", "★"));
    s.type = "button";
    s.setAttribute("aria-label", t("star", {n}));
    s.onclick = () => {
      rating = n;
      [...stars.children].forEach((x, i) => {
        x.classList.toggle("on", i < n);
        x.setAttribute("aria-pressed", String(i === n - 1));
      });
    };
  }
  const comment = field(form, "comment", t("comment"), "textarea");
  const b = form.appendChild(el("button", "primary", t("submit")));
  submitting(form, b, async () => {
    await api("POST", `/conversations/${state.conv.id}/csat`, {rating, comment: comment.value});
    await refreshConversation();
  });
  panel.appendChild(form);
}
