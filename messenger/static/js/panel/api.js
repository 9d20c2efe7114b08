// JSON calls to the operator API: CSRF header on every state change, errors as ApiError.

const CSRF = document.querySelector('meta[name="csrf-token"]')?.content || "";

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `Request failed (${status})`);
    this.status = status;
    this.code = (body && body.error) || "error";
    this.body = body || {};
  }
}

/** fetch + JSON; throws ApiError on non-2xx, redirects to /login on 401. */
export async function api(method, path, body, params) {
  let url = path;
  if (params) {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") qs.set(k, v);
    const s = qs.toString();
    if (s) url += (url.includes("?") ? "&" : "?") + s;
  }
  const init = {method, credentials: "same-origin", headers: {Accept: "application/json"}};
  if (method !== "GET") init.headers["X-CSRFToken"] = CSRF;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(url, init);
  let data = null;
  try { data = await resp.json(); } catch (e) { data = null; }
  if (resp.status === 401) { location.href = "/login?next=/app"; }
  if (!resp.ok) throw new ApiError(resp.status, data);
  return data;
}

export const get = (path, params) => api("GET", path, undefined, params);
export const post = (path, body) => api("POST", path, body === undefined ? {} : body);
export const put = (path, body) => api("PUT", path, body);
export const patch = (path, body) => api("PATCH", path, body);
export const csrfToken = () => CSRF;
