#!/usr/bin/env python3
"""A bounded request loop for the cluster's end-to-end tests.

load.py SECONDS CONCURRENCY PATH PORT... : CONCURRENCY threads send GET
PATH round the given loopback ports, one request after another each, for
SECONDS; then prints "ok failed" (failed: a status other than 200, or no
answer) and the first few failures on stderr. Exits 0 either way.
"""
import http.client
import sys
import threading
import time

secs, conc, path, ports = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4:]
lock = threading.Lock()
counts = {"ok": 0, "failed": 0}
failures = []


def worker(k):
    end = time.time() + secs
    i = k
    while time.time() < end:
        port = int(ports[i % len(ports)])
        i += 1
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
            c.request("GET", path)
            r = c.getresponse()
            body = r.read()
            good = r.status == 200
            why = "%d %s" % (r.status, body[:120])
        except Exception as e:  # no answer at all
            good, why = False, repr(e)
        with lock:
            counts["ok" if good else "failed"] += 1
            if not good and len(failures) < 5:
                failures.append(why)


threads = [threading.Thread(target=worker, args=(k,)) for k in range(conc)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(counts["ok"], counts["failed"])
for f in failures:
    print("failure:", f, file=sys.stderr)
