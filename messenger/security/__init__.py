"""Security helpers: rate-limit keys, origins, identity, tokens, sanitising, headers. No DB writes."""
