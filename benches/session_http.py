#!/usr/bin/env python3
"""Event-to-answer latency of a live session over HTTP (issue 18's measurement).

usage: session_http.py BINARY [--needs N] [--teams M] [--events E] [--fairness none|maxmin]
                       [--dims 1|2] [--communities C] [--seed S] [--warm] [--budget MS]
                       [--checkpoint-every K] [--reload] [--new-connections]

Starts `BINARY serve` on 127.0.0.1 (a free port, SQLite in a temporary folder), creates one
session of N needs (default 1,500) and M teams (default 400) of ONE kind spread over a city,
with a radius that covers it (every need may take every team: one component), then sends E
events (default 100) one at a time, cycling need_added, need_updated, need_withdrawn,
dispatched and resource_updated, and prints the median and p99 of each kind's round trip
(request sent to answer read) in ms. Needs and teams are spread over C communities (default
6, the groups of `fairness`); with `--communities 1` max-min adds nothing to the coverage
objective and the session re-plans as a coverage one (`Policy::fairness_implied`). `--warm`
starts the server with `--warm-sessions` (the same stream re-planned warm; without it, cold).
`--budget MS` starts it with `--replan-budget-ms MS`: answers past the budget come with
`replanning: true` and their changes on the stream, which this client does not read: it
reads the plan instead, untimed, which waits for the re-plan, so every event meets an idle
session (the count of such answers is printed). `--checkpoint-every K` passes `--session-checkpoint-every K` to the server.
The events go over one kept-alive connection, as a console's `fetch` sends them;
`--new-connections` opens a new one per event instead (as this script did before 2026-12-04).
`--reload` then kills the server (SIGKILL), starts it again on the same data and times the
first read of the session, which rebuilds it from its log. Stdlib only; the server is
stopped at the end.
"""
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request


def arg(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


class Poster:
    """POSTs JSON over one kept-alive connection (a new one per request when `fresh`)."""

    def __init__(self, base, fresh):
        self.host = base.removeprefix("http://")
        self.fresh = fresh
        self.conn = None

    def post(self, path, body):
        if self.conn is None or self.fresh:
            if self.conn is not None:
                self.conn.close()
            self.conn = http.client.HTTPConnection(self.host, timeout=600)
        self.conn.request("POST", path, body=json.dumps(body).encode(),
                          headers={"Content-Type": "application/json"})
        r = self.conn.getresponse()
        data = r.read()
        if not 200 <= r.status < 300:
            raise RuntimeError(f"POST {path}: {r.status} {data[:200]!r}")
        return json.loads(data)

    def close(self):
        if self.conn is not None:
            self.conn.close()


def get(base, path):
    with urllib.request.urlopen(base + path, timeout=600) as r:
        return json.loads(r.read())


def scenario(rng, needs, teams, dims, fairness, zones):
    def point():
        return round(45.07 + rng.gauss(0, 0.06), 5), round(7.68 + rng.gauss(0, 0.08), 5)

    dim_names = ["team_h", "kits"][:dims]
    resources = []
    for i in range(teams):
        lat, lon = point()
        resources.append({"id": f"team{i}", "community": f"zone{i % zones}", "kind": "rescue", "lat": lat,
                          "lon": lon, "capacity": {d: rng.randint(4, 12) for d in dim_names}})
    policy = {"max_distance_km": 100, "speed_kmh": 40, "cost_per_km": 1.0}
    if fairness != "none":
        policy.update({"fairness": fairness, "cross_community": True})
    return {"resources": resources, "needs": [need(rng, i, dim_names, zones) for i in range(needs)],
            "policy": policy}


def need(rng, i, dim_names, zones):
    lat, lon = round(45.07 + rng.gauss(0, 0.06), 5), round(7.68 + rng.gauss(0, 0.08), 5)
    return {"id": f"inc{i}", "community": f"zone{rng.randrange(zones)}", "kind": "rescue", "lat": lat,
            "lon": lon, "demand": {d: rng.randint(1, 6) for d in dim_names}, "priority": rng.randint(1, 5)}


def main():
    binary = sys.argv[1]
    needs = int(arg("--needs", 1500))
    teams = int(arg("--teams", 400))
    count = int(arg("--events", 100))
    fairness = arg("--fairness", "none")
    dims = int(arg("--dims", 1))
    zones = int(arg("--communities", 6))
    rng = random.Random(int(arg("--seed", 1)))
    dim_names = ["team_h", "kits"][:dims]
    data = tempfile.mkdtemp()
    warm = ["--warm-sessions"] if "--warm" in sys.argv else []
    budget = arg("--budget", None)
    checkpoint = arg("--checkpoint-every", None)
    extra = warm + (["--replan-budget-ms", budget] if budget is not None else [])
    extra += ["--session-checkpoint-every", checkpoint] if checkpoint is not None else []

    def start():
        server = subprocess.Popen([binary, "serve", "--addr", "127.0.0.1:0", "--data", data]
                                  + extra, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  text=True)
        # The first line is `{"listening": "127.0.0.1:PORT"}`; the log after it is drained so
        # that a full pipe never blocks the server.
        base = "http://" + json.loads(server.stdout.readline())["listening"]
        threading.Thread(target=lambda: [None for _ in server.stdout], daemon=True).start()
        return server, base

    server, base = start()
    try:
        s = scenario(rng, needs, teams, dims, fairness, zones)
        poster = Poster(base, "--new-connections" in sys.argv)
        t = time.perf_counter()
        sid = poster.post("/v1/sessions", {"scenario": s})["id"]
        created = time.perf_counter() - t
        # The plan as the client sees it: read once, then kept from each answer's changed
        # matches (as a coordinator's console does), so no read sits between events.
        plan = {(a["resource"], a["need"]) for a in
                get(base, f"/v1/sessions/{sid}/state")["plan"]["allocations"]}
        kinds = ["need_added", "need_updated", "need_withdrawn", "dispatched", "resource_updated"]
        times = {k: [] for k in kinds}
        live = [n["id"] for n in s["needs"]]
        next_id = needs
        replanning = 0
        for e in range(count):
            kind = kinds[e % len(kinds)]
            if kind == "need_added":
                n = need(rng, next_id, dim_names, zones)
                next_id += 1
                live.append(n["id"])
                ev = {"type": "need_added", "need": n}
            elif kind == "need_updated":
                n = need(rng, 0, dim_names, zones)
                n["id"] = live[rng.randrange(len(live))]
                ev = {"type": "need_updated", "need": n}
            elif kind == "need_withdrawn":
                ev = {"type": "need_withdrawn", "id": live.pop(rng.randrange(len(live)))}
            elif kind == "dispatched":
                # A match of the current plan, on a need not dispatched before.
                open_matches = sorted(m for m in plan if m[1] in live)
                r, n = open_matches[rng.randrange(len(open_matches))]
                live.remove(n)
                ev = {"type": "dispatched", "need": n, "resource": r}
            else:
                i = rng.randrange(teams)
                r = dict(s["resources"][i])
                r["capacity"] = {d: rng.randint(4, 12) for d in dim_names}
                ev = {"type": "resource_updated", "resource": r}
            t = time.perf_counter()
            answer = poster.post(f"/v1/sessions/{sid}/events", {"events": [ev]})
            times[kind].append((time.perf_counter() - t) * 1000)
            if answer.get("replanning"):
                replanning += 1
                # The changes come on the stream: read the plan instead (untimed).
                plan = {(a["resource"], a["need"]) for a in
                        get(base, f"/v1/sessions/{sid}/state")["plan"]["allocations"]}
            for c in answer["changed"]:
                key = (c["resource"], c["need"])
                if c["after"] > 0:
                    plan.add(key)
                else:
                    plan.discard(key)
        print(f"session of {needs} needs x {teams} teams, one component, {dims} dimension(s), "
              f"fairness {fairness}, {'warm' if warm else 'cold'}"
              f"{f', budget {budget} ms' if budget is not None else ''}: created in {created:.2f} s; "
              f"{count} events one at a time"
              f"{' (a new connection each)' if poster.fresh else ' (one kept-alive connection)'}"
              f"{f', {replanning} answered replanning' if budget is not None else ''}")
        print("| event | n | median (ms) | p99 (ms) |")
        print("|---|---|---|---|")
        every = []
        for k in kinds:
            xs = sorted(times[k])
            every += xs
            if xs:
                p99 = xs[min(len(xs) - 1, round(0.99 * (len(xs) - 1)))]
                print(f"| {k} | {len(xs)} | {statistics.median(xs):.1f} | {p99:.1f} |")
        poster.close()
        every.sort()
        print(f"| all | {len(every)} | {statistics.median(every):.1f} | "
              f"{every[min(len(every) - 1, round(0.99 * (len(every) - 1)))]:.1f} |")
        if "--reload" in sys.argv:
            server.kill()
            server.wait(timeout=30)
            size = sum(os.path.getsize(os.path.join(d, f))
                       for d, _, fs in os.walk(data) for f in fs)
            server, base = start()
            t = time.perf_counter()
            get(base, f"/v1/sessions/{sid}/state")
            print(f"rebuilt from its log after kill -9 in {time.perf_counter() - t:.2f} s "
                  f"(data folder {size / 1e6:.1f} MB)")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
