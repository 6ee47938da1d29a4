#!/usr/bin/env python
"""Ours beside the original tool's own web backend (github.com/oinant/local-sd-generator, the
FastAPI app in packages/sd-generator-webui/backend, at commit PINNED below) on the same
libraries: 1,000, 5,000 and 10,000 sessions × 10 images made by mklib.py.

    python bench/original.py --original PATH [--python PYTHON] [--sizes 1000,5000,10000] [--requests 30]

PATH is a checkout of the original's repository (or of its backend folder) at the pinned
commit, with the backend's dependencies installed in a virtualenv of its own, outside this
project; PYTHON is that virtualenv's interpreter (default: PATH/.venv/bin/python, then
PATH/venv/bin/python). Without a usable original the script says why and measures ours alone.

For each size, in a fresh process: ours is synced into a fresh SQLite database and served by
granian as `manage.py serve` runs it (its access log on, written to a discarded output); the
original is served by uvicorn on the same folder, after its batch-compute has filled its stats
cache, without the reloading and the access log its own CLI turns on (both would slow it).
Both listen on 127.0.0.1. For every endpoint the original has, the same question goes to
each server in turn (ours first on even rounds, the original first on odd ones), over one
kept-alive connection per server, after 5 unmeasured rounds; the table gives each side's
median of REQUESTS and how many times faster ours is. "304" rows send the ETag of a first
answer back in If-None-Match (the original has no conditional answers: it answers in full).
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from api import Server, free_port
from common import library, setup_django

PINNED = "8f5f26a6b34f6799360fd56e5dbe738d351ef3fe"  # 2025-11-17, "Add global stats endpoint"
IMAGES_PER_SESSION = 10
FEW = "session_id,status,images_actual,thumbnail_url"
TOKEN = "bench-original-token"
NOTE = {"is_favorite": True, "tags": ["keeper", "portrait"], "user_note": "the one with the good light"}


class Original:
    """The original backend under uvicorn, reading ``results`` through a folder of its own.

    It keeps its database beside the image folder it is given (../metadata), so it gets a
    temporary folder with a link to the library in it: nothing is written into the library.
    """

    def __init__(self, backend: Path, python: str, results: Path, *, annotated: str, note: dict) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="sdgen-bench-original-"))
        (self.home / "images").symlink_to(results)
        self.port = free_port()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "IMAGE_FOLDERS": json.dumps([{"name": "bench", "path": str(self.home / "images")}]),
            "VALID_GUIDS": json.dumps([TOKEN]),
            "SDGEN_CONFIG_PATH": str(self.home / "no-config.json"),  # never the user's own config
        }
        self.process = subprocess.Popen(
            [python, "-m", "uvicorn", "sd_generator_webui.main:app", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "warning", "--no-access-log"],
            cwd=backend, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            wait_for_port(self.port, self.process)
            self.call("POST", "/api/sessions/batch-compute", body=b"{}", timeout=600)
            self.call("PATCH", f"/api/sessions/{annotated}/metadata", body=json.dumps(note).encode())
        except Exception:
            self.stop()
            raise

    def call(self, method: str, path: str, *, body: bytes | None = None, timeout: float = 60) -> bytes:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers={"Authorization": f"Bearer {TOKEN}",
                                                                 "Content-Type": "application/json"})
            response = connection.getresponse()
            data = response.read()
            if response.status != 200:
                raise RuntimeError(f"the original answered {method} {path} with {response.status}: {data[:200]!r}")
            return data
        finally:
            connection.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        subprocess.run(["rm", "-rf", str(self.home)], check=False)


def wait_for_port(port: int, process: subprocess.Popen, deadline_s: float = 30) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the original exited with {process.returncode}: {process.stderr.read()[-500:]}")
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=0.2).connect()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the original did not listen on port {port} within {deadline_s:.0f} s")


def find_original(path: Path | None, python: str | None) -> tuple[Path, str] | str:
    """(backend folder, interpreter) of a usable original, or the reason there is none."""
    if path is None:
        return "no --original given"
    backend = path / "packages" / "sd-generator-webui" / "backend"
    if not backend.is_dir():
        backend = path
    if not (backend / "sd_generator_webui" / "main.py").is_file():
        return f"{path} holds no sd_generator_webui/main.py (neither the repository nor its backend folder)"
    if python is None:
        candidates = [path / ".venv" / "bin" / "python", path / "venv" / "bin" / "python"]
        python = next((str(c) for c in candidates if c.exists()), None)
        if python is None:
            return f"no --python given and no virtualenv at {path}/.venv or {path}/venv"
    check = subprocess.run([python, "-c", "import fastapi, uvicorn, PIL, dotenv"], capture_output=True, text=True)
    if check.returncode != 0:
        return f"{python} cannot import the original's dependencies: {check.stderr.strip().splitlines()[-1:]}"
    commit = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True)
    if commit.returncode == 0 and commit.stdout.strip() != PINNED:
        print(f"note: the original is at commit {commit.stdout.strip()[:12]}, not the pinned {PINNED[:12]}")
    elif commit.returncode != 0:
        print(f"note: {path} is not a git checkout; its commit is taken to be the pinned {PINNED[:12]}")
    return backend, python


def endpoints(name: str, image: str) -> list[tuple[str, str, str | None, str]]:
    """(label, our path, the original's path or None, which ETag to send back: '' for none)."""
    list_path = "/api/sessions/?limit=100"
    stats_path = f"/api/sessions/{name}/stats"
    original_list = "/api/sessions/?page=1&page_size=100"
    original_stats = f"/api/sessions/{name}/stats"
    return [
        ("session list, 100", list_path, original_list, ""),
        ("  same, 304", list_path, original_list, list_path),
        ("  same, 4 fields", f"{list_path}&fields={FEW}", None, ""),
        ("a session's stats", stats_path, original_stats, ""),
        ("  same, 304", stats_path, original_stats, stats_path),
        ("library stats", "/api/stats", "/api/sessions/stats", ""),
        ("a session's metadata", f"/api/sessions/{name}/metadata", f"/api/sessions/{name}/metadata", ""),
        ("a session's image count", f"/api/sessions/{name}/?fields=images_actual", f"/api/sessions/{name}/count", ""),
        ("a session's images", f"/api/sessions/{name}/images/", f"/api/sessions/{name}/images", ""),
        ("a session's manifest", f"/api/sessions/{name}/manifest", f"/api/sessions/{name}/manifest", ""),
        ("an image file", f"/api/sessions/{name}/images/{image}", f"/api/images/{name}/{image}", ""),
        ("library images, 20", "/api/images/?limit=20", "/api/images/?page=1&page_size=20", ""),
    ]


class Side:
    """One server over one kept-alive connection."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.auth = {"Authorization": f"Bearer {token}"}
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, float, str | None]:
        started = time.perf_counter()
        try:
            self.connection.request("GET", path, headers={**self.auth, **(headers or {})})
            response = self.connection.getresponse()
        except (http.client.HTTPException, OSError):  # a kept-alive connection the server closed
            self.connection.close()
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            return self.get(path, headers)
        body = response.read()
        return response.status, body, time.perf_counter() - started, response.getheader("ETag")


def compare(ours: Side, theirs: Side | None, rows: list[tuple[str, str, str | None, str]],
            requests: int) -> list[dict]:
    etags = {etag_of: ours.get(etag_of)[3] for *_, etag_of in rows if etag_of}
    results = []
    for label, path, original_path, etag_of in rows:
        headers = {"If-None-Match": etags[etag_of] or "-"} if etag_of else {}
        expect = 304 if etag_of else 200
        sides = [("ours", ours, path, expect)]
        if theirs is not None and original_path is not None:
            sides.append(("original", theirs, original_path, 200))
        times: dict[str, list[float]] = {side: [] for side, *_ in sides}
        for round_number in range(5 + requests):
            order = sides if round_number % 2 == 0 else sides[::-1]
            for side, server, side_path, side_expect in order:
                status, body, seconds, _ = server.get(side_path, headers)
                if status != side_expect:
                    raise RuntimeError(f"{side} answered {side_path} with {status}, not {side_expect}: {body[:200]!r}")
                if round_number >= 5:
                    times[side].append(seconds)
        results.append({"label": label, **{side: statistics.median(t) * 1000 for side, t in times.items()}})
    return results


def page_bytes(ours: Side, theirs: Side | None) -> list[tuple[str, int]]:
    sizes = [
        ("ours", len(ours.get("/api/sessions/?limit=100")[1])),
        (f"ours, fields={FEW}", len(ours.get(f"/api/sessions/?limit=100&fields={FEW}")[1])),
    ]
    zipped = ours.get("/api/sessions/?limit=100", {"Accept-Encoding": "gzip"})[1]
    gzip.decompress(zipped)  # it is gzip, and whole
    sizes.append(("ours, gzipped on the wire", len(zipped)))
    if theirs is not None:
        sizes.append(("original", len(theirs.get("/api/sessions/?page=1&page_size=100")[1])))
    return sizes


def measure_child(sessions: int, args: argparse.Namespace) -> None:
    setup_django(data_dir=Path(tempfile.mkdtemp(prefix="sdgen-bench-original-ours-")))
    from django.contrib.auth.models import User

    from accounts.services import create_api_token
    from sessions.models import Session
    from sessions.services import sync_sessions, update_metadata

    results = library(sessions, IMAGES_PER_SESSION)
    sync_sessions(results_dir=results)
    token = create_api_token(user=User.objects.create_user("bench", is_staff=True))
    name = Session.objects.order_by("-created_at").values_list("name", flat=True)[sessions // 2]
    # Both answer a session's metadata only once it has some.
    update_metadata(session=Session.objects.get(name=name), changes=NOTE)
    image = sorted(p.name for p in (results / name).glob("*.png"))[0]
    found = find_original(Path(args.original) if args.original else None, args.python)
    server = Server(results)
    original = None
    try:
        if isinstance(found, tuple):
            original = Original(found[0], found[1], results, annotated=name, note=NOTE)
        ours = Side(server.port, token)
        theirs = Side(original.port, TOKEN) if original else None
        print(json.dumps({"sessions": sessions, "rows": compare(ours, theirs, endpoints(name, image), args.requests),
                          "bytes": page_bytes(ours, theirs),
                          "original": None if original else found}))
    finally:
        server.stop()
        if original:
            original.stop()


def report(result: dict) -> None:
    print(f"\n{result['sessions']:,} sessions × {IMAGES_PER_SESSION} images, median of the requests, in ms:")
    print(f"  {'':32} {'ours':>8} {'original':>9} {'ours is':>9}")
    for row in result["rows"]:
        theirs = row.get("original")
        if theirs:
            print(f"  {row['label']:32} {row['ours']:8.2f} {theirs:9.2f} {theirs / row['ours']:8.1f}×")
        else:
            print(f"  {row['label']:32} {row['ours']:8.2f} {'—':>9}")
    print("  a page of 100 sessions: " + ", ".join(f"{label} {size / 1000:.1f} KB" for label, size in result["bytes"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--original", help="a checkout of the original's repository (or its backend folder)")
    parser.add_argument("--python", help="the interpreter of the original's own virtualenv")
    parser.add_argument("--sizes", default="1000,5000,10000", help="library sizes in sessions, comma-separated")
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        measure_child(args.child, args)
        return
    found = find_original(Path(args.original) if args.original else None, args.python)
    if isinstance(found, str):
        print(f"the original cannot be run here ({found}); measuring ours alone")
    for sessions in (int(size) for size in args.sizes.split(",")):
        command = [sys.executable, __file__, "--child", str(sessions), "--requests", str(args.requests)]
        if args.original:
            command += ["--original", args.original]
        if args.python:
            command += ["--python", args.python]
        output = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout
        report(json.loads(output.strip().splitlines()[-1]))


if __name__ == "__main__":
    main()
