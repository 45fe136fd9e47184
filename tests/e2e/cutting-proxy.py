#!/usr/bin/env python3
"""Serves one file over HTTP for the install test, and cuts the first full download after
CUT bytes (the connection simply closes, as when anemosd restarts mid-transfer). Later
requests get what they ask for, honouring a single Range. Usage: cutting-proxy.py PORT FILE CUT
"""
import http.server
import os
import sys

PORT, PATH, CUT = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
state = {"cut": False}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        size = os.path.getsize(PATH)
        start, status = 0, 200
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and rng.endswith("-"):
            start, status = int(rng[6:-1]), 206
        self.send_response(status)
        self.send_header("Content-Length", str(size - start))
        if status == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, size - 1, size))
        self.end_headers()
        with open(PATH, "rb") as f:
            f.seek(start)
            sent = 0
            while True:
                chunk = f.read(65536)
                if not chunk:
                    break
                if not state["cut"] and status == 200 and sent + len(chunk) > CUT:
                    self.wfile.write(chunk[: CUT - sent])
                    self.wfile.flush()
                    state["cut"] = True
                    sys.stderr.write("cut the download at %d bytes\n" % CUT)
                    self.close_connection = True
                    return
                self.wfile.write(chunk)
                sent += len(chunk)
        sys.stderr.write("served %s from %d (%d)\n" % (PATH, start, status))

    def log_message(self, fmt, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
