#!/usr/bin/env python3
"""load_client.py - keeps N HTTP/1.1 keep-alive connections busy against one
address for a fixed time, and checks the status of every response against the
status expected for its request class.

Python 3 standard library only (asyncio, raw sockets). Never prints a token or
an Authorization value: classes are reported by name.

Usage:
  load_client.py --port P --spec SPEC.json [--host 127.0.0.1] [--conns 1000]
                 [--duration 30] [--timeout 10] [--events FILE] [--out FILE]
                 [--down-file FILE] [--stop-file FILE]

SPEC.json:
  {"classes": [
     {"name": "valid", "path": "/reviews/1", "expect": [200],
      "authorization": ["Bearer t1", "Bearer t2"]},      # rotated per request
     {"name": "missing", "path": "/ratings/1", "expect": [401]}  # no header
  ]}
  "expect" is the list of acceptable statuses ("expect_down" may list the
  statuses also acceptable for requests in flight at any moment while
  --down-file exists, e.g. while the agent is killed: one sent before the kill
  may wait for HAProxy's "timeout processing" and be answered 503 after the
  agent is back; the file is polled every 10 ms). Connection i sends class (i + k) mod n for its k-th request, so
  every class runs on every connection and at every moment.

Output (JSON, on stdout or --out): per class the requests sent and a histogram
of statuses; "wrong" (responses whose status was not expected, by class and
status); "errors" (connect/reset/timeout/parse failures by kind); requests/s;
latency percentiles. --events FILE also writes one line per response:
"<unix time answered> <class> <status> <unix time sent>" (status 0: an error).
Exit status: 0 when every response was expected and there were no errors, 1
otherwise, 2 on bad usage.
"""

import argparse
import asyncio
import json
import os
import resource
import sys
import time


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--spec", required=True)
    ap.add_argument("--conns", type=int, default=1000)
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--events", default=None)
    ap.add_argument("--out", default=None)
    ap.add_argument("--stop-file", default=None,
                    help="stop early (cleanly, with the report) once this file exists")
    ap.add_argument("--down-file", default=None,
                    help="for requests in flight while this file exists, expect_down statuses are accepted too")
    return ap.parse_args()


class Stats:
    def __init__(self, classes):
        self.sent = {c["name"]: 0 for c in classes}
        self.status = {c["name"]: {} for c in classes}
        self.wrong = {}
        self.errors = {}
        self.lat = []
        self.events = []
        self.down_ticks = 0  # polls that saw --down-file; grows while it exists


async def read_response(reader):
    """Returns (status, keep_alive). Raises on a malformed or short response."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise ValueError("bad status line")
    status = int(parts[1])
    length = None
    chunked = False
    close = parts[0] == "HTTP/1.0"
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        k = k.strip().lower()
        v = v.strip()
        if k == "content-length":
            length = int(v)
        elif k == "transfer-encoding" and "chunked" in v.lower():
            chunked = True
        elif k == "connection":
            close = "close" in v.lower()
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length is not None:
        await reader.readexactly(length)
    else:
        await reader.read()  # until close
        close = True
    return status, not close


async def worker(i, args, classes, stats, deadline, t0):
    reader = writer = None
    k = 0
    n = len(classes)
    while time.monotonic() < deadline[0]:
        c = classes[(i + k) % n]
        auths = c.get("authorization")
        hdr = ""
        if auths:
            hdr = "Authorization: %s\r\n" % auths[(i // n + k) % len(auths)]
        k += 1
        req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\n%s\r\n" %
               (c["path"], args.host, args.port, hdr)).encode("latin-1")
        start = time.monotonic()
        wall = time.time()
        # expect_down applies to requests in flight while the marker file exists
        down = bool(args.down_file) and os.path.exists(args.down_file)
        ticks = stats.down_ticks
        status = 0
        try:
            if writer is None:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(args.host, args.port), args.timeout)
            writer.write(req)
            status, keep = await asyncio.wait_for(read_response(reader), args.timeout)
            if not keep:
                writer.close()
                writer = None
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError,
                asyncio.LimitOverrunError, ValueError) as e:
            kind = type(e).__name__
            stats.errors[kind] = stats.errors.get(kind, 0) + 1
            if writer is not None:
                writer.close()
                writer = None
            await asyncio.sleep(0.05)
        now = time.monotonic()
        if status:
            stats.lat.append(now - start)
            stats.sent[c["name"]] += 1
            h = stats.status[c["name"]]
            h[status] = h.get(status, 0) + 1
            ok = status in c["expect"]
            if not ok and args.down_file:
                down = (down or ticks != stats.down_ticks or
                        os.path.exists(args.down_file))
            if not ok and down:
                ok = status in c.get("expect_down", [])
            if not ok:
                key = "%s:%d" % (c["name"], status)
                stats.wrong[key] = stats.wrong.get(key, 0) + 1
        if args.events is not None:
            stats.events.append("%.3f %s %d %.3f" % (time.time(), c["name"], status, wall))
    if writer is not None:
        writer.close()


async def main_async(args, classes):
    stats = Stats(classes)
    t0 = time.monotonic()
    deadline = [t0 + args.duration]  # shared, so --stop-file can move it
    tasks = [asyncio.create_task(worker(i, args, classes, stats, deadline, t0))
             for i in range(args.conns)]
    if args.stop_file or args.down_file:
        async def watch():
            while time.monotonic() < deadline[0]:
                if args.stop_file and os.path.exists(args.stop_file):
                    deadline[0] = time.monotonic()
                if args.down_file and os.path.exists(args.down_file):
                    stats.down_ticks += 1
                await asyncio.sleep(0.01)
        tasks.append(asyncio.create_task(watch()))
    await asyncio.gather(*tasks)
    return stats, time.monotonic() - t0


def main():
    args = parse_args()
    with open(args.spec) as f:
        classes = json.load(f)["classes"]
    if not classes:
        print("load_client: no classes in the spec", file=sys.stderr)
        return 2
    need = args.conns + 64
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(need, soft), hard), hard))
        except (ValueError, OSError):
            pass
        if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < need:
            print("load_client: need %d file descriptors, limit is %d" % (need, soft),
                  file=sys.stderr)
            return 2
    stats, elapsed = asyncio.run(main_async(args, classes))
    total = sum(stats.sent.values())
    lat = sorted(stats.lat)

    def pct(p):
        return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 1) if lat else None

    out = {
        "conns": args.conns, "seconds": round(elapsed, 2), "responses": total,
        "rps": round(total / elapsed, 1) if elapsed else 0,
        "latency_ms": {"p50": pct(0.5), "p99": pct(0.99), "max": pct(1.0)},
        "classes": {n: {"responses": stats.sent[n],
                        "statuses": {str(k): v for k, v in sorted(stats.status[n].items())}}
                    for n in stats.sent},
        "wrong": stats.wrong, "errors": stats.errors,
    }
    text = json.dumps(out, indent=1, sort_keys=True)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    else:
        print(text)
    if args.events is not None:
        with open(args.events, "w") as f:
            f.write("\n".join(stats.events) + "\n")
    return 0 if not stats.wrong and not stats.errors else 1


if __name__ == "__main__":
    sys.exit(main())
