#!/usr/bin/env python3
"""Peak memory of writing a large run table: `commonsnet simulate` and a job's end.

usage: run_table_memory.py BINARY [BINARY ...] [--runs N]

For each BINARY, with N runs (default 200,000) of `greedy` on a three-need scenario (demand
perturbed by 0.2, seed 7):
- `BINARY simulate --threads 1 --out T.parquet`: the process's peak resident memory (its
  rusage), and the runs per second it printed;
- `BINARY serve --job-threads 1` and one job of the same runs (at most 100,000, a job's
  bound): the server's peak (VmHWM) when 90% of the runs were done and once the job is done,
  which is when the result file is written.
Stdlib only; Linux (/proc); every server is stopped at the end.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

SCENARIO = {
    "name": "tiny",
    "resources": [
        {"id": "r1", "community": "a", "kind": "k", "capacity": {"units": 2}},
        {"id": "r2", "community": "b", "kind": "k", "capacity": {"units": 1}},
    ],
    "needs": [
        {"id": "n1", "community": "a", "kind": "k", "demand": {"units": 1}},
        {"id": "n2", "community": "b", "kind": "k", "demand": {"units": 1}, "priority": 2},
        {"id": "n3", "community": "b", "kind": "k", "demand": {"units": 2}},
    ],
}


def simulate_peak(binary, runs, folder):
    path = os.path.join(folder, "tiny.json")
    with open(path, "w") as f:
        json.dump(SCENARIO, f)
    out = os.path.join(folder, "runs.parquet")
    p = subprocess.Popen(
        [binary, "simulate", "--generator", path, "--replicates", str(runs), "--policies", "greedy",
         "--perturb", "demand=0.2", "--threads", "1", "--seed", "7", "--out", out],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    first = p.stdout.readline().strip()
    p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = status
    return usage.ru_maxrss // 1024, first


def hwm(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM"):
                return int(line.split()[1]) // 1024
    return None


def job_peaks(binary, runs, folder):
    data = os.path.join(folder, "data")
    p = subprocess.Popen([binary, "serve", "--addr", "127.0.0.1:0", "--data", data, "--job-threads", "1"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        base = "http://" + json.loads(p.stdout.readline())["listening"]
        body = json.dumps({"scenarios": [SCENARIO], "policies": ["greedy"], "replicates": runs,
                           "perturb": {"demand": 0.2}, "seed": 7}).encode()
        request = urllib.request.Request(base + "/v1/jobs", body, {"Content-Type": "application/json"})
        job = json.load(urllib.request.urlopen(request))["id"]
        running = None
        while True:
            info = json.load(urllib.request.urlopen(f"{base}/v1/jobs/{job}"))
            if running is None and info["progress"]["done"] >= 0.9 * runs:
                running = hwm(p.pid)
            if info["status"] not in ("queued", "running"):
                return info["status"], running, hwm(p.pid)
            time.sleep(0.5)
    finally:
        p.terminate()
        p.wait()


def main():
    args = sys.argv[1:]
    runs = 200_000
    if "--runs" in args:
        i = args.index("--runs")
        runs = int(args[i + 1])
        del args[i:i + 2]
    if not args:
        sys.exit(__doc__)
    for binary in args:
        with tempfile.TemporaryDirectory() as folder:
            peak, said = simulate_peak(binary, runs, folder)
            print(f"{binary}: simulate {runs} runs: peak {peak} MB ({said})")
        with tempfile.TemporaryDirectory() as folder:
            job_runs = min(runs, 100_000)
            status, running, end = job_peaks(binary, job_runs, folder)
            print(f"{binary}: job of {job_runs} runs {status}: peak {running} MB at 90%, {end} MB at the end")


if __name__ == "__main__":
    main()
