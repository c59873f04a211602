#!/usr/bin/env python3
"""fault_idp.py - a fault-injecting RFC 7662 introspection server for e2e tests.

Python 3 standard library only. Threaded, HTTP/1.1 keep-alive, stops cleanly on
SIGTERM or SIGINT. Never prints a token, a secret or an Authorization value.

Usage:
  fault_idp.py [--port P] [--host H] [--mode MODE] [--after-redirect MODE]
               [--other-port N] [--scope S] [--sub S] [--client-id S]
               [--exp-in SECONDS] [--require-basic USER:PASSWORD] [--jwks FILE]
               [--sign-mint JWT_MINT --sign-dir DIR] [--sign-issuer S] [--sign-aud S]
               [--quiet]

  --port 0 (the default) picks a free port. The port actually bound is always
  printed alone on stdout line 1, so a test can do
      exec 3< <(fault_idp.py --port 0); read -r PORT <&3

How a request's mode is chosen, first match wins:
  1. the path: POST /<mode>           e.g. /slow:250, /status:503, /inactive,
                                           /redirect-same:/admin/oauth2/introspect
  2. the token form field "mode.<name>[.<arg>][.anything]"
                                      e.g. token=mode.slow.250.x, token=mode.inactive
  3. the target of the current redirect-same:<path> mode: --after-redirect
     (default "ok")
  4. the current default mode: --mode (default "ok"), changed at run time with
     POST /__mode (body: the mode).

Modes:
  ok               200 {"active":true,"scope","sub","client_id","exp","iat",...}; a token
                   "who.<sub>.<client_id>.<anything>" gets that sub and client_id
  inactive         200 {"active":false}
  slow:<ms>        waits <ms> milliseconds, then answers like ok
  status:<code>    answers <code> with {"error":"fault_idp"}
  html             200 text/html page (not JSON)
  active-string    200 {"active":"true"} (a string, not the boolean)
  no-active        200 {"scope":...} without "active"
  close-mid-body   Content-Length says 200 bytes, sends about half, closes
  huge             200, chunked, streams 100 MB of JSON-looking bytes
  huge-cl          200, Content-Length: 104857600, streams 100 MB
  hang             reads the request and never answers (until the client
                   closes or the server stops)
  redirect-same:<path>
                   307 to http://<Host header><path> (same origin); requests to
                   <path> itself are answered with --after-redirect
  jwks             200 with the text of --jwks FILE, read again on every request (a
                   test rotates keys by renaming a new file into place); 404 without
                   --jwks. For a JWKS endpoint: GET any path with this mode.
  signed:<variant> RFC 9701: when the request's Accept names
                   application/token-introspection+jwt, 200 with that Content-Type and a
                   JWS (ES256, kid e1, signed by DIR/ec.key through `JWT_MINT sign`, the
                   keys of tests/tools/jwt_mint init DIR) whose claims are iss
                   (--sign-issuer), aud (--sign-aud), iat (now) and token_introspection
                   (the ok answer); without that Accept, the plain ok answer. Variants:
                   ok, plain (always plain JSON), bad-sig (one signature character
                   changed), iss, aud (wrong values), stale (iat an hour ago), future (iat
                   an hour ahead), typ (typ at+jwt), none (alg none, no signature), hs256
                   (HS256 keyed with DIR/jwks.json), inactive (token_introspection
                   {"active":false}), no-claim (no token_introspection)
  jwks-huge        200, Content-Length 10 MB: {"keys":[ then 10 MB of padding, a
                   JWKS far over any sane size
  redirect-other   307 to http://127.0.0.1:<other-port><same path>; by default
                   other-port is a port this process keeps bound but not
                   listening, so anything following it gets "connection refused"

Control endpoints (not counted):
  GET  /__count             {"total":N,"paths":{"/p":n,...}}
  GET  /__count?path=/p     n (plain text)
  POST /__reset             zero the counters
  GET  /__mode              the current default mode
  POST /__mode              set the default mode (body: the mode)
  GET  /__health            "ok"

--require-basic USER:PASSWORD makes every non-control request need client
authentication: HTTP Basic with form-urlencoded user and password (RFC 6749
§2.3.1), or client_id/client_secret form fields; otherwise 401
{"error":"invalid_client"}.
"""

import argparse
import base64
import json
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HUGE_BYTES = 100 * 1024 * 1024
JWKS_HUGE_BYTES = 10 * 1024 * 1024
CONTROL = ("/__count", "/__reset", "/__mode", "/__health")
SIMPLE_MODES = ("ok", "inactive", "html", "active-string", "no-active",
                "close-mid-body", "huge", "huge-cl", "hang", "redirect-other", "jwks",
                "jwks-huge")
ARG_MODES = ("slow", "status", "redirect-same", "signed")
SIGNED_VARIANTS = ("ok", "plain", "bad-sig", "iss", "aud", "stale", "future", "typ", "none",
                   "hs256", "inactive", "no-claim")
SIGNED_TYPE = "application/token-introspection+jwt"


def parse_mode(text):
    """Returns (name, arg) for a mode string, or None when it is not one."""
    text = text.strip()
    if text in SIMPLE_MODES:
        return (text, None)
    name, sep, arg = text.partition(":")
    if not sep or name not in ARG_MODES:
        return None
    if name in ("slow", "status"):
        if not arg.isdigit():
            return None
        if name == "status" and not 100 <= int(arg) <= 599:
            return None
        return (name, int(arg))
    if name == "signed":
        return (name, arg) if arg in SIGNED_VARIANTS else None
    if not arg.startswith("/"):
        return None
    return (name, arg)


def mode_from_token(token):
    """token "mode.<name>[.<arg>][.anything]" -> (name, arg) or None."""
    parts = token.split(".")
    if len(parts) < 2 or parts[0] != "mode":
        return None
    if parts[1] in ARG_MODES and len(parts) >= 3:
        return parse_mode(parts[1] + ":" + parts[2])
    return parse_mode(parts[1])


class State:
    def __init__(self, opts):
        self.opts = opts
        self.lock = threading.Lock()
        self.counts = {}
        self.total = 0
        self.default_mode = parse_mode(opts.mode)
        self.after_redirect = parse_mode(opts.after_redirect)
        self.stop = threading.Event()

    def count(self, path):
        with self.lock:
            self.counts[path] = self.counts.get(path, 0) + 1
            self.total += 1

    def snapshot(self):
        with self.lock:
            return self.total, dict(self.counts)

    def reset(self):
        with self.lock:
            self.counts.clear()
            self.total = 0


def form_decode(s):
    return urllib.parse.unquote_plus(s, errors="strict")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fault_idp/1"

    def version_string(self):
        return self.server_version

    # -- plumbing --

    @property
    def st(self):
        return self.server.state

    def log_message(self, fmt, *args):
        # Only the request line's path and the status: never headers or bodies.
        if not self.st.opts.quiet:
            sys.stderr.write("fault_idp: %s\n" % (fmt % args))

    def log_request(self, code="-", size="-"):
        if not self.st.opts.quiet:
            path = urllib.parse.urlsplit(self.path).path
            sys.stderr.write("fault_idp: %s %s -> %s\n" % (self.command, path, code))

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def send(self, code, body, ctype="application/json", extra=None):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, code, obj, extra=None):
        self.send(code, json.dumps(obj, separators=(",", ":")), extra=extra)

    def wait_client_close(self, seconds=None):
        """Blocks until the peer closes, the server stops or <seconds> pass.
        Returns True when the peer closed (or the server is stopping)."""
        deadline = None if seconds is None else time.monotonic() + seconds
        sock = self.connection
        while not self.st.stop.is_set():
            step = 0.2
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                step = min(step, left)
            sock.settimeout(step)
            try:
                if sock.recv(1, socket.MSG_PEEK) == b"":
                    return True
                # The client sent more (pipelining): just wait for the timer.
                time.sleep(step)
            except socket.timeout:
                continue
            except OSError:
                return True
            finally:
                sock.settimeout(None)
        return True

    # -- routing --

    def do_GET(self):
        self.route(b"")

    def do_POST(self):
        self.route(self.read_body())

    def route(self, body):
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        if path in CONTROL:
            return self.control(path, url.query, body)
        self.st.count(path)
        try:
            form = urllib.parse.parse_qs(body.decode("utf-8"), keep_blank_values=True)
        except (UnicodeDecodeError, ValueError):
            form = {}
        if self.st.opts.require_basic and not self.authenticated(form):
            return self.send_json(401, {"error": "invalid_client"})
        self.who = None
        mode = parse_mode(urllib.parse.unquote(path[1:]))
        if mode is None:
            token = (form.get("token") or [""])[0]
            parts = token.split(".")
            if len(parts) >= 4 and parts[0] == "who":
                self.who = (parts[1], parts[2])
            mode = mode_from_token(token)
        if mode is None:
            cur = self.st.default_mode
            if cur[0] == "redirect-same" and path == cur[1]:
                mode = self.st.after_redirect
            else:
                mode = cur
        self.serve_mode(mode, path)

    def authenticated(self, form):
        want_user, _, want_pass = self.st.opts.require_basic.partition(":")
        auth = self.headers.get("Authorization") or ""
        if auth[:6].lower() == "basic ":
            try:
                raw = base64.b64decode(auth[6:].strip(), validate=True).decode("utf-8")
                user, sep, pw = raw.partition(":")
                return bool(sep) and form_decode(user) == want_user and form_decode(pw) == want_pass
            except (ValueError, UnicodeDecodeError):
                return False
        return (form.get("client_id") or [None])[0] == want_user and \
            (form.get("client_secret") or [None])[0] == want_pass

    def control(self, path, query, body):
        st = self.st
        if path == "/__health":
            return self.send(200, "ok\n", "text/plain")
        if path == "/__reset" and self.command == "POST":
            st.reset()
            return self.send_json(200, {"reset": True})
        if path == "/__count":
            total, counts = st.snapshot()
            q = urllib.parse.parse_qs(query)
            if "path" in q:
                return self.send(200, "%d\n" % counts.get(q["path"][0], 0), "text/plain")
            return self.send_json(200, {"total": total, "paths": counts})
        if path == "/__mode":
            if self.command == "POST":
                m = parse_mode(body.decode("utf-8", "replace"))
                if m is None:
                    return self.send_json(400, {"error": "unknown mode"})
                st.default_mode = m
            name, arg = st.default_mode
            return self.send(200, name + ("" if arg is None else ":%s" % arg) + "\n", "text/plain")
        return self.send_json(405, {"error": "method not allowed"})

    # -- modes --

    def claims(self, active=True):
        now = int(time.time())
        o = self.st.opts
        sub, client_id = getattr(self, "who", None) or (o.sub, o.client_id)
        c = {"active": active, "scope": o.scope, "sub": sub, "client_id": client_id,
             "exp": now + o.exp_in, "iat": now, "nbf": now, "token_type": "Bearer",
             "token_use": "access_token", "iss": "http://fault-idp.test/"}
        if o.aud:
            c["aud"] = o.aud
        return c

    def serve_mode(self, mode, path):
        name, arg = mode
        if name == "ok":
            self.send_json(200, self.claims())
        elif name == "inactive":
            self.send_json(200, {"active": False})
        elif name == "slow":
            if self.wait_client_close(arg / 1000.0):
                self.close_connection = True
                return
            self.send_json(200, self.claims())
        elif name == "status":
            self.send_json(arg, {"error": "fault_idp", "error_description": "status:%d" % arg})
        elif name == "html":
            self.send(200, "<!doctype html><html><body><h1>Welcome</h1></body></html>\n",
                      "text/html; charset=utf-8")
        elif name == "active-string":
            self.send(200, '{"active":"true","scope":"%s","sub":"%s"}' %
                      (self.st.opts.scope, self.st.opts.sub))
        elif name == "no-active":
            c = self.claims()
            del c["active"]
            self.send_json(200, c)
        elif name == "close-mid-body":
            body = json.dumps(self.claims()).encode().ljust(200)[:200]
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "200")
            self.end_headers()
            self.wfile.write(body[:100])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        elif name in ("huge", "huge-cl"):
            self.stream_huge(chunked=(name == "huge"))
        elif name == "hang":
            self.wait_client_close()
            self.close_connection = True
        elif name == "redirect-same":
            host = self.headers.get("Host") or "%s:%d" % self.server.server_address[:2]
            self.send_json(307, {}, extra={"Location": "http://%s%s" % (host, arg)})
        elif name == "redirect-other":
            loc = "http://127.0.0.1:%d%s" % (self.server.other_port, path)
            self.send_json(307, {}, extra={"Location": loc})
        elif name == "jwks":
            try:
                with open(self.st.opts.jwks, encoding="utf-8") as f:
                    self.send(200, f.read())
            except (TypeError, OSError):
                self.send_json(404, {"error": "no --jwks file"})
        elif name == "jwks-huge":
            self.stream_jwks_huge()
        elif name == "signed":
            self.signed_answer(arg)

    def signed_answer(self, variant):
        o = self.st.opts
        if variant == "plain" or SIGNED_TYPE not in (self.headers.get("Accept") or ""):
            return self.send_json(200, self.claims())
        if not o.sign_mint or not o.sign_dir:
            return self.send_json(500, {"error": "no --sign-mint/--sign-dir"})
        now = int(time.time())
        hdr = {"alg": "ES256", "kid": "e1", "typ": "token-introspection+jwt"}
        pl = {"iss": o.sign_issuer, "aud": o.sign_aud, "iat": now,
              "token_introspection": self.claims()}
        alg = "ES256"
        if variant == "iss":
            pl["iss"] = "http://evil.test/"
        elif variant == "aud":
            pl["aud"] = "someone-else"
        elif variant == "stale":
            pl["iat"] = now - 3600
        elif variant == "future":
            pl["iat"] = now + 3600
        elif variant == "typ":
            hdr["typ"] = "at+jwt"
        elif variant == "none":
            alg = hdr["alg"] = "none"
            del hdr["kid"]
        elif variant == "hs256":
            alg = hdr["alg"] = "HS256"
        elif variant == "inactive":
            pl["token_introspection"] = {"active": False}
        elif variant == "no-claim":
            del pl["token_introspection"]
        try:
            out = subprocess.run([o.sign_mint, "sign", o.sign_dir, "ec", alg,
                                  json.dumps(hdr), json.dumps(pl)],
                                 capture_output=True, check=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return self.send_json(500, {"error": "signing failed"})
        tok = out.stdout.decode().strip()
        if variant == "bad-sig":
            # A character in the middle of the signature: all 6 bits count.
            i = tok.rindex(".") + (len(tok) - tok.rindex(".")) // 2
            tok = tok[:i] + ("A" if tok[i] != "A" else "B") + tok[i + 1:]
        self.send(200, tok, SIGNED_TYPE)

    def stream_jwks_huge(self):
        head = b'{"keys":['
        block = b" " * 65536
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(JWKS_HUGE_BYTES))
        self.end_headers()
        sent = 0
        try:
            self.wfile.write(head)
            sent = len(head)
            while sent < JWKS_HUGE_BYTES and not self.st.stop.is_set():
                n = min(len(block), JWKS_HUGE_BYTES - sent)
                self.wfile.write(block[:n])
                sent += n
        except OSError:
            pass  # the client stopped reading: expected
        if sent < JWKS_HUGE_BYTES:
            self.close_connection = True

    def stream_huge(self, chunked):
        block = (b'{"active":true,"pad":"' + b"x" * 65500 + b'"}\n')[:65536]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(HUGE_BYTES))
        self.end_headers()
        sent = 0
        try:
            while sent < HUGE_BYTES and not self.st.stop.is_set():
                n = min(len(block), HUGE_BYTES - sent)
                if chunked:
                    self.wfile.write(b"%x\r\n" % n + block[:n] + b"\r\n")
                else:
                    self.wfile.write(block[:n])
                sent += n
            if chunked and sent == HUGE_BYTES:
                self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass  # the client stopped reading: expected
        if sent < HUGE_BYTES:
            self.close_connection = True


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # A client that drops the connection is part of the tests; stay quiet.
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):
            return
        super().handle_error(request, client_address)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--mode", default="ok")
    ap.add_argument("--after-redirect", default="ok")
    ap.add_argument("--other-port", type=int, default=0)
    ap.add_argument("--scope", default="read write")
    ap.add_argument("--sub", default="user-1")
    ap.add_argument("--client-id", default="svc-a")
    ap.add_argument("--aud", default=None)
    ap.add_argument("--exp-in", type=int, default=3600)
    ap.add_argument("--require-basic", default=None, metavar="USER:PASSWORD")
    ap.add_argument("--jwks", default=None, metavar="FILE")
    ap.add_argument("--sign-mint", default=None, metavar="JWT_MINT")
    ap.add_argument("--sign-dir", default=None, metavar="DIR")
    ap.add_argument("--sign-issuer", default="http://fault-idp.test/")
    ap.add_argument("--sign-aud", default="oauth2-spoa")
    ap.add_argument("--quiet", action="store_true")
    opts = ap.parse_args(argv)
    for m in (opts.mode, opts.after_redirect):
        if parse_mode(m) is None:
            ap.error("unknown mode: %s" % m)

    state = State(opts)
    httpd = Server((opts.host, opts.port), Handler)
    httpd.state = state
    # The default redirect-other target: bound but never listening, so a
    # client that follows it gets "connection refused" and nobody else can
    # take the port meanwhile.
    reserved = None
    if opts.other_port:
        httpd.other_port = opts.other_port
    else:
        reserved = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        reserved.bind(("127.0.0.1", 0))
        httpd.other_port = reserved.getsockname()[1]

    def on_signal(signum, frame):
        state.stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    t = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1},
                         daemon=True)
    t.start()
    print(httpd.server_address[1], flush=True)
    while not state.stop.wait(1.0):
        pass
    httpd.shutdown()
    httpd.server_close()
    if reserved:
        reserved.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
