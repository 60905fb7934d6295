"""Webhook ingest under gunicorn: signed HubSpot webhooks stored per second and
acknowledgement latency, side by side with a bare endpoint of the same server.

Run from the repository root: ``.venv/bin/python bench/ingest.py``. It serves the
hub with gunicorn (gthread, 2 workers x 4 threads, ``HUB_WORKER=0``) on a fresh
SQLite database, pre-signs webhooks with HubSpot's v3 signature and an app secret,
and loads both endpoints from a second process: ``wrk`` when it is installed
(``apt-get install -y wrk``), else a Python load generator.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SECRET = "bench-app-secret-0123456789"
APP_ID = "424242"


def bench_app():
    """Return the hub's app with one more route that reads a webhook and stores
    nothing: the bare endpoint the ingress is measured against."""
    from flask import jsonify, request

    from hub import create_app, csrf

    app = create_app()

    @app.post("/bench/bare/hooks/<connector>/<token>")
    def bare(connector: str, token: str):
        request.get_data()
        return jsonify(stored=0)

    csrf.exempt(bare)
    return app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


#: The ingress's own settings, passed through from the environment to compare them.
TUNING = ("HUB_ENDPOINT_CACHE_SECONDS", "HUB_GROUP_COMMIT_MS")


def environment(tmp: Path, port: int) -> dict:
    from cryptography.fernet import Fernet

    return {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith("HUB_") or k in TUNING
        },
        "HUB_INSTANCE_PATH": str(tmp / "instance"),
        "HUB_DATABASE_URL": f"sqlite:///{tmp / 'hub.sqlite'}",
        "HUB_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "HUB_WORKER": "0",
        "HUB_LOAD_PLUGINS": "hubspot",
        "HUB_SECRET_KEY": "bench-secret-key-" + "x" * 32,
        "HUB_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }


def prepare(env: dict) -> tuple[str, str]:
    """Migrate the database and make an agency whose HubSpot connection signs with
    an app secret; return the webhook path and the connection's portal id."""
    os.environ.update(env)
    from flask_migrate import upgrade

    from hub import create_app
    from hub.extensions import db
    from hub.models import Agency, Connection
    from hub.settings import save_settings

    app = create_app()
    with app.app_context():
        upgrade()
        agency = Agency(slug="bench", name="Bench Home Care", settings={})
        connection = Connection(agency=agency, connector="hubspot", settings={})
        info = app.extensions["hub.connectors"].info("hubspot")
        save_settings(
            connection,
            info,
            {
                "access_token": "pat-na1-bench",
                "app_id": APP_ID,
                "client_secret": SECRET,
            },
        )
        db.session.add(agency)
        db.session.commit()
        url = connection.webhook_url("contact.created")
        db.session.commit()
        db.engine.dispose()
    return url.removeprefix(env["HUB_PUBLIC_URL"]), env["HUB_PUBLIC_URL"]


def signed_requests(
    path: str, public: str, count: int, first: int = 0
) -> list[tuple[str, dict, str]]:
    """Return ``count`` distinct contact-created webhooks, signed as HubSpot would,
    for the contacts numbered from ``first``."""
    from carehub_hubspot.signatures import signed_headers

    now_ms = int(time.time() * 1000)
    made = []
    for n in range(first, first + count):
        body = json.dumps(
            {
                "vid": 1_000_000 + n,
                "canonical-vid": 1_000_000 + n,
                "properties": {"firstname": {"value": f"Bench {n}"}},
            },
            separators=(",", ":"),
        )
        headers = signed_headers(SECRET, "POST", public + path, body.encode(), now_ms)
        headers["Content-Type"] = "application/json"
        made.append((path, headers, body))
    return made


def lua_script(requests: list[tuple[str, dict, str]], target: Path) -> None:
    """Write a wrk script that cycles through the requests, each wrk thread taking
    its own share so no two threads send the same webhook.

    The requests go in a data file the script reads, one a line (path, then each
    header as name and value, then the body, separated by tabs), since a script
    holding them all as literals passes LuaJIT's limit of constants.
    """
    data = target.with_suffix(".tsv")
    with data.open("w") as out:
        for path, headers, body in requests:
            fields = [path, *(x for pair in headers.items() for x in pair), body]
            out.write("\t".join(fields) + "\n")
    target.write_text(
        f"""
local data_file = "{data}"
local counter = 1
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
function init(args)
  step = tonumber(args[1]) or 1
  prefix = args[2] or ""
  all = {{}}
  local n = 0
  for line in io.lines(data_file) do
    n = n + 1
    if (n - id) % step == 0 then
      local f = {{}}
      for field in string.gmatch(line, "[^\t]+") do f[#f + 1] = field end
      local headers = {{}}
      for k = 2, #f - 1, 2 do headers[f[k]] = f[k + 1] end
      all[#all + 1] = wrk.format("POST", prefix .. f[1], headers, f[#f])
    end
  end
  i = 0
end
function request()
  i = i + 1
  return all[((i - 1) % #all) + 1]
end
"""
    )


UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def run_wrk(url: str, script: Path, seconds: int, connections: int, prefix: str):
    threads = 2
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            url,
            "--",
            str(threads),
            prefix,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if os.environ.get("BENCH_VERBOSE"):
        print(out)
    found = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.MULTILINE))
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)

    def seconds_of(text: str) -> float:
        number, unit = re.match(r"([\d.]+)(\w+)", text).groups()
        return float(number) * UNITS[unit]

    return {
        "rate": rate,
        "p50": seconds_of(found["50"]),
        "p99": seconds_of(found["99"]),
        "errors": int(non2xx.group(1)) if non2xx else 0,
    }


def _python_worker(url, requests, seconds, results) -> None:
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port)
    latencies, errors, deadline = [], 0, time.monotonic() + seconds
    for path, headers, body in requests:
        if time.monotonic() > deadline:
            break
        started = time.perf_counter()
        conn.request("POST", path, body=body, headers=headers)
        answer = conn.getresponse()
        answer.read()
        latencies.append(time.perf_counter() - started)
        errors += answer.status >= 300
    results.put((latencies, errors))


def run_python(url: str, requests, seconds: int, connections: int, prefix: str):
    """Load the endpoint from other processes with plain keep-alive connections."""
    results = multiprocessing.Queue()
    shares = [
        [(prefix + p, h, b) for p, h, b in requests[n::connections]]
        for n in range(connections)
    ]
    started = time.monotonic()
    workers = [
        multiprocessing.Process(
            target=_python_worker, args=(url, share, seconds, results)
        )
        for share in shares
    ]
    for worker in workers:
        worker.start()
    gathered = [results.get() for _ in workers]
    for worker in workers:
        worker.join()
    elapsed = time.monotonic() - started
    latencies = sorted(x for got, _ in gathered for x in got)
    return {
        "rate": len(latencies) / elapsed,
        "p50": statistics.median(latencies),
        "p99": latencies[int(len(latencies) * 0.99)],
        "errors": sum(e for _, e in gathered),
    }


def count_events(db_path: Path) -> int:
    import sqlite3

    with sqlite3.connect(db_path) as conn:
        return conn.execute("SELECT count(*) FROM event").fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="Rounds, each measuring the bare endpoint then the ingress.",
    )
    parser.add_argument("--seconds", type=int, default=5, help="Each measurement.")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--requests", type=int, default=20_000, help="Distinct webhooks a round."
    )
    parser.add_argument("--python", action="store_true", help="Do not use wrk.")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="carehub-bench-"))
    port = free_port()
    env = environment(tmp, port)
    path, public = prepare(env)
    # Each round and the warm-up have webhooks of their own contacts, so the
    # ingress stores every webhook it measures.
    batches = [
        signed_requests(path, public, args.requests, first=n * args.requests)
        for n in range(args.rounds + 1)
    ]
    use_wrk = shutil.which("wrk") and not args.python
    sources: list = batches
    if use_wrk:
        sources = [tmp / f"webhooks-{n}.lua" for n in range(len(batches))]
        for batch, script in zip(batches, sources, strict=True):
            lua_script(batch, script)
    warm = sources[-1]

    server = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "--worker-class",
            "gthread",
            "--workers",
            "2",
            "--threads",
            "4",
            "--bind",
            f"127.0.0.1:{port}",
            "--pythonpath",
            str(ROOT / "bench"),
            "--log-level",
            "warning",
            "ingest:bench_app()",
        ],
        # Run outside the repository, so its gunicorn.conf.py (with an access log
        # line per request) does not apply: both endpoints are measured bare.
        cwd=tmp,
        env=env,
    )
    try:
        wait_until_up(public)
        load = run_wrk if use_wrk else run_python
        target = public
        # A short warm-up of each, so both start with imported code and open files.
        load(target, warm, 2, 4, "/bench/bare")
        load(target, warm, 2, 4, "")
        # The endpoints take turns, so a change in what else the machine does
        # falls on both alike.
        rounds = []
        for source in sources[: args.rounds]:
            bare = load(target, source, args.seconds, args.connections, "/bench/bare")
            before = count_events(tmp / "hub.sqlite")
            started = time.monotonic()
            ingest = load(target, source, args.seconds, args.connections, "")
            elapsed = time.monotonic() - started
            stored = count_events(tmp / "hub.sqlite") - before
            ingest["stored"] = stored / min(elapsed, args.seconds)
            rounds.append((bare, ingest))
    finally:
        server.terminate()
        server.wait(timeout=20)

    if not any(ingest["stored"] for _, ingest in rounds):
        raise SystemExit(
            "The ingress stored no events: the load generator's requests did not "
            "reach it; run with BENCH_VERBOSE=1 to see wrk's output."
        )
    report(rounds, args, "wrk" if use_wrk else "python", env)


def report(rounds, args, generator: str, env: dict) -> None:
    """Print each round's figures, then the medians and the ratio."""
    tuning = "".join(f", {k}={env[k]}" for k in TUNING if k in env)
    print(
        f"load generator: {generator}, {args.connections} connections; "
        f"{args.rounds} rounds of {args.seconds} s on each endpoint, taking turns; "
        f"gunicorn gthread 2x4, HUB_WORKER=0{tuning}"
    )
    print(
        f"{'round':<7}{'bare req/s':>11}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'stored/s':>10}{'p50 ms':>8}{'p99 ms':>8}{'errors':>8}{'ratio':>8}"
    )
    ratios = []
    for n, (bare, ingest) in enumerate(rounds, 1):
        ratios.append(ingest["stored"] / bare["rate"])
        print(
            f"{n:<7}{bare['rate']:>11.0f}{bare['p50'] * 1000:>8.2f}"
            f"{bare['p99'] * 1000:>8.2f}{ingest['stored']:>10.0f}"
            f"{ingest['p50'] * 1000:>8.2f}{ingest['p99'] * 1000:>8.2f}"
            f"{bare['errors'] + ingest['errors']:>8}{ratios[-1]:>7.2f}x"
        )

    def median(key: str, side: int) -> float:
        return statistics.median(pair[side][key] for pair in rounds)

    print(
        f"median: bare {median('rate', 0):.0f} req/s, ingress "
        f"{median('stored', 1):.0f} stored/s; p50 {median('p50', 1) * 1000:.1f} ms "
        f"against {median('p50', 0) * 1000:.1f} ms bare"
    )
    print(
        f"ratio stored/s to bare req/s: {statistics.median(ratios):.2f}x, the median "
        f"of the rounds ({min(ratios):.2f}-{max(ratios):.2f}x) "
        "(aim: at least 0.5x and 1,000 stored/s)"
    )


def wait_until_up(url: str, timeout: float = 30) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/healthz", timeout=5).status_code < 500:
                return
        except requests.RequestException:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not start; see its output above.")


if __name__ == "__main__":
    main()
