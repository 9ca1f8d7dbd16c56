#!/usr/bin/env python3
"""tests/lib/slowloris.py: a slow HTTP client, the attacker of
tests/integration/93_status_http.sh.  Loopback only, bounded in time.

  slowloris.py PORT COUNT SECONDS SOURCE[,SOURCE...] [--reconnect]

Opens COUNT connections to 127.0.0.1:PORT, bound round-robin to the SOURCE
addresses (127.x.y.z), sends a request head one byte per second and never
finishes it.  With --reconnect, a connection the server closed is opened
again on the next tick (as a real slowloris does).  Stops after SECONDS and
prints one line:
  opened N cut N held_at_end N max_age S
max_age: the longest a connection lived while the server kept it open
(until cut, or until the end).
"""
import errno
import ipaddress
import socket
import sys
import time

HEAD = b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 4096


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    port, count, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    sources = sys.argv[4].split(",")
    reconnect = "--reconnect" in sys.argv[5:]
    for s in sources:
        if not ipaddress.ip_address(s).is_loopback:
            sys.exit(f"slowloris.py: {s} is not a loopback address")
    opened = cut = 0
    max_age = 0.0
    conns = []  # [socket, opened_at, bytes_sent]

    def connect(i):
        nonlocal opened
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(1.0)
        try:
            s.bind((sources[i % len(sources)], 0))
            s.connect(("127.0.0.1", port))
        except OSError:
            s.close()
            return None
        s.setblocking(False)
        opened += 1
        return [s, time.monotonic(), 0]

    def alive(c):
        try:
            c[0].recv(4096, socket.MSG_PEEK)  # an answer (a refusal) or the end
            return False
        except BlockingIOError:
            return True
        except OSError:
            return False

    end = time.monotonic() + seconds
    conns = [connect(i) for i in range(count)]
    while time.monotonic() < end:
        for i, c in enumerate(conns):
            if c is not None:
                ok = alive(c)
                if ok:
                    try:
                        c[0].send(HEAD[c[2]:c[2] + 1])
                        c[2] += 1
                    except OSError as e:
                        ok = e.errno in (errno.EAGAIN,)
                if not ok:
                    cut += 1
                    max_age = max(max_age, time.monotonic() - c[1])
                    c[0].close()
                    conns[i] = c = None
            if c is None and reconnect:
                conns[i] = connect(i)
        time.sleep(max(0.0, min(1.0, end - time.monotonic())))
    held = 0
    for c in conns:
        if c is not None and alive(c):
            held += 1
            max_age = max(max_age, time.monotonic() - c[1])
    print(f"opened {opened} cut {cut} held_at_end {held} max_age {max_age:.1f}")


if __name__ == "__main__":
    main()
