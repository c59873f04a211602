#!/usr/bin/env python3
"""raw_http.py - sends one HTTP/1.1 request with header values given as raw
bytes (NUL, non-ASCII, repeated headers: what curl will not send), and prints
the response status code (000 when the connection closed without a response).

Usage: raw_http.py PORT PATH [HEADER_VALUE_SPEC...]
  Each spec is "Name=VALUE", where VALUE is a Python bytes literal body, so
  escapes work: 'Authorization=Bearer a\\x00b' or 'Authorization=\\xc3\\xa9'.
  Headers are sent in the order given (repeat a name to send it twice).
  An argument "@FILE" reads one spec per line from FILE (long values).
Python 3 standard library only; never prints a header value."""

import ast
import socket
import sys


def spec_bytes(spec):
    name, sep, value = spec.partition("=")
    if not sep or not name:
        raise SystemExit("raw_http.py: bad spec (want Name=VALUE)")
    raw = ast.literal_eval("b'''" + value.replace("'''", "\\'\\'\\'") + "'''")
    return name.encode("ascii") + b": " + raw + b"\r\n"


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    port, path = int(sys.argv[1]), sys.argv[2]
    hdrs = b""
    for a in sys.argv[3:]:
        if a.startswith("@"):
            with open(a[1:]) as f:
                for line in f:
                    line = line.rstrip("\n")
                    if line:
                        hdrs += spec_bytes(line)
        else:
            hdrs += spec_bytes(a)
    req = (b"GET " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % port + hdrs +
           b"Connection: close\r\n\r\n")
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(req)
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        data = b""
    finally:
        s.close()
    parts = data.split(b"\r\n", 1)[0].split(b" ")
    print(parts[1].decode() if len(parts) > 1 and parts[1].isdigit() else "000")


if __name__ == "__main__":
    main()
