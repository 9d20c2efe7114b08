// Widget frame bootstrap: wires the modules together and starts the session.
//
//   state.js       the one state object (every field declared there) and the event bus
//   session.js     POST /session, the inbox config, adopt a session
//   conversation.js  the current conversation, older pages, read receipts
//   messages.js    the message list (bubbles, attachments, signed URLs)
//   live.js        the realtime stream and how each event changes the state
//   outbox.js      sending with an offline queue, file uploads
//   forms.js       queue line, pre-chat, offline form, CSAT under the conversation
//   composer.js    the text box, typing indicator, attach/drop/paste
//   bridge.js      postMessage with the host page's loader
//   status.js      the connection banner
// Every piece of user text reaches the page through textContent (dom.js).

import {bindComposer} from "./composer.js";
import {watchConversation} from "./conversation.js";
import {$} from "./dom.js";
import {showPanel} from "./forms.js";
import {listenToHost} from "./bridge.js";
import {render} from "./messages.js";
import {flush, retry} from "./outbox.js";
import {applyConfig, start} from "./session.js";
import {on} from "./state.js";
import {KEYS, forget} from "./storage.js";
import {watchConnection} from "./status.js";

on("changed", (detail) => {
  if (!(detail && detail.panelOnly)) render();
  showPanel();
});
on("online", () => flush());
on("retry", (clientId) => retry(clientId));
on("unauthorized", () => { forget(KEYS.session); start(); });

watchConnection();
watchConversation();
bindComposer();
listenToHost();
applyConfig({color: null, business_hours: {open: true}, available: null});
$("composer").hidden = false;  // hidden in the HTML until this script runs
render();
start();
