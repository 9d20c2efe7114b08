// Admin live view: keeps the operators table and the queue current from the operator event stream.
// The page is rendered by the server; after any presence, conversation or queue event (and on
// every (re)connect) this fetches /admin/live.json again and redraws both tables with text
// nodes only (names are user data). Waiting times tick every second against the server's clock.
import { connectShared } from "../common/tabstream.js";

const root = document.getElementById("live");
const KINDS = new Set(["presence.updated", "conversation.created", "conversation.updated", "queue.changed", "resync"]);
const BADGE = { online: "ok", busy: "warn" };
let offset = root && root.dataset.now ? Date.parse(root.dataset.now) - Date.now() : 0;
let timer = null;

function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

function tick() {
  const now = Date.now() + offset;
  for (const cell of document.querySelectorAll("#queue [data-since]")) {
    cell.textContent = duration((now - Date.parse(cell.dataset.since)) / 1000);
  }
}

function td(text, className) {
  const cell = document.createElement("td");
  if (className) cell.className = className;
  cell.textContent = text;
  return cell;
}

function emptyRow(text) {
  const row = document.createElement("tr");
  const cell = td(text, "muted");
  cell.colSpan = 3;
  row.append(cell);
  return row;
}

function operatorRow(op) {
  const row = document.createElement("tr");
  row.dataset.user = op.id;
  row.dataset.availability = op.availability;
  const badge = document.createElement("span");
  badge.className = `badge ${BADGE[op.availability] || "off"}`;
  badge.textContent = root.dataset[`status${op.availability[0].toUpperCase()}${op.availability.slice(1)}`] || op.availability;
  const status = td("");
  status.append(badge);
  const load = td(`${op.open} / ${op.capacity}`, "mono");
  load.dataset.load = "";
  row.append(td(op.name), status, load);
  return row;
}

function queueRow(item) {
  const row = document.createElement("tr");
  row.dataset.conversation = item.id;
  const link = document.createElement("a");
  link.className = "link";
  link.href = `${root.dataset.app}#c${item.id}`;
  link.textContent = `#${item.display_id} ${item.contact}`;
  const first = td("");
  first.append(link);
  const since = td("", "mono");
  since.dataset.since = item.waiting_since;
  row.append(first, td(item.inbox), since);
  return row;
}

function label(id, n) {
  const el = document.getElementById(id);
  el.textContent = el.dataset.label.replace("{n}", String(n));
}

function render(state) {
  const ops = state.operators.map(operatorRow);
  document.querySelector("#operators tbody").replaceChildren(...(ops.length ? ops : [emptyRow(root.dataset.noOperators)]));
  const waiting = state.queue.map(queueRow);
  document.querySelector("#queue tbody").replaceChildren(...(waiting.length ? waiting : [emptyRow(root.dataset.noneWaiting)]));
  label("online-count", state.online);
  label("waiting-count", state.waiting);
  root.dataset.updated = String(Date.now());
  tick();
}

async function refresh() {
  const response = await fetch(root.dataset.url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  if (!response.ok) return;
  const state = await response.json();
  offset = Date.parse(state.now) - Date.now();
  render(state);
}

function soon() {
  clearTimeout(timer);
  timer = setTimeout(() => { refresh().catch(() => {}); }, 200);
}

function showStatus(status) {
  const el = document.getElementById("live-status");
  el.dataset.state = status;
  el.textContent = status === "live" || status === "polling" ? el.dataset.live
    : status === "connecting" ? el.dataset.connecting : el.dataset.offline;
  if (status === "live" || status === "polling") soon();  // catch up on what happened before (re)connecting
}

if (root) {
  connectShared({
    name: "messenger-operator", streamUrl: "/api/v1/stream", pollUrl: "/api/v1/events",
    onEvent: (kind) => { if (KINDS.has(kind)) soon(); },
    onStatus: showStatus,
  });
  setInterval(tick, 1000);
  tick();
}
