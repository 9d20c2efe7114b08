// Shared panel state: the signed-in operator, the pickers' lists, conversation cards by id.

import {t} from "./i18n.js";

export const store = {
  me: null,            // {id, name, role, availability, …}
  directory: {inboxes: [], operators: [], teams: [], labels: []},
  cards: new Map(),    // conversation id -> card (operator shape + contact + labels)
  counts: null,        // {waiting, mine, unassigned, all} under the current filters
  bus: new EventTarget(),
};

export function emit(name, detail) { store.bus.dispatchEvent(new CustomEvent(name, {detail})); }
export function on(name, fn) { store.bus.addEventListener(name, (e) => fn(e.detail)); }

export const byId = (list, id) => list.find((x) => x.id === id) || null;
export const operatorName = (id) => (byId(store.directory.operators, id) || {}).name || (id ? `Operator #${id}` : "");
export const inboxName = (id) => (byId(store.directory.inboxes, id) || {}).name || `Inbox #${id}`;
export const teamName = (id) => (byId(store.directory.teams, id) || {}).name || "";

/** Merge an event payload or API card into the stored card; keeps the contact summary. */
export function mergeCard(data) {
  const old = store.cards.get(data.id);
  if (old && data.version !== undefined && old.version > data.version) return old;  // late, older state
  const card = Object.assign({}, old || {}, data);
  if (!data.contact && old) card.contact = old.contact;
  store.cards.set(card.id, card);
  return card;
}

export const priorityName = (n) => (n ? t(`prio.${n}`) : "");
export const statusName = (status) => t(`status.${status}`);

/** A conversation nobody has taken yet, queued (pending) or open: what the Waiting tab lists. */
export const isWaiting = (card) => !card.assignee_id && (card.status === "open" || card.status === "pending");
