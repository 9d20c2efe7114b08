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
  const by = name(a.by);
  const old = a.previous_assignee_id ? name(a.previous_assignee_id) : null;
  if ("previous_team_id" in a && a.team_id && a.team_id !== a.previous_team_id && a.assignee_id === a.previous_assignee_id) {
    return t("act.team", {by, team: teamName(a.team_id)});
  }
  if (a.assignee_id === a.previous_assignee_id) return null;  // a team or note change this panel cannot word
  if (!next) return t("act.unassigned", {by, old});
  if (a.assignee_id === a.by) return old ? t("act.tookFrom", {by, old}) : t("act.took", {by});
  return t(old ? "act.transferred" : "act.assigned", {by, name: next});
}

function requeueLine(a) {
  if (!a.previous_assignee_id || !a.reason) return null;
  return t(a.reason === "deactivated" ? "act.requeueDeactivated" : "act.requeueOffline", {name: name(a.previous_assignee_id)});
}

function escalationLine(a) {
  if (a.assignee_id && a.previous_assignee_id && a.assignee_id !== a.previous_assignee_id) {
    return t("act.escalated", {old: name(a.previous_assignee_id), name: name(a.assignee_id)});
  }
  return null;
}

const LINES = {status: statusLine, assignment: assignmentLine, requeue: requeueLine, escalation: escalationLine};

/** The text of an activity message in the panel's language. */
export function activityLine(m) {
  const a = m.content_attributes || {};
  const render = LINES[a.event];
  return (render && render(a)) || m.content;
}
