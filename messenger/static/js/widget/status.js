// Connection state: the banner under the header ("Connecting…", "Connection lost…", "Back online").

import {$} from "./dom.js";
import {t} from "./i18n.js";
import {emit, state} from "./state.js";

let bannerTimer = 0;

/** Show `text` in the banner (hide it when empty); an `ok` banner fades after 2.5 s. */
export function banner(text, ok) {
  const b = $("banner");
  clearTimeout(bannerTimer);
  b.hidden = !text;
  b.textContent = text || "";
  b.className = ok ? "ok" : "";
  if (ok) bannerTimer = setTimeout(() => { b.hidden = true; }, 2500);
}

/** Record the connection state; coming back emits "online" (the outbox flushes). */
export function setOnline(up) {
  const was = state.online;
  state.online = up;
  if (!up) banner(navigator.onLine ? t("lost") : t("offline"));
  else if (!was) { banner(t("back"), true); emit("online"); }
}

export function watchConnection() {
  addEventListener("online", () => emit("online"));
  addEventListener("offline", () => setOnline(false));
  // The online/offline events are not delivered to every frame reliably: look every 2 s as well.
  setInterval(() => {
    if (!navigator.onLine && state.online) setOnline(false);
    else if (navigator.onLine && state.outbox.length) emit("online");
  }, 2000);
}
