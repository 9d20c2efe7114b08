/**
 * One realtime stream per browser for the operator panel (vanilla ES module, no build).
 *
 *   import { connectShared } from "/static/js/common/tabstream.js";
 *   const live = connectShared({
 *     name: "messenger-operator",          // lock + channel name (one per audience)
 *     streamUrl: "/api/v1/stream", pollUrl: "/api/v1/events",
 *     position: 1234,                      // last applied position, as for connect()
 *     onEvent: (kind, data, id) => {},     // same contract as stream.js connect()
 *     onStatus: (status, detail) => {},    // same statuses; followers mirror the leader's
 *     onRole: (role) => {},                // "leader" | "follower"
 *   });
 *   live.isLeader(); live.position; live.close();
 *
 * Browsers cap HTTP/1.1 SSE at 6 connections per origin across tabs (MDN: EventSource, without HTTP/2), so
 * tabs elect one leader with the Web Locks API (navigator.locks). The leader holds the
 * stream (stream.js) and forwards every event over a BroadcastChannel; the other tabs
 * only listen. When the leader tab closes, its lock is released and a waiting tab takes
 * over, reconnecting from the newest position it has seen, so nothing is lost and
 * duplicates are dropped by position. Without Web Locks or BroadcastChannel every tab
 * simply holds its own stream.
 */
import { connect } from "./stream.js";

export function connectShared(options) {
  const { name = "messenger-stream", onEvent = () => {}, onStatus = () => {}, onRole = () => {} } = options;
  if (typeof navigator === "undefined" || !navigator.locks || typeof BroadcastChannel === "undefined") {
    const own = connect(options);
    onRole("leader");
    return { close: () => own.close(), isLeader: () => true, get position() { return own.position; } };
  }
  const channel = new BroadcastChannel(name);
  let position = options.position ?? null;
  let leader = false;
  let closed = false;
  let inner = null;
  let lastStatus = null;
  let release = null;

  function apply(kind, data, id) {
    if (id !== null && id !== undefined) {
      if (kind === "resync") {
        position = id;
      } else {
        if (position !== null && id <= position) return;
        position = id;
      }
    }
    onEvent(kind, data, id ?? null);
  }

  function status(value, detail) {
    lastStatus = value;
    onStatus(value, detail);
  }

  channel.onmessage = (message) => {
    const msg = message.data || {};
    if (msg.type === "event" && !leader) apply(msg.kind, msg.data, msg.id);
    else if (msg.type === "status" && !leader) status(msg.status);
    else if (msg.type === "hello" && leader && lastStatus) channel.postMessage({ type: "status", status: lastStatus });
  };

  onRole("follower");
  channel.postMessage({ type: "hello" });
  navigator.locks.request(name, async () => {
    if (closed) return;
    leader = true;
    onRole("leader");
    inner = connect({
      ...options,
      position,
      onEvent: (kind, data, id) => {
        apply(kind, data, id);
        channel.postMessage({ type: "event", kind, data, id });
      },
      onStatus: (value, detail) => {
        status(value, detail);
        channel.postMessage({ type: "status", status: value });
      },
    });
    // Hold the lock (and the stream) until this tab closes or close() is called.
    await new Promise((resolve) => { release = resolve; });
    inner.close();
    leader = false;
  });

  return {
    close() {
      closed = true;
      if (release) release();
      channel.close();
    },
    isLeader: () => leader,
    get position() { return position; },
  };
}
