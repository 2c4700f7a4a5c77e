#!/usr/bin/env python3
"""A client sending a chunked request body slowly, for http_components.sh.

slow_body.py PORT PATH MODE
  echo   three parts 300 ms apart; prints how long the slowest took to come
         back (ms) once the whole answer ended: the guest echoes each part
  stall  one part, then nothing; prints the seconds until the server closes
  leave  one part, then the client goes away
"""
import socket
import sys
import time

port, path, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.create_connection(("127.0.0.1", port))
s.settimeout(5)
s.sendall(f"POST {path} HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
got = b""


def until(want):
    """Seconds until want is among what came back."""
    global got
    t0 = time.time()
    while want not in got:
        more = s.recv(65536)
        if not more:
            raise SystemExit(f"closed before {want!r} came back; got {got!r}")
        got += more
    return time.time() - t0


def part(data):
    s.sendall(b"%x\r\n%s\r\n" % (len(data), data))


if mode == "echo":
    slowest = 0.0
    for data in (b"<one>", b"<two>", b"<three>"):
        part(data)
        slowest = max(slowest, until(data))
        time.sleep(0.3)
    s.sendall(b"0\r\n\r\n")
    until(b"0\r\n\r\n")
    print(f"{slowest * 1000:.0f}")
elif mode == "stall":
    part(b"<one>")
    t0 = time.time()
    try:
        while s.recv(65536):
            pass
    except socket.timeout:
        raise SystemExit("the server did not close the connection within 5 s")
    print(f"{time.time() - t0:.1f}")
elif mode == "leave":
    part(b"<one>")
    until(b"<one>")
    s.close()
