// Notifications for the operator: browser notification + sound (configurable), a count in the title.
// New conversations waiting for someone alert by default ("all"): a fresh operator must notice them.

import {$} from "./dom.js";
import {t} from "./i18n.js";

const KEY = "messenger.notify";
const DEFAULTS = {notify: true, sound: true, all: true};

export function settings() {
  try { return Object.assign({}, DEFAULTS, JSON.parse(localStorage.getItem(KEY) || "{}")); } catch (e) { return {...DEFAULTS}; }
}

export function bindSettings() {
  const s = settings();
  const boxes = {notify: $("#set-notify"), sound: $("#set-sound"), all: $("#set-all")};
  for (const [k, el] of Object.entries(boxes)) {
    el.checked = !!s[k];
    el.addEventListener("change", () => {
      const next = settings();
      next[k] = el.checked;
      localStorage.setItem(KEY, JSON.stringify(next));
      if (k === "notify" && el.checked && "Notification" in window && Notification.permission === "default") {
        Notification.requestPermission().then(describePermission);
      }
    });
  }
  describePermission();
}

export function describePermission() {
  const el = $("#notify-permission");
  if (!("Notification" in window)) { el.textContent = t("perm.none"); return; }
  el.textContent = t(`perm.${Notification.permission}`);
}

let audio = null;
function beep() {
  try {
    audio = audio || new AudioContext();
    const osc = audio.createOscillator(), gain = audio.createGain();
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.0001, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.15, audio.currentTime + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.35);
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.4);
  } catch (e) { /* audio is optional */ }
}

/** Tell the operator about something new; ``tag`` de-duplicates across tabs. */
export function alertOperator({title, body, tag, onClick, mine}) {
  const s = settings();
  if (!mine && !s.all) return;
  const visibleAndFocused = document.visibilityState === "visible" && document.hasFocus();
  if (s.sound) beep();
  if (s.notify && !visibleAndFocused && "Notification" in window && Notification.permission === "granted") {
    const n = new Notification(title, {body, tag});
    n.onclick = () => { window.focus(); onClick && onClick(); n.close(); };
  }
}

/** "(n) Messenger": conversations that need this operator (waiting ones + their own with unread messages). */
export function setTitleCount(n) {
  document.title = n > 0 ? `(${n}) Messenger` : "Messenger";
}
