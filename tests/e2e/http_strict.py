#!/usr/bin/env python3
"""What a hostile HTTP client tries against `qyv serve`, over raw sockets.

Usage: http_strict.py PORT [ONLY_ECHO]. The server must serve
examples/http-echo at /echo and examples/http-hello at /hello (with
ONLY_ECHO, only the echo app: the HEAD check uses it). Prints "ok NAME" or
"FAIL NAME: why" per check. Framing tricks (RFC 9112) must be refused
with the right status and the connection closed, so that nothing after
them is ever served as a second request (request smuggling).
"""
import re
import socket
import sys
import time

PORT = int(sys.argv[1])
HEAD_APP = b"/echo" if len(sys.argv) > 2 else b"/hello"


def report(ok, name, why=""):
    print(("ok " + name) if ok else ("FAIL %s: %s" % (name, why)), flush=True)


def exchange(raw, timeout=5.0, shut=False):
    """Send raw bytes, read until the server closes (or timeout)."""
    s = socket.create_connection(("127.0.0.1", PORT), timeout=timeout)
    s.sendall(raw)
    if shut:
        s.shutdown(socket.SHUT_WR)
    data = b""
    deadline = time.time() + timeout
    closed = False
    while time.time() < deadline:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            closed = True
            break
        if not chunk:
            closed = True
            break
        data += chunk
    s.close()
    return data, closed


def statuses(data):
    return [int(m) for m in re.findall(rb"^HTTP/1\.1 (\d{3}) ", data, re.M)]


def expect_refused(name, raw, status):
    """One answer with status, then the connection closes: the bytes after
    the bad request are never served."""
    data, closed = exchange(raw)
    got = statuses(data)
    if got != [status]:
        report(False, name, "answers %s, expected [%d]; %r" % (got, status, data[:200]))
    elif not closed:
        report(False, name, "connection left open after %d" % status)
    elif b"smuggled" in data or b"path: /smuggled" in data:
        report(False, name, "the smuggled request was served")
    else:
        report(True, name)


SMUGGLED = b"GET /echo/smuggled HTTP/1.1\r\nHost: x\r\n\r\n"


def post(headers, body):
    return b"POST /echo HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n" + body


# -- framing: ambiguous or malformed lengths are 400, never a second request
expect_refused("two different Content-Length", post(b"Content-Length: 5\r\nContent-Length: 45\r\n", b"hello" + SMUGGLED), 400)
expect_refused("two equal Content-Length", post(b"Content-Length: 5\r\nContent-Length: 5\r\n", b"hello" + SMUGGLED), 400)
expect_refused("Content-Length list", post(b"Content-Length: 5, 5\r\n", b"hello" + SMUGGLED), 400)
expect_refused("Content-Length +5", post(b"Content-Length: +5\r\n", b"hello" + SMUGGLED), 400)
expect_refused("Content-Length -1", post(b"Content-Length: -1\r\n", b"hello" + SMUGGLED), 400)
expect_refused("Content-Length 0x5", post(b"Content-Length: 0x5\r\n", b"hello" + SMUGGLED), 400)
expect_refused("Content-Length with Transfer-Encoding", post(b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n" + SMUGGLED), 400)
expect_refused("Transfer-Encoding with Content-Length", post(b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", b"0\r\n\r\n" + SMUGGLED), 400)
expect_refused("space before the colon", post(b"Transfer-Encoding : chunked\r\n", b"0\r\n\r\n" + SMUGGLED), 400)
expect_refused("tab before the colon", post(b"Content-Length\t: 5\r\n", b"hello" + SMUGGLED), 400)
expect_refused("obs-fold on Transfer-Encoding", post(b"Transfer-Encoding:\r\n chunked\r\n", b"0\r\n\r\n" + SMUGGLED), 400)
expect_refused("obs-fold on any header", post(b"X-A: 1\r\n\tcontinued\r\nContent-Length: 0\r\n", SMUGGLED), 400)
expect_refused("chunk size 0x5", post(b"Transfer-Encoding: chunked\r\n", b"0x5\r\nhello\r\n0\r\n\r\n" + SMUGGLED), 400)
expect_refused("chunk size with a leading space", post(b"Transfer-Encoding: chunked\r\n", b" 5\r\nhello\r\n0\r\n\r\n" + SMUGGLED), 400)
expect_refused("chunk size not hex", post(b"Transfer-Encoding: chunked\r\n", b"zz\r\nhello\r\n0\r\n\r\n" + SMUGGLED), 400)
expect_refused("chunk size overflowing", post(b"Transfer-Encoding: chunked\r\n", b"10000000000000000\r\nx\r\n0\r\n\r\n" + SMUGGLED), 400)
expect_refused("chunk data longer than its size", post(b"Transfer-Encoding: chunked\r\n", b"3\r\nhello\r\n0\r\n\r\n" + SMUGGLED), 400)
expect_refused("unknown transfer coding", post(b"Transfer-Encoding: gzip\r\n", b"hello" + SMUGGLED), 501)
expect_refused("coding before chunked", post(b"Transfer-Encoding: gzip, chunked\r\n", b"0\r\n\r\n" + SMUGGLED), 501)
expect_refused("chunked twice", post(b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n" + SMUGGLED), 400)
expect_refused("chunked, chunked", post(b"Transfer-Encoding: chunked, chunked\r\n", b"0\r\n\r\n" + SMUGGLED), 400)
expect_refused("identity coding", post(b"Transfer-Encoding: identity\r\n", b"hello" + SMUGGLED), 501)
expect_refused("Transfer-Encoding in HTTP/1.0", b"POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED, 400)
expect_refused("header name with =", b"GET /echo HTTP/1.1\r\nHost: x\r\nX=Y: 1\r\n\r\n" + SMUGGLED, 400)
expect_refused("header with a control byte", b"GET /echo HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n" + SMUGGLED, 400)
expect_refused("header line without a colon", b"GET /echo HTTP/1.1\r\nHost: x\r\nnocolon\r\n\r\n" + SMUGGLED, 400)
expect_refused("HTTP/1.1 without Host", b"GET /echo HTTP/1.1\r\n\r\n" + SMUGGLED, 400)
expect_refused("two Host headers", b"GET /echo HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n" + SMUGGLED, 400)
expect_refused("HTTP/2 request line", b"GET /echo HTTP/2.0\r\nHost: x\r\n\r\n" + SMUGGLED, 505)
expect_refused("unknown method", b"BREW /echo HTTP/1.1\r\nHost: x\r\n\r\n" + SMUGGLED, 501)
expect_refused("CONNECT", b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n" + SMUGGLED, 501)
expect_refused("Expect other than 100-continue", post(b"Expect: something\r\nContent-Length: 0\r\n", SMUGGLED), 417)

# -- what must still work
data, _ = exchange(post(b"Transfer-Encoding: chunked\r\nConnection: close\r\n", b"5;foo=bar\r\nhello\r\n0\r\n\r\n"))
report(statuses(data) == [200] and b"body: hello" in data, "chunk extension accepted", repr(data[:300]))
data, _ = exchange(post(b"Transfer-Encoding: Chunked\r\nConnection: close\r\n", b"5\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n"))
report(statuses(data) == [200] and b"body: hello" in data, "chunked (any case) with a trailer", repr(data[:300]))
data, _ = exchange(b"GET /echo/x HTTP/1.0\r\n\r\n")
report(statuses(data) == [200] and b"path: /x" in data, "HTTP/1.0 without Host", repr(data[:300]))
data, _ = exchange(b"\r\nGET /echo/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
report(statuses(data) == [200], "an empty line before the request line is ignored", repr(data[:300]))
data, _ = exchange(b"GET http://example.com/echo/abs?q=1 HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n")
report(statuses(data) == [200] and b"path: /abs" in data and b"query: q=1" in data, "absolute-form target", repr(data[:300]))
data, _ = exchange(post(b"Content-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n", b""), timeout=1.5)
report(data.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), "100 Continue sent", repr(data[:100]))

# -- HEAD: the headers GET would get, no body, and the connection stays in step
s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
s.sendall(b"HEAD " + HEAD_APP + b"/x HTTP/1.1\r\nHost: x\r\n\r\nGET " + HEAD_APP +
          b"/y HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
s.close()
head_end = data.find(b"\r\n\r\n")
second = data.find(b"HTTP/1.1 ", head_end)
m = re.search(rb"Content-Length: (\d+)", data[:head_end])
ok = statuses(data) == [200, 200] and second == head_end + 4 and m and int(m.group(1)) > 0
report(ok, "HEAD: Content-Length, no body, next answer right after", repr(data[:400]))

# -- paths: NUL, dot segments, the control prefix
def status_of(target, extra=b""):
    data, _ = exchange(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + extra + b"\r\n")
    got = statuses(data)
    return (got[0] if got else None), data


for target in (b"/echo/a%00b", b"/echo/%00", b"/echo/a%0"):
    code, _ = status_of(target)
    report(code == 400, "path %s refused" % target.decode(), "status %s" % code)
for target, path in ((b"/hello/../echo/x", b"path: /x"), (b"/hello/%2e%2E/echo/y", b"path: /y"),
                     (b"/echo/./a/../b", b"path: /b"), (b"/../../echo/z", b"path: /z")):
    code, data = status_of(target)
    report(code == 200 and path in data and b"route: /echo" in data, "dot segments in %s resolved before routing" % target.decode(),
           "%s %r" % (code, data[-200:]))
code, _ = status_of(b"/echo/a%2f..%2fb")
report(code == 400, "an encoded slash making a dot segment is refused", "status %s" % code)
code, data = status_of(b"/echo/a%20b")
report(code == 200 and b"path: /a b" in data, "ordinary escapes still decoded", "%s" % code)
code, _ = status_of(b"/echo/a b")
report(code == 400, "a raw space in the target is refused", "status %s" % code)
code, _ = status_of(b"/_qyvol/nothing")
report(code == 404, "unknown /_qyvol/ endpoint is 404", "status %s" % code)

# -- headers that must not reach the guest's environment
code, data = status_of(b"/echo", b"Proxy: http://evil:8080\r\nX_Token: under\r\nX-Token: dash\r\n")
report(code == 200 and b"HTTP_PROXY" not in data, "Proxy header not given as HTTP_PROXY (httpoxy)", repr(data[-300:]))
report(code == 200 and data.count(b"HTTP_X_TOKEN") == 1 and b"HTTP_X_TOKEN=dash" in data,
       "a header with '_' cannot pose as its '-' twin", repr(data[-300:]))

# -- limits: a huge head, a huge declared body
data, closed = exchange(b"GET /echo HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n" + SMUGGLED)
report(statuses(data) == [431] and closed, "a head over the limit gets 431 and a close", "%s" % statuses(data))
data, closed = exchange(post(b"Content-Length: 999999999999\r\n", b"x"))
report(statuses(data) == [413] and closed, "a declared body over --max-body gets 413 at once", "%s" % statuses(data))

# -- pipelining: many requests in one write, each answered once, in order
reqs = b"".join(b"GET /echo/%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(50))
data, _ = exchange(reqs + b"GET /echo/last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", timeout=20)
paths = re.findall(rb"^path: (\S+)$", data, re.M)
report(paths == [b"/%d" % i for i in range(50)] + [b"/last"], "51 pipelined requests answered once each, in order",
       "%d answers" % len(paths))
