#!/usr/bin/env python3
"""spop_wire_test.py - talks raw SPOP to a running agent and checks its answers
byte by byte: the handshake, pipelining, every protocol error with its
DISCONNECT status, hostile peers, and that a healthy connection still works
after all of them.

Usage: spop_wire_test.py PORT   (the agent must run with no policy file, so
every route is "no_policy" and allowed). Prints one line per check and
"spop-wire: N passed, M failed"."""

import os
import socket
import struct
import sys
import time

PORT = int(sys.argv[1])
passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("not ok - " + what, flush=True)


def varint(v):
    if v < 240:
        return bytes([v])
    out = [(v | 0xF0) & 0xFF]
    v = (v - 240) >> 4
    while v >= 128:
        out.append((v | 0x80) & 0xFF)
        v = (v - 128) >> 7
    out.append(v)
    return bytes(out)


def get_varint(b, i):
    v = b[i]
    i += 1
    if v < 240:
        return v, i
    shift = 4
    while True:
        c = b[i]
        i += 1
        v += c << shift
        shift += 7
        if c < 128:
            return v, i


def s(x):
    x = x.encode() if isinstance(x, str) else x
    return varint(len(x)) + x


def tstr(x):
    return b"\x08" + s(x)


def frame(ftype, flags, sid, fid, payload):
    body = bytes([ftype]) + struct.pack(">I", flags) + varint(sid) + varint(fid) + payload
    return struct.pack(">I", len(body)) + body


def hello(caps="pipelining", size=16380, versions="2.0", healthcheck=False):
    p = s("supported-versions") + tstr(versions)
    p += s("max-frame-size") + b"\x03" + varint(size)
    p += s("capabilities") + tstr(caps)
    if healthcheck:
        p += s("healthcheck") + b"\x11"
    else:
        p += s("engine-id") + tstr("e2e-engine-0000")
    return frame(1, 1, 0, 0, p)


def notify(sid, fid, msg="oauth2-check", args=None):
    args = args if args is not None else {"path": "/x", "method": "GET"}
    p = s(msg) + bytes([len(args)])
    for k, v in args.items():
        p += s(k) + (b"\x00" if v is None else tstr(v))
    return frame(3, 1, sid, fid, p)


def connect():
    c = socket.create_connection(("127.0.0.1", PORT), timeout=5)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return c


def read_exact(c, n):
    b = b""
    while len(b) < n:
        chunk = c.recv(n - len(b))
        if not chunk:
            return None
        b += chunk
    return b


def read_frame(c):
    h = read_exact(c, 4)
    if h is None:
        return None
    (n,) = struct.unpack(">I", h)
    body = read_exact(c, n)
    if body is None:
        return None
    ftype = body[0]
    (flags,) = struct.unpack(">I", body[1:5])
    sid, i = get_varint(body, 5)
    fid, i = get_varint(body, i)
    return ftype, flags, sid, fid, body[i:]


def kv(payload):
    out, i = {}, 0
    while i < len(payload):
        klen, i = get_varint(payload, i)
        key = payload[i:i + klen].decode()
        i += klen
        t = payload[i] & 0x0F
        i += 1
        if t in (2, 3, 4, 5):
            v, i = get_varint(payload, i)
        elif t == 8:
            ln, i = get_varint(payload, i)
            v = payload[i:i + ln].decode()
            i += ln
        elif t == 1:
            v = bool(payload[i - 1] & 0x10)
        else:
            raise ValueError("type %d" % t)
        out[key] = v
    return out


def actions(payload):
    out, i = {}, 0
    while i < len(payload):
        atype, nargs, scope = payload[i], payload[i + 1], payload[i + 2]
        i += 3
        nlen, i = get_varint(payload, i)
        name = payload[i:i + nlen].decode()
        i += nlen
        assert atype == 1 and nargs == 3 and scope == 2, (atype, nargs, scope)
        t = payload[i]
        i += 1
        if t & 0x0F == 1:
            out[name] = bool(t & 0x10)
        elif t & 0x0F in (2, 3, 4, 5):
            out[name], i = get_varint(payload, i)
        elif t == 8:
            ln, i = get_varint(payload, i)
            out[name] = payload[i:i + ln].decode()
            i += ln
    return out


def expect_disconnect(c, status, what):
    f = read_frame(c)
    ok = f is not None and f[0] == 102 and f[1] == 1 and kv(f[4]).get("status-code") == status
    check(ok, "%s: AGENT-DISCONNECT %d, got %r" % (what, status, f and (f[0], kv(f[4]) if f[0] == 102 else f)))
    c.settimeout(5)
    try:
        rest = c.recv(1)
    except (ConnectionResetError, socket.timeout):
        rest = b"" if True else None
    check(rest == b"", what + ": connection closed after DISCONNECT")
    c.close()


def handshake(c, caps="pipelining", size=16380):
    c.sendall(hello(caps, size))
    f = read_frame(c)
    check(f is not None and f[0] == 101 and f[1] == 1 and f[2] == 0 and f[3] == 0, "AGENT-HELLO header")
    return kv(f[4]) if f else {}


def healthy(what):
    c = connect()
    h = handshake(c)
    c.sendall(notify(1, 1))
    f = read_frame(c)
    check(f is not None and f[0] == 103 and f[2] == 1 and f[3] == 1, what + ": ACK after all that")
    c.close()


# 1. handshake and negotiation
c = connect()
h = handshake(c, caps="pipelining,async", size=100000)
check(h.get("version") == "2.0", "version 2.0")
check(h.get("max-frame-size") == 32764, "max-frame-size = min(ours (default 32764), theirs)")
caps = set(h.get("capabilities", "").split(","))
check("pipelining" in caps and "async" not in caps, "caps: pipelining, never async: %r" % caps)
# pipelining: 50 NOTIFYs in one write, every ACK comes back with its ids
c.sendall(b"".join(notify(1000 + i, i + 1) for i in range(50)))
seen = set()
for _ in range(50):
    f = read_frame(c)
    if f is None:
        break
    check(f[0] == 103 and f[1] == 1, "ACK frame type and FIN")
    a = actions(f[4])
    check(a.get("allowed") is True and a.get("reason") == "no_policy" and a.get("status") == 200,
          "no policy: allowed %r" % a)
    seen.add((f[2], f[3]))
check(seen == {(1000 + i, i + 1) for i in range(50)}, "every (stream-id, frame-id) echoed")
# stream-id 0 is legal (HAProxy 2.x's first stream), and large ids too
c.sendall(notify(0, 1) + notify(2**63 + 5, 2**40))
ids = {read_frame(c)[2:4] for _ in range(2)}
check(ids == {(0, 1), (2**63 + 5, 2**40)}, "ids 0 and 2^63+5 echoed: %r" % ids)
# unknown message name: an ACK that does not allow
c.sendall(notify(7, 1, msg="something-else"))
f = read_frame(c)
a = actions(f[4])
check(f[0] == 103 and a.get("allowed") is False, "unknown message: ACK with allowed=false %r" % a)
# empty NOTIFY (3.1/3.2 before a fix): answered, not allowed
c.sendall(frame(3, 1, 9, 1, b""))
f = read_frame(c)
check(f[0] == 103 and actions(f[4]).get("allowed") is False, "empty NOTIFY answered, not allowed")
# HAPROXY-DISCONNECT: we answer 0 and close
c.sendall(frame(2, 1, 0, 0, s("status-code") + b"\x03\x00" + s("message") + tstr("normal")))
expect_disconnect(c, 0, "HAPROXY-DISCONNECT")

# 2. health check: AGENT-HELLO with empty capabilities, then close
c = connect()
c.sendall(hello(caps="", healthcheck=True))
f = read_frame(c)
check(f and f[0] == 101 and kv(f[4]).get("capabilities") == "", "healthcheck AGENT-HELLO, no caps")
check(read_exact(c, 1) is None, "healthcheck connection closed by the agent")
c.close()

# 3. protocol errors and their DISCONNECT status
c = connect(); c.sendall(hello(versions="1.0")); expect_disconnect(c, 8, "no SPOP 2.x")
c = connect(); c.sendall(hello(versions="3.0,1.5")); expect_disconnect(c, 8, "3.0,1.5")
c = connect(); c.sendall(hello(size=100)); expect_disconnect(c, 9, "max-frame-size 100")
c = connect(); c.sendall(notify(1, 1)); expect_disconnect(c, 4, "NOTIFY before HELLO")
c = connect(); c.sendall(b"\xff\xff\xff\xff" + b"\x01" * 16); expect_disconnect(c, 3, "LENGTH 0xFFFFFFFF")
c = connect(); c.sendall(b"\x00\x00\x00\x02\x01\x00"); expect_disconnect(c, 4, "LENGTH 2")
c = connect(); handshake(c, size=1024)
c.sendall(struct.pack(">I", 1025) + b"\x03" + b"\x00" * 1025); expect_disconnect(c, 3, "frame over the negotiated size")
c = connect(); handshake(c); c.sendall(frame(3, 1, 1, 1, s("oauth2-check") + b"\x01" + s("path") + b"\x0c"))
expect_disconnect(c, 4, "bad type byte")
c = connect(); handshake(c); c.sendall(frame(3, 1, 1, 1, s("oauth2-check") + b"\x01" + s("path") + b"\x08\xf0\x10"))
expect_disconnect(c, 4, "string length past the frame end")
c = connect(); handshake(c); c.sendall(frame(3, 1, 1, 1, s("oauth2-check") + b"\x03" + s("path") + tstr("/")))
expect_disconnect(c, 4, "NB-ARGS past the end")
c = connect(); handshake(c)
c.sendall(struct.pack(">I", 16) + b"\x03\x00\x00\x00\x01" + b"\xff" * 11); expect_disconnect(c, 4, "overlong varint stream-id")
c = connect(); handshake(c); c.sendall(frame(42, 1, 1, 1, b"")); expect_disconnect(c, 4, "unknown frame type")
c = connect(); handshake(c); c.sendall(frame(1, 1, 0, 0, b"")); expect_disconnect(c, 4, "second HELLO")
c = connect(); handshake(c); c.sendall(frame(0, 1, 5, 1, b"\x01")); expect_disconnect(c, 4, "continuation without a NOTIFY")
# fragments: reassembled, ABORT drops, interlacing is an error
c = connect(); h = handshake(c, caps="pipelining")
full = notify(77, 3, args={"path": "/frag", "method": "GET", "authorization": "Bearer " + "a" * 3000})[11:]  # payload: after a 4+1+4+1+1 byte header
if "fragmentation" in h.get("capabilities", ""):
    parts = [full[i:i + 700] for i in range(0, len(full), 700)]
    data = frame(3, 0, 77, 3, parts[0])
    for p in parts[1:-1]:
        data += frame(0, 0, 77, 3, p)
    data += frame(0, 1, 77, 3, parts[-1])
    c.sendall(data)
    f = read_frame(c)
    check(f and f[0] == 103 and (f[2], f[3]) == (77, 3), "fragmented NOTIFY reassembled and ACKed")
    c.sendall(frame(3, 0, 78, 1, parts[0]) + frame(0, 3, 78, 1, b"") + notify(79, 1))
    f = read_frame(c)
    check(f and (f[2], f[3]) == (79, 1), "ABORTed fragments get no ACK, the next NOTIFY does")
    c.sendall(frame(3, 0, 80, 1, parts[0]) + frame(0, 0, 81, 1, parts[1]))
    expect_disconnect(c, 11, "interlaced fragments")
else:
    check(False, "agent did not announce fragmentation: %r" % h)

# 4. hostile peers
half = [connect() for _ in range(500)]
for x in half:
    x.sendall(hello()[:20])
for x in half:
    x.close()
healthy("500 half HELLOs")
# a slow-loris writer: one byte at a time, still a valid HELLO
c = connect()
for b in hello():
    c.send(bytes([b]))
f = read_frame(c)
check(f and f[0] == 101, "byte-by-byte HELLO answered")
c.close()
# a client that never reads: flood NOTIFYs without reading ACKs
c = connect()
handshake(c)
c.setblocking(False)
sent, blob = 0, b"".join(notify(i, 1) for i in range(1000))
# Kernel buffers on loopback absorb a few MB; 60 MB of NOTIFYs (120 MB of
# ACKs) can only go through if the agent buffers without bound.
deadline = time.time() + 10
while time.time() < deadline and sent < 2000 * len(blob):
    try:
        sent += c.send(blob)
    except BlockingIOError:
        time.sleep(0.01)
check(sent < 2000 * len(blob), "a peer that never reads is throttled (sent %d bytes)" % sent)
healthy("a non-reading flooder")
c.close()
healthy("the end")

print("spop-wire: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
