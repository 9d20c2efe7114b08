// JSON calls to the widget API with the visitor token; errors carry {status, code, field} or {network}.

import {API, state} from "./state.js";

export async function api(method, path, body) {
  let resp;
  try {
    resp = await fetch(API + path, {
      method,
      headers: {"Content-Type": "application/json", ...(state.token ? {"X-Visitor-Token": state.token} : {})},
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw Object.assign(new Error("network"), {network: true});
  }
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    throw Object.assign(new Error(data.message || resp.statusText), {status: resp.status, code: data.error, field: data.field});
  }
  return data;
}
