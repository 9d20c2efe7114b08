// The panel's live feed: the shared one-stream-per-browser client when present
// (static/js/shared/tabstream.js, then stream.js), else a plain EventSource.

const KINDS = ["message.created", "message.updated", "conversation.created", "conversation.updated",
  "attachment.updated", "contact.updated", "contact.session", "presence.updated", "csat.created",
  "typing", "presence", "resync"];

function plainEventSource({onEvent, onStatus}) {
  const es = new EventSource("/api/v1/stream");
  for (const kind of KINDS) {
    es.addEventListener(kind, (e) => {
      let data = {};
      try { data = JSON.parse(e.data || "{}"); } catch (err) { data = {}; }
      onEvent(kind, data);
    });
  }
  es.addEventListener("ready", () => onStatus("live"));
  es.onerror = () => onStatus("reconnecting");
  return {close: () => es.close()};
}

/** Connect and call onEvent(kind, data) for each event; onStatus("live" | "reconnecting" | …). */
export async function connectStream({onEvent, onStatus}) {
  const options = {
    streamUrl: "/api/v1/stream", pollUrl: "/api/v1/events",
    onEvent: (kindOrEvent, maybeData) => {
      if (typeof kindOrEvent === "string") onEvent(kindOrEvent, maybeData || {});
      else if (kindOrEvent) onEvent(kindOrEvent.kind || kindOrEvent.event, kindOrEvent.data || {});
    },
    onStatus: (s) => onStatus(typeof s === "string" ? s : (s && (s.state || s.status)) || "live"),
  };
  for (const path of ["../shared/tabstream.js", "../shared/stream.js"]) {
    let mod = null;
    try { mod = await import(path); } catch (e) { mod = null; }
    if (mod && typeof mod.connect === "function") return mod.connect(options);
  }
  return plainEventSource({onEvent, onStatus});
}
