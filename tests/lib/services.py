# SPDX-License-Identifier: MIT
"""Controllable stand-ins for a region's services, for tests and the demo."""
import http.server
import threading


class Service:
    """An HTTP health endpoint per region: 200 unless told to fail, for
    everyone or only for some observers (by the X-Baton-Observer header)."""

    def __init__(self, port):
        self.port = port
        self.fail = False
        self.fail_for = set()
        svc = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                obs = self.headers.get("X-Baton-Observer", "")
                code = 500 if svc.fail or obs in svc.fail_for else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self):
        return "http://127.0.0.1:%d/health" % self.port

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
