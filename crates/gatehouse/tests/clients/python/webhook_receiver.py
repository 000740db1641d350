"""A webhook receiver that verifies every delivery with the Standard Webhooks library from PyPI
(`standardwebhooks`), unchanged, as a receiver of gatehouse's webhooks would.

Usage: webhook_receiver.py SECRET COUNT
Prints `listening PORT`, then one JSON line per request received ({"id", "type", "verified",
"error"}), answering 204 to a verified delivery and 401 to any other, and exits after COUNT
verified deliveries.
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

SECRET, COUNT = sys.argv[1], int(sys.argv[2])
verified = 0


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        global verified
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        headers = {k: v for k, v in self.headers.items()}
        try:
            payload = Webhook(SECRET).verify(body, headers)
            ok, error, kind = True, None, payload.get("type")
        except WebhookVerificationError as err:
            ok, error, kind = False, str(err), None
        self.send_response(204 if ok else 401)
        self.end_headers()
        print(json.dumps({"id": headers.get("webhook-id") or headers.get("Webhook-Id"),
                          "type": kind, "verified": ok, "error": error}), flush=True)
        if ok:
            verified += 1

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", 0), Handler)
print(f"listening {server.server_address[1]}", flush=True)
while verified < COUNT:
    server.handle_request()
