#!/usr/bin/env python3
"""Peak memory of a server answering `GET /v1/jobs/{id}/result` for a large job.

usage: job_result_memory.py BINARY [BINARY ...] --data DIR [--runs N] [--clients C]
                            [--store postgres://...] [--formats json,arrow,parquet]

Makes (once: reused while DIR holds it) a done job of N runs (default 100,000, the run bound
of a job): one two-need scenario under `greedy` and `coverage`, perturbed, explained, run by
the first BINARY's `serve` on DIR (SQLite, or the PostgreSQL database of `--store`). Then, for
each BINARY and each format, starts `BINARY serve` on that store, has C clients (default 6)
fetch the result at once, each reading and dropping it 64 KiB at a time, and prints the
server's resident memory when it listened (VmRSS) and its peak (VmHWM) once the clients are
done, with the answer's size and the time the clients took. A fresh server per format, so each
peak is that format's. Stdlib only; Linux (/proc); every server is stopped at the end.
"""
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request


def arg(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


OPTIONS = {"--data", "--runs", "--clients", "--store", "--formats"}
binaries = []
for i, a in enumerate(sys.argv[1:], 1):
    if a not in OPTIONS and sys.argv[i - 1] not in OPTIONS:
        binaries.append(a)
data = arg("--data", None)
if not binaries or data is None:
    sys.exit(__doc__)
runs = int(arg("--runs", "100000"))
clients = int(arg("--clients", "6"))
store = arg("--store", None)
formats = arg("--formats", "json,arrow,parquet").split(",")
ACCEPT = {
    "json": "application/json",
    "arrow": "application/vnd.apache.arrow.stream",
    "parquet": "application/vnd.apache.parquet",
}


def serve(binary):
    cmd = [binary, "serve", "--addr", "127.0.0.1:0", "--data", data]
    if store:
        cmd += ["--store", store]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    base = "http://" + json.loads(p.stdout.readline())["listening"]
    return p, base


def status_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def job():
    place = lambda i, c, lat: {"id": i, "community": c, "kind": "water", "lat": lat, "lon": 18.0}
    r1, r2 = place("r1", "north", 59.30), place("r2", "south", 59.31)
    r1["capacity"], r2["capacity"] = {"l": 10}, {"l": 4}
    n1, n2 = place("n1", "north", 59.30), place("n2", "south", 59.31)
    n1["demand"], n2["demand"] = {"l": 6}, {"l": 7}
    scenario = {"name": "two-wells", "resources": [r1, r2], "needs": [n1, n2],
                "policy": {"objective": "coverage"}}
    return {"scenarios": [scenario], "policies": ["greedy", "coverage"],
            "replicates": runs // 2, "seed": 5, "perturb": {"demand": 0.3, "failures": 0.2},
            "explain": True}


def make_job():
    """The id of the done job on the store, made by the first binary if it is not there yet."""
    marker = os.path.join(data, "bench-job-id")
    if os.path.exists(marker):
        return open(marker).read().strip()
    p, base = serve(binaries[0])
    try:
        req = urllib.request.Request(base + "/v1/jobs", json.dumps(job()).encode(),
                                     {"Content-Type": "application/json"})
        jid = json.load(urllib.request.urlopen(req))["id"]
        start = time.time()
        while True:
            v = json.load(urllib.request.urlopen(f"{base}/v1/jobs/{jid}"))
            if v["status"] not in ("queued", "running"):
                break
            time.sleep(1)
        assert v["status"] == "done", v
        print(f"job {jid}: {v['progress']['total']} runs in {time.time() - start:.0f} s",
              file=sys.stderr)
    finally:
        p.kill()
        p.wait()
    with open(marker, "w") as f:
        f.write(jid)
    return jid


def fetch(url, accept, sizes, errors):
    try:
        req = urllib.request.Request(url, headers={"Accept": accept})
        with urllib.request.urlopen(req, timeout=600) as r:
            n = 0
            while chunk := r.read(64 << 10):
                n += len(chunk)
            sizes.append(n)
    except Exception as e:  # noqa: BLE001 (reported, the measurement goes on)
        errors.append(repr(e))


os.makedirs(data, exist_ok=True)
jid = make_job()
print(f"| binary | format | clients | answer (MB) | RSS listening (MiB) | peak RSS (MiB) | clients' time (s) |")
print("|---|---|---|---|---|---|---|")
for binary in binaries:
    for fmt in formats:
        p, base = serve(binary)
        try:
            time.sleep(0.5)
            start_rss = status_kb(p.pid, "VmRSS")
            sizes, errors = [], []
            threads = [threading.Thread(target=fetch, args=(f"{base}/v1/jobs/{jid}/result",
                                                            ACCEPT[fmt], sizes, errors))
                       for _ in range(clients)]
            t = time.time()
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            took = time.time() - t
            peak = status_kb(p.pid, "VmHWM")
        finally:
            p.kill()
            p.wait()
        assert not errors, errors
        assert len(set(sizes)) == 1, sizes
        print(f"| {binary} | {fmt} | {clients} | {sizes[0] / 1e6:.1f} | {start_rss / 1024:.0f} "
              f"| {peak / 1024:.0f} | {took:.1f} |", flush=True)
