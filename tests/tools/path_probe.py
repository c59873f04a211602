#!/usr/bin/env python3
"""path_probe.py - sends one HTTP/1.1 GET per request target, exactly as
written (no client-side normalisation: curl and urllib rewrite "//", dot
segments and backslashes), and prints one line per target:
    <status>\t<value of --show header or ->\t<target as given>
Status 000: the connection closed without a response.

Usage: path_probe.py PORT FILE [--header 'Name: value']... [--show NAME]
  FILE holds one target per line as a Python bytes literal body, so
  "/\\\\ratings/1" sends a backslash and "/a\\x80" a raw byte; empty lines and
  lines starting with '#' are skipped. "abs:PATH" is sent in absolute
  form, "http://127.0.0.1:PORT" + PATH, with the same Host.
Python 3 standard library only; never prints a request header value."""

import argparse
import ast
import socket


def target_bytes(line):
    return ast.literal_eval("b'" + line.replace("'", "\\'") + "'")


def probe(port, target, headers, show):
    host = b"127.0.0.1:%d" % port
    if target.startswith(b"abs:"):  # absolute form: the Host header must agree
        target = b"http://" + host + target[len(b"abs:"):]
    req = b"GET " + target + b" HTTP/1.1\r\nHost: " + host + b"\r\n"
    for h in headers:
        req += h.encode("latin-1") + b"\r\n"
    req += b"Connection: close\r\n\r\n"
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    data = b""
    try:
        s.sendall(req)
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    finally:
        s.close()
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    parts = head[0].split(" ")
    status = parts[1] if len(parts) > 1 and parts[1].isdigit() else "000"
    value = "-"
    for line in head[1:]:
        name, sep, v = line.partition(":")
        if sep and show and name.strip().lower() == show.lower():
            value = v.strip() or "-"
    return status, value


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("file")
    ap.add_argument("--header", action="append", default=[])
    ap.add_argument("--show", default="")
    a = ap.parse_args()
    with open(a.file, encoding="utf-8") as f:
        lines = [ln.rstrip("\n") for ln in f]
    for line in lines:
        if not line or line.startswith("#"):
            continue
        status, value = probe(a.port, target_bytes(line), a.header, a.show)
        print("%s\t%s\t%s" % (status, value, line), flush=True)


if __name__ == "__main__":
    main()
