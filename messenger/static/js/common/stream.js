/**
 * Realtime client shared by the operator panel and the widget (vanilla ES module, no build).
 *
 *   import { connect } from "/static/js/common/stream.js";
 *   const live = connect({
 *     streamUrl: "/api/v1/stream",        // SSE endpoint ("/widget/api/v1/stream" for visitors)
 *     pollUrl: "/api/v1/events",          // long-poll fallback endpoint
 *     getTicket: async () => ticket,      // widget only: a fresh stream ticket (added as ?ticket=)
 *     headers: () => ({...}),             // widget only: headers for long-poll (X-Visitor-Token)
 *     position: 1234,                     // last position you applied (null/undefined: start live)
 *     onEvent: (kind, data, id) => {},    // every log event once, in order; id = position
 *     onStatus: (status, detail) => {},   // "connecting" | "live" | "polling" | "offline" | "unauthorized"
 *     streamRetryMs: 60000,               // optional: while polling, how often to try the stream again
 *   });
 *   live.position; live.mode; live.close();
 *
 * Kinds: the log kinds of docs/event-log.md (message.created, conversation.updated, ...),
 * "typing" (ephemeral, id null; hide it after data.expires_in seconds without refresh) and
 * "resync" (the gap was pruned: refetch your state; the position moves to data.position).
 *
 * Typing indicators: feed "typing" events to createTypingTracker({onChange}); it calls
 * onChange(conversationId, typers) whenever the set of people typing there changes,
 * including when an indicator expires (data.expires_in seconds without a refresh).
 *
 * Behaviour: EventSource with reconnect and exponential backoff (fresh ticket, ?after=
 * the last position each time); a watchdog on the server's named heartbeat catches
 * half-open connections; after 3 failed stream attempts it long-polls, and tries the
 * stream again every minute. Events are de-duplicated by position across reconnects and
 * modes. A revoked session / ticket ends with status "unauthorized" (no retry loop). A stream
 * closed as "replaced" (the client holds too many) continues by long-polling.
 */

export const KINDS = [
  "message.created", "message.updated", "conversation.created", "conversation.updated",
  "attachment.updated", "contact.updated", "contact.session", "presence.updated",
  "csat.created", "queue.changed", "directory.changed", "typing",
];

const MAX_STREAM_FAILURES = 3;
const READY_TIMEOUT_MS = 10000;
const STREAM_RETRY_FROM_POLL_MS = 60000;
const MAX_BACKOFF_MS = 30000;

function backoff(failures) {
  const base = Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.max(0, failures - 1));
  return base * (0.75 + Math.random() / 2);
}

function withQuery(url, params) {
  const query = Object.entries(params)
    .filter(([, value]) => value !== null && value !== undefined)
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`)
    .join("&");
  if (!query) return url;
  return url + (url.includes("?") ? "&" : "?") + query;
}

export function connect(options) {
  const { streamUrl, pollUrl, getTicket, onEvent = () => {}, onStatus = () => {} } = options;
  const extraKinds = options.kinds || [];
  let position = options.position ?? null;
  let mode = "stream";
  let status = null;
  let failures = 0;
  let closed = false;
  let source = null;
  let timer = null;
  let watchdog = null;
  let heartbeatMs = 60000;
  let pollController = null;
  let lastStreamTry = 0;

  function setStatus(next, detail) {
    if (next === status && detail === undefined) return;
    status = next;
    onStatus(next, detail);
  }

  function deliver(kind, data, id) {
    if (id !== null && id !== undefined) {
      if (position !== null && id <= position) return; // already applied (replay overlap)
      position = id;
    }
    onEvent(kind, data, id ?? null);
  }

  function resync(data) {
    position = data.position;
    onEvent("resync", data, data.position);
  }

  function clearTimers() {
    clearTimeout(timer);
    clearTimeout(watchdog);
    timer = watchdog = null;
  }

  function armWatchdog(ms) {
    clearTimeout(watchdog);
    watchdog = setTimeout(() => streamFailed(true), ms);
  }

  function stopSource() {
    if (source) {
      source.close();
      source = null;
    }
  }

  function streamFailed(countIt) {
    stopSource();
    clearTimers();
    if (closed) return;
    if (countIt) failures += 1;
    if (failures >= MAX_STREAM_FAILURES) {
      startPolling();
      return;
    }
    setStatus("connecting");
    timer = setTimeout(openStream, backoff(failures));
  }

  function unauthorized(detail) {
    close();
    setStatus("unauthorized", detail);
  }

  async function openStream() {
    if (closed) return;
    mode = "stream";
    lastStreamTry = Date.now();
    setStatus(status === "polling" ? "polling" : "connecting");
    let ticket = null;
    if (getTicket) {
      try {
        ticket = await getTicket();
      } catch (err) {
        if (err && (err.status === 401 || err.status === 403)) return unauthorized(err);
        return streamFailed(true);
      }
      if (closed) return;
    }
    const url = withQuery(streamUrl, { ticket, after: position });
    let ready = false;
    const es = new EventSource(url);
    source = es;
    armWatchdog(READY_TIMEOUT_MS); // a buffering proxy never lets "ready" through
    const alive = () => armWatchdog(heartbeatMs * 1.5 + 5000);
    es.addEventListener("ready", (e) => {
      const data = JSON.parse(e.data);
      ready = true;
      failures = 0;
      heartbeatMs = (data.heartbeat || 60) * 1000;
      if (position === null) position = data.position;
      if (pollController) pollController.abort();
      alive();
      setStatus("live");
    });
    es.addEventListener("heartbeat", alive);
    es.addEventListener("resync", (e) => { alive(); resync(JSON.parse(e.data)); });
    es.addEventListener("closed", (e) => {
      const data = JSON.parse(e.data);
      if (data.reason === "revoked") return unauthorized(data);
      if (data.reason === "replaced") {
        // Too many streams from this client (other tabs): long-poll instead of taking one back.
        stopSource();
        clearTimers();
        lastStreamTry = Date.now();
        return startPolling();
      }
      streamFailed(false); // overflow or shutdown: reconnect and replay from our position
    });
    for (const kind of KINDS.concat(extraKinds)) {
      es.addEventListener(kind, (e) => {
        alive();
        deliver(kind, JSON.parse(e.data), e.lastEventId && kind !== "typing" ? Number(e.lastEventId) : null);
      });
    }
    es.onerror = () => {
      if (source !== es) return;
      // Never let the browser retry by itself: a ticket expires, and we want ?after= our position.
      streamFailed(!ready);
    };
  }

  async function pollOnce() {
    pollController = new AbortController();
    const headers = typeof options.headers === "function" ? options.headers() : options.headers || {};
    const response = await fetch(withQuery(pollUrl, { after: position }), {
      headers: { Accept: "application/json", ...headers },
      credentials: "same-origin",
      signal: pollController.signal,
    });
    if (response.status === 401 || response.status === 403) {
      unauthorized({ status: response.status });
      return false;
    }
    if (!response.ok) throw new Error(`poll failed: ${response.status}`);
    const body = await response.json();
    if (body.resync) {
      resync({ position: body.position });
      return true;
    }
    for (const event of body.events) deliver(event.kind, event.data, event.id);
    if (position === null || body.position > position) position = body.position;
    return true;
  }

  async function startPolling() {
    if (closed || mode === "poll") return;
    mode = "poll";
    setStatus("polling");
    let errors = 0;
    while (!closed && mode === "poll") {
      if (Date.now() - lastStreamTry > (options.streamRetryMs ?? STREAM_RETRY_FROM_POLL_MS)) {
        failures = MAX_STREAM_FAILURES - 1; // one more failure brings us back here
        openStream();
        return;
      }
      try {
        if (!(await pollOnce())) return;
        errors = 0;
        setStatus("polling");
      } catch (err) {
        if (closed || (err && err.name === "AbortError")) return;
        errors += 1;
        setStatus("offline", err);
        await new Promise((resolve) => { timer = setTimeout(resolve, backoff(errors)); });
      }
    }
  }

  function close() {
    closed = true;
    clearTimers();
    stopSource();
    if (pollController) pollController.abort();
  }

  if (typeof window !== "undefined") {
    window.addEventListener("online", () => {
      if (!closed && mode === "stream" && !source) {
        clearTimeout(timer);
        openStream();
      }
    });
  }
  openStream();
  return {
    close,
    get position() { return position; },
    get mode() { return mode; },
    get status() { return status; },
  };
}

function typerKey(data) {
  return data.from === "operator" && data.user_id != null ? `operator:${data.user_id}` : `${data.from}:${data.name || ""}`;
}

export function createTypingTracker({ onChange = () => {} } = {}) {
  const byConversation = new Map(); // conversation id -> Map(key -> {data, timer})

  function changed(conversationId) {
    const typers = byConversation.get(conversationId);
    onChange(conversationId, typers ? [...typers.values()].map((t) => t.data) : []);
  }

  function drop(conversationId, key) {
    const typers = byConversation.get(conversationId);
    if (!typers || !typers.has(key)) return;
    clearTimeout(typers.get(key).timer);
    typers.delete(key);
    if (!typers.size) byConversation.delete(conversationId);
    changed(conversationId);
  }

  function handle(data) {
    const conversationId = data.conversation_id;
    const key = typerKey(data);
    if (!data.on) return drop(conversationId, key);
    let typers = byConversation.get(conversationId);
    if (!typers) byConversation.set(conversationId, (typers = new Map()));
    const known = typers.get(key);
    if (known) clearTimeout(known.timer);
    const timer = setTimeout(() => drop(conversationId, key), (data.expires_in || 6) * 1000);
    typers.set(key, { data, timer });
    if (!known) changed(conversationId);
  }

  return {
    handle,
    typing: (conversationId) => [...(byConversation.get(conversationId)?.values() || [])].map((t) => t.data),
  };
}
