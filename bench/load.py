"""Throughput under the production server: gunicorn on loopback and a fixed-concurrency load.

Only 127.0.0.1, bounded in time (`seconds`) and in requests (MAX_REQUESTS).
"""

import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from http.client import HTTPConnection
from pathlib import Path

from corpus import TextPool

MAX_REQUESTS = 500_000
REQUEST_TIMEOUT = 30
# One client loop: what PocketPaw's web client does in one short conversation.
LOOP = ["create", "append", "append", "append", "list", "history", "delete"]
# Client threads of the open-loop load: more than the server can keep busy, so none waits long for one.
OPEN_LOOP_CLIENTS = 32


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_kib(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class Gunicorn:
    """`gunicorn -c python:pocketpaw.gunicorn_conf pocketpaw.wsgi`, as `make serve` runs it."""

    def __init__(self, project: Path, env: dict, workers: int = 2):
        self.port = free_port()
        self.command = [
            str(Path(sys.executable).parent / "gunicorn"),
            "-c",
            "python:pocketpaw.gunicorn_conf",
            "pocketpaw.wsgi",
        ]
        self.env = {**env, "BIND": f"127.0.0.1:{self.port}", "WEB_CONCURRENCY": str(workers)}
        self.project = project
        self.workers = workers
        self.process = None

    def __enter__(self):
        # Its log (one JSON line per request) is formatted and written as in production, then dropped.
        self.process = subprocess.Popen(
            self.command, cwd=self.project, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}")
            try:
                connection = HTTPConnection("127.0.0.1", self.port, timeout=5)
                connection.request("GET", "/api/health")
                ok = connection.getresponse().status == 200
                connection.close()
                if ok and len(children(self.process.pid)) >= self.workers:
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not answer /api/health within 60 s")
            time.sleep(0.2)

    def __exit__(self, *exc):
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def worker_memory_mb(self) -> list[dict]:
        return [
            {
                "pid": pid,
                "rss_mb": (status_kib(pid, "VmRSS") or 0) / 1024,
                "peak_mb": (status_kib(pid, "VmHWM") or 0) / 1024,
            }
            for pid in children(self.process.pid)
        ]


def cpu_times() -> tuple[int, int]:
    """(all, idle) jiffies of the whole machine, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return sum(values), values[3] + values[4]


def percentile(sorted_values, fraction):
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * fraction))]


def conversation(connection, headers, key: str, texts: list[str], record, keep_going=lambda: True) -> bool:
    """One LOOP on `connection`: record(op, seconds, status, expected, what) for each request.

    Stops early when keep_going() turns false, deleting the half-made session (recorded with op
    None: checked, not timed), and returns whether the whole LOOP ran.
    """
    for step, op in enumerate(LOOP):
        if not keep_going():
            if step:  # leave nothing behind half done
                status = send(connection, headers, "DELETE", f"/api/sessions/{key}", None)
                record(None, 0.0, status, 200, f"DELETE /api/sessions/{key}")
            return False
        if op == "create":
            method, path, body, expected = "POST", "/api/sessions", {"id": key}, 201
        elif op == "append":
            role = "user" if step % 2 else "assistant"
            method, path, body, expected = (
                "POST",
                f"/api/sessions/{key}/messages",
                {"role": role, "content": texts[step]},
                201,
            )
        elif op == "list":
            method, path, body, expected = "GET", "/api/sessions?limit=50", None, 200
        elif op == "history":
            method, path, body, expected = "GET", f"/api/sessions/{key}/history?limit=50", None, 200
        else:
            method, path, body, expected = "DELETE", f"/api/sessions/{key}", None, 200
        started = time.perf_counter()
        status = send(connection, headers, method, path, body)
        record(op, time.perf_counter() - started, status, expected, f"{method} {path}")
    return True


def send(connection, headers, method: str, path: str, body) -> int | str:
    """The response's status, or what went wrong (the connection is closed, to be reopened by the next request)."""
    try:
        connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    except Exception as error:  # noqa: BLE001 - any failure is counted, not raised
        connection.close()
        return f"{type(error).__name__}: {error}"


def run_open_loop(port: int, tokens: list[str], conversations: int, per_second: float, seed: int = 11) -> dict:
    """`conversations` conversations (one LOOP each) arriving at random, `per_second` on average,
    whatever the server's pace; with `per_second` = inf, all at once.

    A closed loop slows its clients down when the server slows, which hides queueing
    (coordinated omission). Here arrivals are a Poisson process (exponential gaps, seeded):
    conversation k is due at its arrival time, on a new connection, and its first request's
    latency counts from then, so time spent waiting for a free client thread is charged to
    the answer, as a user would feel it. The later requests of a conversation wait for the
    answer before them, as a client does, and are timed from their sending. Clients are
    plentiful (OPEN_LOOP_CLIENTS); the peak number in flight and the generator's own CPU time
    are returned so that a generator which became the queue shows.
    """
    pool = TextPool(seed=seed, size=512)
    arrivals = random.Random(seed)
    lock = threading.Lock()
    latencies: dict[str, list[float]] = {op: [] for op in set(LOOP)}
    errors: list[str] = []
    started_late: list[float] = []
    due, at = [], time.perf_counter() + 0.05
    for _ in range(conversations):
        due.append(at)
        at += arrivals.expovariate(per_second) if per_second != float("inf") else 0.0
    next_index = [0]
    in_flight = [0, 0]  # now, peak
    finished = [due[0]]

    def client(number: int):
        while True:
            with lock:
                k = next_index[0]
                next_index[0] += 1
            if k >= len(due):
                return
            delay = due[k] - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            late = max(0.0, time.perf_counter() - due[k])
            headers = {"Authorization": f"Bearer {tokens[k % len(tokens)]}", "Content-Type": "application/json"}
            first = [True]

            def record(op, elapsed, status, expected, what, late=late, first=first):
                with lock:
                    latencies[op].append(elapsed + (late if first[0] else 0.0))
                    if first[0]:
                        started_late.append(late)
                        first[0] = False
                    if status != expected:
                        errors.append(f"{what} -> {status}")

            texts = [pool.text(k * len(LOOP) + i) for i in range(len(LOOP))]
            with lock:
                in_flight[0] += 1
                in_flight[1] = max(in_flight)
            # A connection of its own, as a newly arrived user opens: one kept between conversations
            # would sit idle past the server's keep-alive and be closed under it.
            connection = HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
            conversation(connection, headers, f"open_{number}_{k}", texts, record)
            connection.close()
            with lock:
                in_flight[0] -= 1
                finished[0] = max(finished[0], time.perf_counter())

    threads = [threading.Thread(target=client, args=(i,)) for i in range(OPEN_LOOP_CLIENTS)]
    cpu_before, own_before = cpu_times(), os.times()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(due[-1] - time.perf_counter() + 4 * REQUEST_TIMEOUT * len(LOOP))
    cpu_after, own_after = cpu_times(), os.times()
    window = max(1e-9, finished[0] - due[0])
    everything = sorted(x for values in latencies.values() for x in values)
    return {
        "offered_rps": per_second * len(LOOP),
        "conversations": conversations,
        "requests": len(everything),
        # From the first arrival to the last answer: below the offered rate when the server fell behind.
        "achieved_rps": len(everything) / window,
        "p50_ms": percentile(everything, 0.50) * 1000,
        "p99_ms": percentile(everything, 0.99) * 1000,
        "max_ms": (everything[-1] if everything else float("nan")) * 1000,
        "per_op": {
            op: {
                "requests": len(values),
                "p50_ms": percentile(sorted(values), 0.50) * 1000,
                "max_ms": max(values, default=float("nan")) * 1000,
            }
            for op, values in latencies.items()
        },
        "started_late_max_ms": max(started_late, default=0.0) * 1000,
        "peak_in_flight": in_flight[1],
        "clients": OPEN_LOOP_CLIENTS,
        # The generator's own CPU time over the run's span, in cores: what it took from the server.
        "generator_cores": (own_after.user + own_after.system - own_before.user - own_before.system) / window,
        "errors": len(errors),
        "error_samples": errors[:5],
        "cpu_busy": 1 - (cpu_after[1] - cpu_before[1]) / max(1, cpu_after[0] - cpu_before[0]),
    }


def run_load(port: int, tokens: list[str], seconds: float, exporter: tuple[str, str] | None = None) -> dict:
    """len(tokens) clients (one user each), each looping LOOP on its own keep-alive connection.

    With `exporter` (a token and a session id), one more client downloads that session's
    export over and over, beside the mix; its requests are counted apart from it.
    """
    pool = TextPool(seed=9, size=512)
    lock = threading.Lock()
    latencies: dict[str, list[float]] = {op: [] for op in set(LOOP)}
    exports: list[float] = []
    errors: list[str] = []
    count = [0]
    stop_at = time.perf_counter() + seconds

    def export_client(token: str, session_id: str):
        headers = {"Authorization": f"Bearer {token}"}
        connection = HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            status = send(connection, headers, "GET", f"/api/sessions/{session_id}/export", None)
            with lock:
                exports.append(time.perf_counter() - started)
                if status != 200:
                    errors.append(f"GET export -> {status}")
        connection.close()

    def client(number: int, token: str):
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        connection = HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
        loop = 0
        while conversation(
            connection,
            headers,
            f"load_{number}_{loop}",
            [pool.text(number * 1000 + loop * 3 + step) for step in range(len(LOOP))],
            record,
            keep_going=lambda: time.perf_counter() < stop_at and count[0] < MAX_REQUESTS,
        ):
            loop += 1
        connection.close()

    def record(op, elapsed, status, expected, what):
        with lock:
            count[0] += 1
            if op is not None:
                latencies[op].append(elapsed)
            if status != expected:
                errors.append(f"{what} -> {status}")

    threads = [threading.Thread(target=client, args=(i, token)) for i, token in enumerate(tokens)]
    if exporter:
        threads.append(threading.Thread(target=export_client, args=exporter))
    cpu_before = cpu_times()
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 4 * REQUEST_TIMEOUT)
    elapsed = time.perf_counter() - started
    cpu_after = cpu_times()
    everything = sorted(x for values in latencies.values() for x in values)
    per_op = {}
    for op, values in latencies.items():
        values.sort()
        per_op[op] = {
            "requests": len(values),
            "p50_ms": percentile(values, 0.50) * 1000,
            "p99_ms": percentile(values, 0.99) * 1000,
            "max_ms": (values[-1] if values else float("nan")) * 1000,
        }
    return {
        "seconds": elapsed,
        "concurrency": len(tokens),
        "requests": count[0],
        "rps": count[0] / elapsed,
        "p50_ms": percentile(everything, 0.50) * 1000,
        "p99_ms": percentile(everything, 0.99) * 1000,
        "errors": len(errors),
        "error_samples": errors[:5],
        "per_op": per_op,
        "exports": {"requests": len(exports), "median_ms": percentile(sorted(exports), 0.5) * 1000}
        if exporter
        else None,
        "client_pid": os.getpid(),
        # Of all the machine's CPU time during the load (server and clients together), the busy part.
        "cpu_busy": 1 - (cpu_after[1] - cpu_before[1]) / max(1, cpu_after[0] - cpu_before[0]),
    }
