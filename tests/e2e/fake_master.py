#!/usr/bin/env python3
"""A stand-in for `qyv master`, for tests/e2e/node.sh: just enough of
docs/api.md for a node (register, heartbeat, bundles), driven by files.

Usage: fake_master.py PORT TOKEN DIR. Answers each node's heartbeat with
DIR/plan.json's entry for that node ({"NODE": {"assignments": [...],
"routes": [...]}}, read again every time), serves DIR/HEX.tar as
GET /v1/bundles/HEX, and writes what each node last reported to
DIR/seen-NODE.json. Every /v1/ call needs "Authorization: Bearer TOKEN"."""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, TOKEN, DIR = int(sys.argv[1]), sys.argv[2], sys.argv[3]


class Master(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body, kind="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def authorised(self):
        if self.headers.get("Authorization") == "Bearer " + TOKEN:
            return True
        self.answer(401, {"error": "bad token"})
        return False

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n) or b"{}")

    def do_GET(self):
        if not self.authorised():
            return
        if self.path.startswith("/v1/bundles/"):
            path = os.path.join(DIR, self.path.rsplit("/", 1)[1] + ".tar")
            if os.path.exists(path):
                self.answer(200, open(path, "rb").read(), "application/x-tar")
                return
        self.answer(404, {"error": "no such thing"})

    def do_POST(self):
        if not self.authorised():
            return
        body = self.body()
        if self.path == "/v1/nodes/register":
            with open(os.path.join(DIR, "registered-%s.json" % body["name"]), "w") as f:
                json.dump(body, f)
            self.answer(200, {"heartbeat_ms": 200})
        elif self.path.startswith("/v1/nodes/") and self.path.endswith("/heartbeat"):
            name = self.path.split("/")[3]
            tmp = os.path.join(DIR, "seen-%s.json.tmp" % name)
            with open(tmp, "w") as f:
                json.dump(body, f)
            os.replace(tmp, os.path.join(DIR, "seen-%s.json" % name))
            try:
                plan = json.load(open(os.path.join(DIR, "plan.json"))).get(name, {})
            except (OSError, ValueError):
                plan = {}
            self.answer(200, {"assignments": plan.get("assignments", []), "routes": plan.get("routes", [])})
        else:
            self.answer(404, {"error": "no such endpoint"})


ThreadingHTTPServer(("127.0.0.1", PORT), Master).serve_forever()
