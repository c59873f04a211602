#!/usr/bin/env python3
"""fault_redis.py - a fake Redis that answers GET wrongly, for e2e tests of the shared cache.

Python 3 standard library only. Speaks enough RESP2 for the agent: PING -> +PONG, AUTH, SELECT
and SET -> +OK, GET -> depends on the mode. Never prints a key or a value.

Usage:
  fault_redis.py [--port 0] [--mode-file FILE] [--count-file FILE]

The port bound is printed alone on stdout line 1. The mode is read from --mode-file on every GET
(first word; default "junk"), so a test can switch it at run time:
  junk        $11 hello world  (a string that is not a cache value)
  truncated   a well-formed ACTIVE value (sub=mallory, scope "read write", valid for an hour)
              with its last byte cut off
  badversion  the same value, complete, but with version byte 2
  trailing    the same value, complete, plus one byte
  wrongtype   :1 (an integer reply)
  array       *1 $1 x
  proto       bytes that are not RESP at all
  hang        never answers
  miss        $-1 (no entry)
--count-file gets the number of GETs so far after each one.
"""

import argparse
import socket
import socketserver
import struct
import threading
import time


def value(version=1):
    def s(b):
        return struct.pack(">H", len(b)) + b

    until = int((time.time() + 3600) * 1000)
    out = b"O2L2" + bytes([version, 1 | 2]) + struct.pack(">qqqq", until, int(time.time()) + 3600, 0, 0)
    for x in (b"read write", b"evil", b"mallory", None, None, None):
        out += struct.pack(">H", 0xFFFF) if x is None else s(x)
    return out + struct.pack(">H", 0)


def bulk(b):
    return b"$%d\r\n%s\r\n" % (len(b), b)


ANSWERS = {
    "junk": lambda: bulk(b"hello world"),
    "truncated": lambda: bulk(value()[:-1]),
    "badversion": lambda: bulk(value(2)),
    "trailing": lambda: bulk(value() + b"\x00"),
    "wrongtype": lambda: b":1\r\n",
    "array": lambda: b"*1\r\n$1\r\nx\r\n",
    "proto": lambda: b"\x00\xffnot resp\r\n",
    "miss": lambda: b"$-1\r\n",
}

LOCK = threading.Lock()
GETS = [0]


def read_line(f):
    line = f.readline()
    if not line:
        raise EOFError
    return line.rstrip(b"\r\n")


def read_command(f):
    head = read_line(f)
    if not head.startswith(b"*"):
        return head.split()
    args = []
    for _ in range(int(head[1:])):
        n = int(read_line(f)[1:])
        args.append(f.read(n + 2)[:n])
    return args


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        try:
            while True:
                args = read_command(self.rfile)
                if not args:
                    continue
                cmd = args[0].upper()
                if cmd == b"GET":
                    self.get()
                elif cmd == b"PING":
                    self.wfile.write(b"+PONG\r\n")
                else:
                    self.wfile.write(b"+OK\r\n")
                self.wfile.flush()
        except (EOFError, ConnectionError, ValueError):
            pass

    def get(self):
        mode = "junk"
        if self.server.mode_file:
            try:
                with open(self.server.mode_file) as f:
                    mode = (f.read().split() or ["junk"])[0]
            except OSError:
                pass
        with LOCK:
            GETS[0] += 1
            if self.server.count_file:
                with open(self.server.count_file, "w") as f:
                    f.write("%d\n" % GETS[0])
        if mode == "hang":
            time.sleep(3600)
        self.wfile.write(ANSWERS.get(mode, ANSWERS["junk"])())


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--mode-file")
    ap.add_argument("--count-file")
    a = ap.parse_args()
    srv = Server(("127.0.0.1", a.port), Handler)
    srv.mode_file = a.mode_file
    srv.count_file = a.count_file
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
