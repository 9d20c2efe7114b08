// The composer: Enter sends (Shift+Enter: new line), typing indicator, files by button, drop or paste.

import {$} from "./dom.js";
import {queueMessage, sendFiles} from "./outbox.js";
import {api} from "./api.js";
import {state} from "./state.js";

let typingAt = 0;
let typingTimer = 0;

function typing(on) {
  if (!state.conv || state.conv.status === "resolved") return;
  const now = Date.now();
  if (on && now - typingAt < 3000) return;
  typingAt = on ? now : 0;
  api("POST", `/conversations/${state.conv.id}/typing`, {on}).catch(() => {});
}

export function bindComposer() {
  $("composer").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("input").value.trim();
    if (!text) return;
    $("input").value = "";
    typing(false);
    queueMessage(text);
  });
  $("input").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); $("composer").requestSubmit(); }
  });
  $("input").addEventListener("input", () => {
    typing(true);
    clearTimeout(typingTimer);
    typingTimer = setTimeout(() => typing(false), 4000);
  });
  $("attach").onclick = () => $("file").click();
  $("file").onchange = () => { sendFiles([...$("file").files]); $("file").value = ""; };
  addEventListener("dragover", (e) => { e.preventDefault(); $("drop").hidden = false; });
  addEventListener("dragleave", (e) => { if (!e.relatedTarget) $("drop").hidden = true; });
  addEventListener("drop", (e) => {
    e.preventDefault();
    $("drop").hidden = true;
    if (e.dataTransfer.files.length) sendFiles([...e.dataTransfer.files]);
  });
  $("input").addEventListener("paste", (e) => {
    const files = [...(e.clipboardData ? e.clipboardData.files : [])];
    if (files.length) { e.preventDefault(); sendFiles(files); }
  });
}
