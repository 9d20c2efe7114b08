// Messages to the host page's loader: postMessage only to the origin the server saw (state.parent).

import {state} from "./state.js";

export function post(type, data) {
  if (state.parent && window.parent !== window) window.parent.postMessage({msgr: 1, t: type, d: data}, state.parent);
}
