// Activity lines ("Anna resolved the conversation") in the operator's language, built from
// the structured content_attributes the server stores with each line (docs/contracts.md,
// "Activity lines"). Names come from the directory (operators, teams) or the data itself;
// a line whose data this panel cannot read falls back to its stored English text.

import {dateTime} from "./dom.js";
import {t} from "./i18n.js";
import {operatorName, teamName} from "./store.js";

const name = (id, stored) => (id ? operatorName(id) : stored || "");

function statusLine(a) {
  if (!a.by) return a.status === "open" ? t("act.reopenedByVisitor") : null;
  const by = name(a.by, a.by_name);
  if (a.status === "snoozed") return a.until ? t("act.snoozedUntil", {by, until: dateTime(a.until)}) : t("act.snoozed", {by});
  if (["resolved", "open", "pending"].includes(a.status)) return t(`act.status.${a.status}`, {by});
  return null;
}

function assignmentLine(a) {
  const next = a.assignee_id ? name(a.assignee_id) : null;
  if (!a.by) {  // the router
    if (!next) return null;
    const reason = a.reason ? t(`act.reason.${a.reason}`) : "";
    return reason ? t("act.autoReason", {name: next, reason}) : t("act.auto", {name: next});
  }
  // A manual change: who changed, then the team, joined like the server's English line.
  const by = name(a.by);
  const old = a.previous_assignee_id ? name(a.previous_assignee_id) : null;
  const parts = [];
  if ((a.assignee_id || null) !== (a.previous_assignee_id || null)) {
    if (!next) parts.push(t("act.unassigned", {by, old}));
    else if (a.assignee_id === a.by) parts.push(old ? t("act.tookFrom", {by, old}) : t("act.took", {by}));
    else parts.push(t(old ? "act.transferred" : "act.assigned", {by, name: next}));
  }
  if ("previous_team_id" in a) {
    if (a.team_id && a.team_id !== a.previous_team_id) parts.push(t("act.team", {by, team: teamName(a.team_id)}));
    else if (!a.team_id && a.previous_team_id && a.assignee_id === a.previous_assignee_id) parts.push(t("act.teamRemoved", {by}));
    if (!parts.length) parts.push(t("act.note", {by}));
  }
  return parts.length ? parts.join("; ") : null;
}

function requeueLine(a) {
  if (!a.previous_assignee_id || !a.reason) return null;
  const key = {deactivated: "act.requeueDeactivated", removed_from_inbox: "act.requeueRemoved"}[a.reason] || "act.requeueOffline";
  return t(key, {name: name(a.previous_assignee_id)});
}

/** "5 minutes" / "5 мин": the first-reply timeout of an escalation. */
function duration(seconds) {
  const minutes = Math.round(seconds / 60);
  return seconds >= 60 && seconds % 60 === 0 ? t("act.minutes", {n: minutes}) : t("act.seconds", {n: seconds});
}

function escalationLine(a) {
  if (!a.previous_assignee_id || a.timeout_s === undefined) return null;
  const wait = duration(a.timeout_s), old = name(a.previous_assignee_id);
  if (a.assignee_id && a.assignee_id !== a.previous_assignee_id) {
    return t("act.escalated", {wait, old, name: name(a.assignee_id)});
  }
  if (a.outcome === "team_notified" && a.team_id) return t("act.escalationTeam", {wait, old, team: teamName(a.team_id)});
  if (a.outcome === "nobody_free") return t("act.escalationNobody", {wait, old});
  if (a.outcome === "notified") return t("act.escalationNotified", {wait, old});
  return null;
}

function mergedLine(a) {
  return a.into_display_id ? t("act.merged", {n: a.into_display_id}) : null;
}

const LINES = {status: statusLine, assignment: assignmentLine, requeue: requeueLine, escalation: escalationLine,
  merged: mergedLine};

/** The text of an activity message in the panel's language. */
export function activityLine(m) {
  const a = m.content_attributes || {};
  const render = LINES[a.event];
  return (render && render(a)) || m.content;
}
