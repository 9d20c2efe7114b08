// Panel bootstrap: wires the list, the conversation, the composer, the sidebar, search,
// the live stream, keyboard shortcuts, notifications and the column resizers.

import {connectShared} from "../common/tabstream.js";
import {get, post, put} from "./api.js";
import {Composer} from "./composer.js";
import {ConversationView} from "./conversation.js";
import {$, $$, contactName, h, isTyping, toast} from "./dom.js";
import {setLang, t, translatePage} from "./i18n.js";
import {ConversationList} from "./list.js";
import {alertOperator, bindSettings, setTitleCount} from "./notify.js";
import {Search} from "./search.js";
import {Sidebar} from "./sidebar.js";
import {emit, isWaiting, mergeCard, on, store} from "./store.js";

const panel = $("#panel");
const list = new ConversationList();
const view = new ConversationView();
const composer = new Composer(view);
const sidebar = new Sidebar();
const search = new Search();
let opening = Promise.resolve();

// ---- opening conversations ----------------------------------------------------------------
async function open(id) {
  if (!id) return;
  list.select(id);
  panel.classList.add("show-conv");
  history.replaceState(null, "", `#c${id}`);
  composer.load(id);
  try {
    await view.open(id);
  } catch (err) {
    toast(err.message);
    view.close();
    return;
  }
  const card = store.cards.get(id);
  if (card && view.id === id) sidebar.show(card.contact_id, id);
}
on("open", (id) => { opening = open(id); });
on("reveal", async (item) => {
  opening = open(item.conversation);
  await opening;
  view.reveal(item.message);
});
$("#back-to-list").addEventListener("click", () => panel.classList.remove("show-conv"));
$("#toggle-details").addEventListener("click", () => panel.classList.toggle("show-side"));
$("#close-details").addEventListener("click", () => panel.classList.remove("show-side"));

// ---- cards changing ----------------------------------------------------------------------
let countsTimer = null;
let countsAt = 0;
const COUNTS_EVERY = 2000;  // a busy inbox changes constantly: at most one counts query per 2 s per tab
function refreshCounts() {
  if (countsTimer) return;
  const wait = Math.max(300, countsAt + COUNTS_EVERY - Date.now());
  countsTimer = setTimeout(async () => {
    countsTimer = null;
    countsAt = Date.now();
    const p = list.params;
    try {
      const counts = await get("/api/v1/conversations/counts", {status: p.status, inbox_id: p.inbox_id,
        team_id: p.team_id, label_id: p.label_id, priority: p.priority});
      store.counts = counts;
      for (const [tab, n] of Object.entries(counts)) {
        const el = $(`[data-count="${tab}"]`);
        if (el) el.textContent = n >= 10000 ? `${Math.floor(n / 1000)}k` : n;
      }
      $("[data-tab=waiting]").classList.toggle("has-waiting", counts.waiting > 0);
      updateTitle();
    } catch (e) { /* counts are cosmetic */ }
  }, wait);
}

/** The title counts what needs this operator: conversations waiting for someone + their own with unread messages. */
function updateTitle() {
  let n = (store.counts && store.counts.waiting) || 0;
  for (const c of store.cards.values()) {
    if (c.assignee_id === store.me.id && c.status !== "resolved" && c.unread_count > 0) n += 1;
  }
  setTitleCount(n);
}

on("card", (card) => {
  list.upsert(card);
  if (card.id === view.id) view.renderHeader();
  updateTitle();
  refreshCounts();
});
on("list-changed", updateTitle);

// ---- filters and tabs --------------------------------------------------------------------
/** The filter pickers from the directory: "all" first, the choice kept while it still exists. */
function fill(select, items, label) {
  const chosen = select.value;
  select.replaceChildren(select.options[0], ...items.map((x) => h("option", {value: x.id}, label(x))));
  select.value = items.some((x) => String(x.id) === chosen) ? chosen : "";
  select.hidden = !items.length || (select.id === "f-inbox" && items.length < 2);
  if (select.value !== chosen) select.dispatchEvent(new Event("change"));  // its item is gone: the list follows
}

function applyDirectory(dir) {
  store.me = Object.assign(store.me || {}, dir.me);
  store.directory = dir;
  fill($("#f-inbox"), dir.inboxes, (x) => x.name);
  fill($("#f-team"), dir.teams, (x) => x.name);
  fill($("#f-label"), dir.labels, (x) => x.name);
}

// The admin changed a picker's list (a label, an inbox's name or pre-chat form, a team, an
// operator, the canned responses): fetch it again, once per burst of events, each panel after
// a random pause of up to a second so a large team's panels do not all ask at the same moment.
const directoryChanges = new Set();
let directoryTimer = null;
function directoryChanged(what) {
  directoryChanges.add(what);
  clearTimeout(directoryTimer);
  directoryTimer = setTimeout(async () => {
    const tables = [...directoryChanges];
    directoryChanges.clear();
    const canned = tables.includes("canned_responses") ? composer.loadCanned() : null;
    const pickers = tables.some((x) => x !== "canned_responses") ? get("/api/v1/directory").catch(() => null) : null;
    const [, dir] = await Promise.all([canned, pickers]);
    if (!dir) return;  // nothing else changed, or the fetch failed (the next event or a reload)
    applyDirectory(dir);
    list.refreshTimes();
    if (view.id && view.card) view.renderHeader();
  }, 300 + Math.random() * 1000);
}

function currentFilters() {
  return {status: $("#f-status").value, sort: $("#f-sort").value, inbox_id: $("#f-inbox").value,
    team_id: $("#f-team").value, label_id: $("#f-label").value, priority: $("#f-priority").value};
}

function setTab(tab) {
  $$("#tabs [data-tab]").forEach((b) => {
    b.classList.toggle("active", b.dataset.tab === tab);
    b.setAttribute("aria-selected", b.dataset.tab === tab ? "true" : "false");
  });
  // Waiting always means "open or pending, nobody on it": the status filter does not apply there.
  $("#f-status").hidden = tab === "waiting";
  $("#f-status-fixed").hidden = tab !== "waiting";
  localStorage.setItem("messenger.tab", tab);
  return list.reset(Object.assign({tab}, currentFilters()));
}
$$("#tabs [data-tab]").forEach((b) => b.addEventListener("click", () => setTab(b.dataset.tab)));
$$("#filters select").forEach((s) => s.addEventListener("change", () => { list.reset(currentFilters()); refreshCounts(); }));
$("#more-filters").addEventListener("click", (e) => {
  const more = $("#filters-more");
  more.hidden = !more.hidden;
  e.target.setAttribute("aria-expanded", String(!more.hidden));
});

// ---- live events -------------------------------------------------------------------------
async function cardFromEvent(data) {
  if (store.cards.has(data.id)) return mergeCard(data);
  // Unknown so far: fetch its card (for the contact's name) only when the list or a
  // notification needs it; the payload carries every field the filters look at.
  if (!list.matches(Object.assign({labels: []}, data)) && data.assignee_id !== store.me.id && !isWaiting(data)) return null;
  try { return mergeCard(await get(`/api/v1/conversations/${data.id}`)); } catch (e) { return null; }
}

let readTimer = null;
function markReadSoon() {
  clearTimeout(readTimer);
  readTimer = setTimeout(() => { if (view.id && document.visibilityState === "visible") view.markRead(); }, 600);
}

async function onEvent(kind, data) {
  switch (kind) {
    case "conversation.created":
    case "conversation.updated": {
      sidebar.conversationChanged(data);
      const before = store.cards.get(data.id);
      const card = await cardFromEvent(data);
      if (!card) return;
      emit("card", card);
      const newlyMine = card.assignee_id === store.me.id && (!before || before.assignee_id !== store.me.id);
      // Newly waiting: a new conversation nobody took, or one back in the queue (requeued, unassigned).
      const newlyWaiting = isWaiting(card) && (kind === "conversation.created" || (before && !isWaiting(before)));
      if (newlyMine || newlyWaiting) {
        alertOperator({title: t(newlyMine ? "notify.newMine" : "notify.newWaiting"), body: contactName(card.contact),
          tag: `conv-${card.id}-${card.assignee_id}`, mine: newlyMine, onClick: () => emit("open", card.id)});
      }
      break;
    }
    case "message.created":
    case "message.updated":
      view.upsertMessage(data);
      if (kind === "message.created" && data.type === "incoming") {
        const card = store.cards.get(data.conversation_id);
        if (data.conversation_id === view.id) markReadSoon();
        const mine = card && card.assignee_id === store.me.id;
        const unassigned = card && !card.assignee_id;
        if (mine || unassigned) {
          alertOperator({title: card ? contactName(card.contact) : t("notify.newMessage"), body: data.content || t("msg.attachment"),
            tag: `msg-${data.id}`, mine, onClick: () => emit("open", data.conversation_id)});
        }
      }
      break;
    case "attachment.updated":
      view.attachmentUpdated(data);
      break;
    case "csat.created":
      view.csatReceived(data);
      break;
    case "contact.updated":
      for (const card of store.cards.values()) {
        if (card.contact_id === data.id) { card.contact = Object.assign({}, card.contact, data); emit("card", card); }
      }
      sidebar.refresh(data.id);
      break;
    case "contact.session":
      sidebar.refresh(data.contact_id);
      break;
    case "presence.updated":
    case "presence": {
      const op = store.directory.operators.find((o) => o.id === data.user_id);
      if (op && data.availability) op.availability = data.availability;
      if (data.user_id === store.me.id && data.availability) showAvailability(data.availability);
      break;
    }
    case "directory.changed":
      directoryChanged(data.what);
      break;
    case "typing":
      composer.onTyping(data);
      break;
    case "resync":
      await list.reset();
      refreshCounts();
      if (view.id) open(view.id);
      break;
    default:
      break;
  }
}

function onStatus(state) {
  if (state === "unauthorized") { location.href = "/login?next=/app"; return; }
  $("#conn-status").textContent = {live: "", polling: t("conn.polling"), connecting: t("conn.connecting"),
    offline: t("conn.offline")}[state] ?? "";
}

// ---- availability ------------------------------------------------------------------------
// Offline is stated, not implied: a banner explains that going online routes chats here.
// The last choice is remembered on the server (availability_choice): online/busy is restored
// on the next visit, "Stay offline" keeps only a compact banner.
function showAvailability(value) {
  store.me.availability = value;
  $("#availability").value = value;
  $("#avail-dot").className = `dot ${value}`;
  $(".pbar-avail").classList.toggle("is-offline", value === "offline");
  const banner = $("#offline-banner");
  banner.hidden = value !== "offline";
  banner.classList.toggle("compact", store.me.availability_choice === "offline");
}

async function setAvailability(value) {
  try {
    const res = await post("/api/v1/me/availability", {availability: value});
    store.me.availability_choice = res.availability_choice;
    showAvailability(res.availability);
    return true;
  } catch (err) {
    toast(err.message);
    showAvailability(store.me.availability);
    return false;
  }
}
$("#availability").addEventListener("change", (e) => setAvailability(e.target.value));
$("#go-online").addEventListener("click", () => setAvailability("online"));
$("#stay-offline").addEventListener("click", () => setAvailability("offline"));

async function restoreAvailability(me) {
  showAvailability(me.availability);
  if (me.availability === "offline" && (me.availability_choice === "online" || me.availability_choice === "busy")) {
    if (await setAvailability(me.availability_choice)) toast(t("online.restored"), 6000);
  }
}

// ---- language ----------------------------------------------------------------------------
$("#set-lang").addEventListener("change", async (e) => {
  try {
    await put("/api/v1/me/preferences", {locale: e.target.value || null});
    location.reload();
  } catch (err) { toast(err.message); }
});

// ---- overlays and shortcuts ----------------------------------------------------------------
const overlays = ["#search-overlay", "#help-overlay", "#settings-overlay"];
function closeOverlays() {
  if (document.activeElement && document.activeElement.closest(".overlay")) document.activeElement.blur();
  overlays.forEach((o) => { $(o).hidden = true; });
}
$$(".overlay [data-close]").forEach((b) => b.addEventListener("click", closeOverlays));
$$(".overlay").forEach((o) => o.addEventListener("click", (e) => { if (e.target === o) closeOverlays(); }));
$("#open-search").addEventListener("click", () => search.open());
$("#open-help").addEventListener("click", () => { $("#help-overlay").hidden = false; });
$("#open-settings").addEventListener("click", () => { $("#settings-overlay").hidden = false; });

function move(delta) {
  const id = list.neighbour(delta);
  if (id) emit("open", id);
}

document.addEventListener("keydown", (e) => {
  const overlayOpen = overlays.some((o) => !$(o).hidden);
  if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "k") { e.preventDefault(); closeOverlays(); search.open(); return; }
  if (e.altKey && (e.key === "ArrowDown" || e.key === "ArrowUp")) { e.preventDefault(); move(e.key === "ArrowDown" ? 1 : -1); return; }
  if (e.key === "Escape" && overlayOpen) { e.preventDefault(); closeOverlays(); return; }
  if (overlayOpen || isTyping(e.target) || e.ctrlKey || e.metaKey || e.altKey) return;
  const k = e.key;
  if (k === "/") { e.preventDefault(); search.open(); }
  else if (k === "?") { e.preventDefault(); $("#help-overlay").hidden = false; }
  else if (k === "j" || k === "J") { e.preventDefault(); move(1); }
  else if (k === "k" || k === "K") { e.preventDefault(); move(-1); }
  else if ((k === "e" || k === "E") && view.id) { e.preventDefault(); view.toggleResolved(); }
  else if ((k === "a" || k === "A") && view.id) { e.preventDefault(); view.assign({user_id: store.me.id}); }
  else if ((k === "r" || k === "R") && view.id) { e.preventDefault(); composer.focus("reply"); }
  else if ((k === "n" || k === "N") && view.id) { e.preventDefault(); composer.focus("note"); }
});

window.addEventListener("hashchange", () => {
  const m = /^#c(\d+)$/.exec(location.hash);
  if (m && Number(m[1]) !== view.id) emit("open", Number(m[1]));
});

window.addEventListener("focus", () => {
  const card = view.id && store.cards.get(view.id);
  if (card && card.unread_count > 0) view.markRead();
});

// ---- resizable columns -------------------------------------------------------------------
function initResizers() {
  const saved = JSON.parse(localStorage.getItem("messenger.cols") || "{}");
  if (saved.list) panel.style.setProperty("--list-w", `${saved.list}px`);
  if (saved.side) panel.style.setProperty("--side-w", `${saved.side}px`);
  $$(".resizer").forEach((bar) => {
    bar.addEventListener("pointerdown", (e) => {
      e.preventDefault();
      bar.setPointerCapture(e.pointerId);
      bar.classList.add("active");
      const which = bar.dataset.resize;
      const moveTo = (ev) => {
        const width = which === "list" ? Math.min(600, Math.max(240, ev.clientX))
          : Math.min(520, Math.max(220, window.innerWidth - ev.clientX));
        panel.style.setProperty(which === "list" ? "--list-w" : "--side-w", `${width}px`);
        saved[which] = width;
      };
      const stop = () => {
        bar.classList.remove("active");
        bar.removeEventListener("pointermove", moveTo);
        localStorage.setItem("messenger.cols", JSON.stringify(saved));
        list.schedule();
      };
      bar.addEventListener("pointermove", moveTo);
      bar.addEventListener("pointerup", stop, {once: true});
    });
  });
}

// ---- start -------------------------------------------------------------------------------
async function start() {
  const dir = await get("/api/v1/directory");
  applyDirectory(dir);
  setLang(dir.me.locale || panel.dataset.lang);  // saved choice, else the admin pages' language switch, else the browser
  translatePage();
  $("#set-lang").value = dir.me.locale || "";
  restoreAvailability(dir.me);
  bindSettings();
  initResizers();
  connectShared({name: "messenger-operator", streamUrl: "/api/v1/stream", pollUrl: "/api/v1/events", position: dir.position,
    onEvent: (kind, data) => { onEvent(kind, data || {}).catch(() => {}); }, onStatus});
  await setTab(localStorage.getItem("messenger.tab") || "waiting");
  refreshCounts();
  const m = /^#c(\d+)$/.exec(location.hash);
  if (m) emit("open", Number(m[1]));
  panel.dataset.ready = "1";
}

start().catch((err) => toast(t("toast.start", {error: err.message}), 10000));
