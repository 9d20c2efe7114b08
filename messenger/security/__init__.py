"""Security helpers: tokens, origins, rate-limit keys, body limits, headers, redirects, signed attachment
URLs, image metadata, HTML sanitising. No DB writes (visitor identity rules live in services/contacts.py)."""
