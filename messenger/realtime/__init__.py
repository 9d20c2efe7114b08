"""Realtime: the event log reader, the per-process LISTEN hub, SSE framing, replay, access rules."""
