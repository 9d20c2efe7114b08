"""Malformed input on every JSON API route gets a clear 4xx, never a 500 (cases 17, 26 in docs/security.md).

The routes come from the URL map, so a new endpoint is covered the day it lands. The
streaming endpoints are left to the realtime tests, which run them under gevent.
"""
from __future__ import annotations

import itertools
from collections import Counter

import pytest

from messenger.extensions import limiter
from messenger.openapi import api_operations
from tests.helpers import api_principals

SITE = "http://site.test"
BODIES = [None, "[]", '"x"', "{", "null", '{"content": [1], "client_id": {}}', '{"version": "1", "status": 5}',
          '{"user_id": true, "team_id": "x"}', '{"rating": 1e99, "on": "yes"}', '{"ids": "abc", "fields": []}',
          '{"inbox": [], "token": 5, "url": {}}', '{"labels": ["a"], "priority": -1}',
          '{"identifier": 1, "identifier_hash": []}', '{"email": 7, "message": null}', '{"availability": []}',
          '{"custom_attributes": [1]}', '{"snoozed_until": "not a date", "status": "snoozed"}',
          '{"content": "' + "x" * 30000 + '", "client_id": "00000000-0000-0000-0000-000000000000"}']
QUERIES = ["", "?after=-1", "?after=abc", "?cursor=zzz&limit=0", "?before=x&limit=99999", "?q=%00", "?inbox=%ff",
           "?sort=id;--", "?before_id=99999999999999999999", "?status[]=1", "?priority=9&tab=x"]
SKIP = ("/stream", "/events", "/reset")


@pytest.mark.committing
def test_malformed_bodies_and_queries_never_reach_a_500(app, client):
    conv, headers = api_principals(client, SITE)
    failures, codes = [], Counter()
    limiter.enabled = False  # every request must reach its view, not a 429
    try:
        for method, path, _ in api_operations(app):
            if path.endswith(SKIP):
                continue
            url = (path.replace("{conversation_id}", str(conv.id)).replace("{contact_id}", str(conv.contact_id))
                   .replace("{key}", "no-such-key").replace("{message_id}", "1"))
            cases = itertools.product([None, "[]"], QUERIES) if method == "GET" else ((b, "") for b in BODIES)
            for body, query in cases:
                resp = client.open(url + query, method=method, data=body, headers=headers)
                codes[resp.status_code // 100] += 1
                if resp.status_code >= 500:
                    failures.append((method, url + query, (body or "")[:60], resp.status_code))
                elif resp.status_code >= 400:
                    assert resp.is_json and "error" in resp.get_json(), (method, url + query, resp.status_code)
    finally:
        limiter.enabled = True
    assert failures == []
    assert codes[4] > 300 and codes[2] > 100  # both refusals and successes were exercised
