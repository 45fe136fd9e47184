"""A webhook receiver for the tests: logs each POST (headers and body) as a JSON line.

usage: webhook-receiver.py PORT_FILE LOG MODE_FILE
Listens on a free loopback port (written to PORT_FILE). MODE_FILE says how to answer, read
at each request: "ok" (204), "500" (500 with a short text), "hang" (sleeps 30 s and answers
nothing). LOG gets the requests answered 204, LOG.attempts every request (with the mode).
"""
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port_file, log, mode_file = sys.argv[1:4]


def mode():
    try:
        with open(mode_file) as f:
            return f.read().strip() or "ok"
    except OSError:
        return "ok"


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        record = {"path": self.path, "headers": dict(self.headers.items()),
                  "body": body.decode("utf-8", "replace")}
        m = mode()
        with open(log + ".attempts", "a") as f:
            f.write(json.dumps(dict(record, mode=m)) + "\n")
        if m == "hang":  # the client has given up by then: nothing is accepted
            time.sleep(30)
            return
        if m == "500":
            self.send_response(500)
            self.send_header("Content-Length", "12")
            self.end_headers()
            self.wfile.write(b"receiver sad")
            return
        with open(log, "a") as f:
            f.write(json.dumps(record) + "\n")
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("RECEIVER_PORT", "0"))), Handler)
server.daemon_threads = True
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
