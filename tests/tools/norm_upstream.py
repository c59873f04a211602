#!/usr/bin/env python3
"""norm_upstream.py - an HTTP application that normalises request paths the
way common servers and frameworks do, for the canonical-path e2e tests.

Python 3 standard library only (http.server). The path it serves is the
request target without its query, then, in this order (the most permissive
mix of what servers do; each step alone is common):
  1. every %XX decoded once, %2F and %5C included (most frameworks),
  2. '\\' taken as '/' (IIS, some Windows-backed servers),
  3. ";params" dropped from every segment (Tomcat, Jetty),
  4. repeated slashes merged (nginx merge_slashes, Express, many routers),
  5. "." and ".." segments resolved (RFC 3986 5.2.4; ".." above the root is
     dropped).
An absolute-form target ("http://host/p") is reduced to its path first.

Usage: norm_upstream.py [--port P] [--host H]
  --port 0 (the default) picks a free port, printed alone on stdout line 1.

Answers (always 200 unless said otherwise):
  /ratings, /ratings/...   "protected <normalised> sub=<X-Auth-Subject>"
  /details, /details/...   "public <normalised>"
  GET /__log               every request served so far, one per line:
                           "<raw target> -> <normalised> HOW sub=<sub>", HOW
                           "as-sent" when normalising changed nothing but
                           the decoding, else "normalised"
  GET /__health            "ok"
  anything else            404 "unknown <normalised>"
Never prints a header value other than X-Auth-Subject (an identity, not a
credential)."""

import argparse
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG = []
LOCK = threading.Lock()


def decoded(target):
    if "://" in target.split("?", 1)[0]:
        target = urllib.parse.urlsplit(target).path or "/"
    return urllib.parse.unquote(target.split("?", 1)[0], errors="surrogateescape")


def normalise(target):
    path = decoded(target)
    path = path.replace("\\", "/")
    segs = [s.split(";", 1)[0] for s in path.split("/")]
    out = []
    for s in segs:
        if s in ("", "."):
            continue
        if s == "..":
            if out:
                out.pop()
            continue
        out.append(s)
    trailing = path.endswith("/") and out
    return "/" + "/".join(out) + ("/" if trailing else "")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def answer(self, code, body):
        data = body.encode("utf-8", errors="surrogateescape")
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        raw = self.path
        if raw == "/__health":
            return self.answer(200, "ok\n")
        if raw == "/__log":
            with LOCK:
                return self.answer(200, "".join(line + "\n" for line in LOG))
        norm = normalise(raw)
        sub = self.headers.get("X-Auth-Subject", "")
        how = "as-sent" if norm == decoded(raw) else "normalised"
        with LOCK:
            LOG.append("%s -> %s %s sub=%s" % (raw, norm, how, sub))
        if norm == "/ratings" or norm.startswith("/ratings/"):
            return self.answer(200, "protected %s sub=%s\n" % (norm, sub))
        if norm == "/details" or norm.startswith("/details/"):
            return self.answer(200, "public %s\n" % norm)
        return self.answer(404, "unknown %s\n" % norm)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # HAProxy closing an idle keep-alive connection is not news


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--host", default="127.0.0.1")
    a = ap.parse_args()
    srv = Server((a.host, a.port), Handler)
    print(srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
