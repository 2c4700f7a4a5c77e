#!/usr/bin/env python3
"""A request loop for tests/e2e/rollout.sh: GET PATH through the given
ingresses (each thread keeps one connection per ingress and takes them in
turn), until STOP_FILE exists or COUNT requests were sent, then print one
JSON line: {"total", "failed", "versions": {"V": n}, "errors": [...]}.
An answer is failed unless it is 200 with a "version: V" body; a
connection that breaks is a failed request too (and is opened again).

usage: rollout_load.py --targets H:P,H:P --path /web/x
                       (--stop-file F | --count N) [--threads T] [--out FILE]
"""
import argparse
import http.client
import json
import os
import threading
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", required=True)
    ap.add_argument("--path", required=True)
    ap.add_argument("--stop-file")
    ap.add_argument("--count", type=int, default=0)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--out")
    args = ap.parse_args()
    targets = [t.rsplit(":", 1) for t in args.targets.split(",")]
    lock = threading.Lock()
    state = {"total": 0, "failed": 0, "versions": {}, "errors": [], "sent": 0}
    deadline = time.time() + 300  # never run away

    def take():
        with lock:
            if args.count and state["sent"] >= args.count:
                return False
            state["sent"] += 1
            return True

    def worker(index):
        conns = [None] * len(targets)
        turn = index
        while time.time() < deadline:
            if args.stop_file and os.path.exists(args.stop_file):
                break
            if not take():
                break
            k = turn % len(targets)
            turn += 1
            host, port = targets[k]
            status, body, error = 0, b"", None
            try:
                if conns[k] is None:
                    conns[k] = http.client.HTTPConnection(host, int(port), timeout=10)
                conns[k].request("GET", args.path)
                resp = conns[k].getresponse()
                status, body = resp.status, resp.read()
            except Exception as e:  # a broken connection is a failed request
                error = "%s: %s" % (type(e).__name__, e)
                try:
                    conns[k].close()
                except Exception:
                    pass
                conns[k] = None
            version = None
            for line in body.decode("utf-8", "replace").splitlines():
                if line.startswith("version: "):
                    version = line[len("version: "):]
            with lock:
                state["total"] += 1
                if status == 200 and version is not None:
                    state["versions"][version] = state["versions"].get(version, 0) + 1
                else:
                    state["failed"] += 1
                    if len(state["errors"]) < 5:
                        state["errors"].append(error or "%d %s" % (status, body[:200].decode("utf-8", "replace")))
        for c in conns:
            if c is not None:
                c.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    del state["sent"]
    text = json.dumps(state)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
