#!/usr/bin/env python3
"""Cold start of the Lambda function binaries, measured against a local Runtime API.

This script plays the AWS Lambda Runtime API (2018-06-01) on 127.0.0.1 and
starts each function binary the way Lambda does: with AWS_LAMBDA_RUNTIME_API
pointing at it and the usual Lambda environment. The AWS backend is configured
(tables, buckets, S3 Vectors index, fake credentials, a JWT secret so no
Secrets Manager read), but every AWS endpoint is a local port that refuses
connections, so init cannot touch the network, and a handler that needs AWS
fails fast: that still measures the first invoke's own path (event parsing,
routing, token check, client first use, error mapping).

For every binary and every repetition it records
  init_ms    spawn -> the first GET /runtime/invocation/next arrives
  invoke_ms  that /next's arrival -> the POST .../response (or .../error) arrives
             (our event is sent back at once, so this is the first invoke's round trip)
  peak_rss   VmHWM from /proc/<pid>/status when the second /next arrives,
             i.e. after init and one invoke, just before the process is killed
and reports median / p90 / min per binary, plus each median's ratio to the
hello-world lambda_runtime baseline (bench/hello-lambda) measured in the same
run, interleaved with the others.

Timing: time.perf_counter_ns, taken right before the spawn and, in a
single-threaded selector loop that is already running on a pre-bound
listening socket, right after select() reports the request's first bytes.

    python3 bench/coldstart.py                       # target/release/{auth,document,processing,query,hello-lambda}
    python3 bench/coldstart.py --runs 5 --out /tmp/cold.json
    python3 bench/coldstart.py --binary auth=/tmp/auth --binary hello-lambda=/tmp/hello

Standard library only; Linux only (reads /proc).
"""

from __future__ import annotations

import argparse
import base64
import datetime as _dt
import hashlib
import hmac
import json
import math
import os
import platform
import random
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
API_PREFIX = "/2018-06-01"
FUNCTIONS = ["auth", "document", "processing", "query"]
BASELINE = "hello-lambda"
DEFAULT_EVENTS = {
    "auth": "events/auth-login.json",
    "document": "events/document-list.json",
    "processing": "events/s3-put.json",
    "query": "events/query-history.json",
    BASELINE: "events/auth-login.json",
}
JWT_SECRET = "coldstart-benchmark-secret-0123456789abcdef"  # >= 32 bytes, never used elsewhere
TOKEN_PLACEHOLDER = "REPLACE_WITH_A_REAL_TOKEN"


# --------------------------------------------------------------------------------------
# The Runtime API server
# --------------------------------------------------------------------------------------


@dataclass
class Invocation:
    """What the server saw of one process (one cold start)."""

    event: bytes
    function_name: str
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    first_next_ns: int | None = None
    reply_ns: int | None = None
    reply_kind: str | None = None  # "response" | "error"
    reply_body: bytes = b""
    second_next_ns: int | None = None
    init_error: bytes | None = None
    unexpected: list[str] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)
    first_next_seen: threading.Event = field(default_factory=threading.Event)


class _Conn:
    __slots__ = ("sock", "buf", "first_byte_ns")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""
        self.first_byte_ns: int | None = None


class RuntimeApiServer:
    """A minimal HTTP/1.1 server for the Lambda Runtime API, one selector thread.

    The listening socket is bound and listening before any process starts, and
    the loop is already waiting in select(); a request's arrival time is taken
    as soon as select() reports bytes on its connection.
    """

    def __init__(self) -> None:
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.listener.setblocking(False)
        self.port = self.listener.getsockname()[1]
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ, None)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self.selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._lock = threading.Lock()
        self._current: Invocation | None = None
        self._conns: set[_Conn] = set()
        self._stop = False
        self._dropped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="runtime-api", daemon=True)
        self._thread.start()

    # -- control from the main thread --------------------------------------------------

    def arm(self, invocation: Invocation) -> None:
        with self._lock:
            self._current = invocation

    def disarm(self) -> None:
        """Forget the current process and drop every connection it had open."""
        with self._lock:
            self._current = None
        self._dropped.clear()
        self._wake_w.send(b"d")
        self._dropped.wait(5)

    def close(self) -> None:
        self._stop = True
        self._wake_w.send(b"q")
        self._thread.join(timeout=5)
        for conn in list(self._conns):
            self._drop(conn)
        self.selector.close()
        self.listener.close()
        self._wake_r.close()
        self._wake_w.close()

    # -- the loop ----------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop:
            events = self.selector.select(timeout=1.0)
            now = time.perf_counter_ns()
            for key, _ in events:
                if key.fileobj is self.listener:
                    self._accept()
                elif key.data == "wake":
                    try:
                        signals = self._wake_r.recv(4096)
                    except BlockingIOError:
                        signals = b""
                    if b"d" in signals:
                        for conn in list(self._conns):
                            self._drop(conn)
                        self._dropped.set()
                else:
                    self._read(key.data, now)

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Conn(sock)
            self._conns.add(conn)
            self.selector.register(sock, selectors.EVENT_READ, conn)

    def _drop(self, conn: _Conn) -> None:
        try:
            self.selector.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        conn.sock.close()
        self._conns.discard(conn)

    def _read(self, conn: _Conn, now: int) -> None:
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(conn)
            return
        if not conn.buf:
            conn.first_byte_ns = now
        conn.buf += data
        while True:
            request = _parse_request(conn.buf)
            if request is None:
                return
            method, path, body, consumed = request
            arrived = conn.first_byte_ns or now
            conn.buf = conn.buf[consumed:]
            conn.first_byte_ns = now if conn.buf else None
            self._handle(conn, method, path, body, arrived)

    def _handle(self, conn: _Conn, method: str, path: str, body: bytes, arrived: int) -> None:
        with self._lock:
            inv = self._current
        if inv is None:
            self._drop(conn)
            return
        path = path.split("?", 1)[0]
        if method == "GET" and path == f"{API_PREFIX}/runtime/invocation/next":
            if inv.first_next_ns is None:
                inv.first_next_ns = arrived
                deadline_ms = int(time.time() * 1000) + 900_000
                headers = {
                    "Content-Type": "application/json",
                    "Lambda-Runtime-Aws-Request-Id": inv.request_id,
                    "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": (
                        f"arn:aws:lambda:eu-west-1:123456789012:function:{inv.function_name}"
                    ),
                    "Lambda-Runtime-Trace-Id": (
                        f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};"
                        f"Parent={uuid.uuid4().hex[:16]};Sampled=0"
                    ),
                }
                self._send(conn, 200, "OK", headers, inv.event)
                inv.first_next_seen.set()
            else:
                # The process is idle again: hold this long poll, the main thread
                # reads its memory and stops it.
                if inv.second_next_ns is None:
                    inv.second_next_ns = arrived
                inv.done.set()
            return
        prefix = f"{API_PREFIX}/runtime/invocation/"
        if method == "POST" and path.startswith(prefix):
            rest = path[len(prefix):]
            request_id, _, kind = rest.partition("/")
            if kind in ("response", "error"):
                if request_id != inv.request_id:
                    inv.unexpected.append(f"{kind} for unknown request id {request_id}")
                if inv.reply_ns is None:
                    inv.reply_ns = arrived
                    inv.reply_kind = kind
                    inv.reply_body = body
                self._send(conn, 202, "Accepted", {"Content-Type": "application/json"},
                           b'{"status":"OK"}')
                return
        if method == "POST" and path == f"{API_PREFIX}/runtime/init/error":
            inv.init_error = body or b"(empty)"
            self._send(conn, 202, "Accepted", {"Content-Type": "application/json"},
                       b'{"status":"OK"}')
            inv.done.set()
            inv.first_next_seen.set()
            return
        inv.unexpected.append(f"{method} {path}")
        self._send(conn, 404, "Not Found", {"Content-Type": "application/json"},
                   b'{"errorMessage":"unknown path","errorType":"NotFound"}')

    @staticmethod
    def _send(conn: _Conn, status: int, reason: str, headers: dict[str, str], body: bytes) -> None:
        head = [f"HTTP/1.1 {status} {reason}"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        head.append(f"Content-Length: {len(body)}")
        payload = ("\r\n".join(head) + "\r\n\r\n").encode() + body
        conn.sock.setblocking(True)
        try:
            conn.sock.sendall(payload)
        except OSError:
            pass
        finally:
            conn.sock.setblocking(False)


def _parse_request(buf: bytes):
    """One complete HTTP/1.1 request from buf: (method, path, body, bytes used) or None."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = buf[:end].decode("latin-1").split("\r\n")
    method, path, _version = head[0].split(" ", 2)
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    start = end + 4
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = b""
        pos = start
        while True:
            line_end = buf.find(b"\r\n", pos)
            if line_end < 0:
                return None
            size = int(buf[pos:line_end].split(b";")[0], 16)
            chunk_start = line_end + 2
            if size == 0:
                # trailers end with an empty line
                trailer_end = buf.find(b"\r\n", chunk_start)
                if trailer_end < 0:
                    return None
                while trailer_end != chunk_start:
                    chunk_start = trailer_end + 2
                    trailer_end = buf.find(b"\r\n", chunk_start)
                    if trailer_end < 0:
                        return None
                return method, path, body, trailer_end + 2
            if len(buf) < chunk_start + size + 2:
                return None
            body += buf[chunk_start:chunk_start + size]
            pos = chunk_start + size + 2
    length = int(headers.get("content-length", "0") or 0)
    if len(buf) < start + length:
        return None
    return method, path, buf[start:start + length], start + length


# --------------------------------------------------------------------------------------
# Events and environment
# --------------------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _token_for(event: dict) -> str:
    """An HS256 token the functions accept (askdocs' claims), for the event's user."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    now = int(time.time())
    claims = {
        "sub": authorizer.get("userId") or "9b2f1c3e-4d5a-4b6c-8d7e-0f1a2b3c4d5e",
        "email": authorizer.get("email") or "ada@example.com",
        "iat": now,
        "exp": now + 3600,
        "jti": authorizer.get("tokenId") or str(uuid.uuid4()),
        "iss": "askdocs",
    }
    signing_input = (
        _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
        + "."
        + _b64url(json.dumps(claims, separators=(",", ":")).encode())
    )
    signature = hmac.new(JWT_SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + _b64url(signature)


def load_event(path: Path) -> bytes:
    """The event file, with placeholder Bearer tokens replaced by real ones.

    The authorizer context API Gateway adds (userId, tokenId, expiresAt) is kept
    in step: its expiry moves to the new token's, an hour from now.
    """
    event = json.loads(path.read_text())
    token = _token_for(event) if isinstance(event, dict) else ""
    if isinstance(event, dict) and TOKEN_PLACEHOLDER in json.dumps(event):
        authorizer = (event.get("requestContext") or {}).get("authorizer")
        if isinstance(authorizer, dict) and "expiresAt" in authorizer:
            authorizer["expiresAt"] = str(int(time.time()) + 3600)

    def fix(value):
        if isinstance(value, dict):
            return {key: fix(item) for key, item in value.items()}
        if isinstance(value, list):
            return [fix(item) for item in value]
        if isinstance(value, str) and TOKEN_PLACEHOLDER in value:
            return f"Bearer {token}" if value.startswith("Bearer ") else token
        return value

    return json.dumps(fix(event)).encode()


def closed_port() -> socket.socket:
    """A TCP port on 127.0.0.1 that refuses connections: bound, never listening.

    Keeping the socket open reserves the port, so nothing else can take it
    while the benchmark runs; connecting to it gets ECONNREFUSED at once.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock


def function_env(name: str, runtime_port: int, aws_port: int, scratch: Path,
                 aws_retries: bool) -> dict[str, str]:
    """Lambda's environment for a function, with the AWS backend aimed at a closed port."""
    endpoint = f"http://127.0.0.1:{aws_port}"
    env = {
        # what Lambda itself sets
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "HOME": str(scratch),
        "LAMBDA_TASK_ROOT": str(scratch),
        "LAMBDA_RUNTIME_DIR": str(scratch),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{runtime_port}",
        "AWS_LAMBDA_FUNCTION_NAME": f"askdocs-{name}",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/askdocs-{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_EXECUTION_ENV": "AWS_Lambda_provided.al2023",
        "_HANDLER": "bootstrap",
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "AKIABENCHMARKFAKE000",
        "AWS_SECRET_ACCESS_KEY": "benchmark/fake/secret/key/0000000000000",
        "AWS_SESSION_TOKEN": "benchmark-fake-session-token",
        # nothing may be read from a profile or the instance metadata service
        "AWS_CONFIG_FILE": str(scratch / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(scratch / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL": endpoint,
        # askdocs' AWS backend (see /work/notes/contract.md)
        "ASKDOCS_BACKEND": "aws",
        "USERS_TABLE": "askdocs-users",
        "TOKENS_TABLE": "askdocs-revoked-tokens",
        "DOCUMENTS_TABLE": "askdocs-documents",
        "HISTORY_TABLE": "askdocs-history",
        "DOCUMENTS_BUCKET": "askdocs-documents-123456789012",
        "ASKDOCS_VECTOR_STORE": "s3vectors",
        "VECTOR_BUCKET": "askdocs-vectors-123456789012",
        "VECTOR_INDEX": "askdocs-passages",
        "JWT_SECRET": JWT_SECRET,
        "LOG_FORMAT": "json",
        "RUST_LOG": "info",
    }
    if not aws_retries:
        # A refused connection is a retryable error: with the standard retries
        # (as the SDK's) the first invoke would mostly measure randomised back-off sleeps.
        env["AWS_MAX_ATTEMPTS"] = "1"
    return env


# --------------------------------------------------------------------------------------
# One cold start
# --------------------------------------------------------------------------------------


def read_proc(pid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                key, _, value = line.partition(":")
                if key in ("VmHWM", "VmRSS", "Threads"):
                    out[key] = int(value.split()[0])
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
            # fields[0] is field 3 (state); minflt is field 10, majflt 12, utime 14, stime 15
            out["minflt"] = int(fields[7])
            out["majflt"] = int(fields[9])
            ticks = os.sysconf("SC_CLK_TCK")
            out["cpu_ms"] = int((int(fields[11]) + int(fields[12])) * 1000 / ticks)
    except (OSError, ValueError, IndexError):
        pass
    return out


def one_cold_start(server: RuntimeApiServer, name: str, binary: Path, event: bytes,
                   env: dict[str, str], log, timeout: float) -> dict:
    inv = Invocation(event=event, function_name=f"askdocs-{name}")
    server.arm(inv)
    output = open(Path(env["LAMBDA_TASK_ROOT"]) / "output.log", "w+b")
    result: dict = {}
    t_spawn = time.perf_counter_ns()
    proc = subprocess.Popen([str(binary)], env=env, stdin=subprocess.DEVNULL,
                            stdout=output, stderr=output, cwd=env["LAMBDA_TASK_ROOT"],
                            close_fds=True)
    try:
        deadline = time.monotonic() + timeout
        while not inv.first_next_seen.wait(0.05):
            if proc.poll() is not None or time.monotonic() > deadline:
                break
        if inv.init_error is not None:
            result["outcome"] = "init_error"
            result["detail"] = inv.init_error.decode(errors="replace")[:500]
            return result
        if inv.first_next_ns is None:
            code = proc.poll()
            result["outcome"] = "exited" if code is not None else "timeout"
            result["detail"] = (f"exit code {code} before the first /next" if code is not None
                                else f"no /next within {timeout:.0f} s")
            return result
        result["init_ms"] = (inv.first_next_ns - t_spawn) / 1e6
        while not inv.done.wait(0.05):
            if proc.poll() is not None or time.monotonic() > deadline + timeout:
                break
        proc_info = read_proc(proc.pid) if proc.poll() is None else {}
        if inv.init_error is not None:
            result["outcome"] = "init_error"
            result["detail"] = inv.init_error.decode(errors="replace")[:500]
            return result
        if inv.reply_ns is None:
            code = proc.poll()
            result["outcome"] = "no_reply"
            result["detail"] = (f"exit code {code} during the first invoke" if code is not None
                                else f"no response within {timeout:.0f} s")
            return result
        result["invoke_ms"] = (inv.reply_ns - inv.first_next_ns) / 1e6
        result["outcome"] = inv.reply_kind
        result["reply"] = inv.reply_body.decode(errors="replace")[:400]
        try:
            reply = json.loads(inv.reply_body)
            if isinstance(reply, dict) and "statusCode" in reply:
                result["status_code"] = reply["statusCode"]
        except ValueError:
            pass
        if "VmHWM" in proc_info:
            result["peak_rss_kib"] = proc_info["VmHWM"]
            result["rss_kib"] = proc_info.get("VmRSS")
            result["threads"] = proc_info.get("Threads")
            result["minor_faults"] = proc_info.get("minflt")
            result["major_faults"] = proc_info.get("majflt")
            result["cpu_ms"] = proc_info.get("cpu_ms")
        if inv.second_next_ns is None:
            result["note"] = "process exited before asking for a second event"
        if inv.unexpected:
            result["unexpected"] = inv.unexpected[:5]
        return result
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        server.disarm()
        output.seek(0)
        text = output.read()
        output.close()
        log.write(f"\n===== {name} {binary} {_dt.datetime.now().isoformat()} =====\n".encode())
        log.write(text)
        log.flush()
        if "detail" in result and result.get("outcome") in ("exited", "no_reply", "timeout"):
            lines = [line for line in text.decode(errors="replace").splitlines() if line.strip()]
            if lines:
                result["detail"] += ": " + lines[-1].strip()[:300]


# --------------------------------------------------------------------------------------
# Statistics and the run
# --------------------------------------------------------------------------------------


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def summarize(values: list[float]) -> dict | None:
    if not values:
        return None
    ordered = sorted(values)
    p90 = ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]  # nearest rank
    return {
        "median": round(statistics.median(ordered), 3),
        "p90": round(p90, 3),
        "min": round(ordered[0], 3),
        "max": round(ordered[-1], 3),
        "n": len(ordered),
    }


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target-dir", default=os.environ.get("CARGO_TARGET_DIR", str(REPO / "target")),
                        help="cargo target directory (default: target)")
    parser.add_argument("--profile", default="release", help="profile directory under the target dir")
    parser.add_argument("--binary", action="append", default=[], metavar="NAME=PATH",
                        help="use PATH for NAME (auth, document, processing, query, hello-lambda); "
                             "repeatable; a NAME not listed among the defaults is benchmarked too")
    parser.add_argument("--only", default="", help="comma-separated names to run (default: all)")
    parser.add_argument("--event", action="append", default=[], metavar="NAME=FILE",
                        help="event file for NAME (defaults: " +
                             ", ".join(f"{k}={v}" for k, v in DEFAULT_EVENTS.items()) + ")")
    parser.add_argument("--runs", type=int, default=20, help="repetitions per binary (default 20)")
    parser.add_argument("--warmup", type=int, default=1,
                        help="unrecorded starts per binary first (page cache; default 1)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per phase")
    parser.add_argument("--aws-retries", "--sdk-retries", action="store_true",
                        help="keep the AWS calls' retries (default: AWS_MAX_ATTEMPTS=1)")
    parser.add_argument("--copy", action="store_true",
                        help="copy the binaries to a temporary directory first "
                             "(safe while cargo rebuilds them)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the run order shuffle")
    parser.add_argument("--out", default="-", help="where to write the JSON (default stdout)")
    parser.add_argument("--log", default=None,
                        help="file for the functions' own output (default: a temporary file)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if not sys.platform.startswith("linux"):
        print("coldstart: Linux only (/proc)", file=sys.stderr)
        return 2
    base_dir = Path(args.target_dir) / args.profile
    binaries: dict[str, Path] = {name: base_dir / name for name in FUNCTIONS + [BASELINE]}
    for item in args.binary:
        name, _, path = item.partition("=")
        binaries[name] = Path(path)
    events = {name: REPO / path for name, path in DEFAULT_EVENTS.items()}
    for item in args.event:
        name, _, path = item.partition("=")
        events[name] = Path(path)
    if args.only:
        wanted = {name.strip() for name in args.only.split(",") if name.strip()}
        wanted.add(BASELINE)
        binaries = {name: path for name, path in binaries.items() if name in wanted}

    report: dict = {
        "tool": "bench/coldstart.py",
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(),
        "runs": args.runs,
        "warmup": args.warmup,
        "baseline": BASELINE,
        "aws_max_attempts": None if args.aws_retries else 1,
        "binaries": {},
    }
    present: dict[str, Path] = {}
    for name, path in binaries.items():
        if path.is_file() and os.access(path, os.X_OK):
            present[name] = path
        else:
            report["binaries"][name] = {"path": str(path), "missing": True}
            print(f"coldstart: {name}: no executable at {path}, skipped", file=sys.stderr)
    if BASELINE not in present:
        print(f"coldstart: the baseline {BASELINE} is missing; ratios will be absent", file=sys.stderr)

    scratch = Path(tempfile.mkdtemp(prefix="askdocs-coldstart-"))
    if args.copy:
        copies = scratch / "bin"
        copies.mkdir()
        for name, path in list(present.items()):
            target = copies / name
            target.write_bytes(path.read_bytes())
            target.chmod(0o755)
            present[name] = target
    log_path = Path(args.log) if args.log else scratch / "functions.log"
    refused = closed_port()
    server = RuntimeApiServer()
    samples: dict[str, list[dict]] = {name: [] for name in present}
    event_bytes = {name: load_event(events.get(name, events[BASELINE])) for name in present}
    rng = random.Random(args.seed)
    try:
        with open(log_path, "ab") as log:
            for rep in range(args.warmup + args.runs):
                order = list(present)
                rng.shuffle(order)  # interleaved, so drift hits every binary alike
                for name in order:
                    env = function_env(name, server.port, refused.getsockname()[1], scratch,
                                       args.aws_retries)
                    sample = one_cold_start(server, name, present[name], event_bytes[name], env,
                                            log, args.timeout)
                    if rep >= args.warmup:
                        samples[name].append(sample)
                    elif "init_ms" not in sample:
                        print(f"coldstart: {name}: warm-up start failed: {sample}", file=sys.stderr)
    finally:
        server.close()
        refused.close()

    for name, path in present.items():
        runs = samples[name]
        ok = [run for run in runs if "init_ms" in run]
        entry = {
            "path": str(binaries[name]),
            "size_bytes": binaries[name].stat().st_size,
            "event": _display(events.get(name, events[BASELINE])),
            "init_ms": summarize([run["init_ms"] for run in ok]),
            "invoke_ms": summarize([run["invoke_ms"] for run in ok if "invoke_ms" in run]),
            "peak_rss_mib": summarize([run["peak_rss_kib"] / 1024 for run in ok if "peak_rss_kib" in run]),
            "cpu_ms": summarize([run["cpu_ms"] for run in ok if "cpu_ms" in run]),
            "minor_faults": summarize([run["minor_faults"] for run in ok if "minor_faults" in run]),
            "outcomes": {},
            "failures": [run for run in runs if "init_ms" not in run or "invoke_ms" not in run][:3],
            "sample_reply": next((run.get("reply") for run in ok if run.get("reply")), None),
            "status_codes": sorted({run["status_code"] for run in ok if "status_code" in run}),
            "runs": [{key: run[key] for key in ("init_ms", "invoke_ms", "peak_rss_kib", "outcome")
                      if key in run} for run in runs],
        }
        for run in runs:
            entry["outcomes"][run.get("outcome", "?")] = entry["outcomes"].get(run.get("outcome", "?"), 0) + 1
        report["binaries"][name] = entry

    base = report["binaries"].get(BASELINE, {})
    for name, entry in report["binaries"].items():
        if entry.get("missing") or name == BASELINE:
            continue
        ratios = {}
        for metric in ("init_ms", "invoke_ms", "peak_rss_mib"):
            mine, theirs = entry.get(metric), base.get(metric) if base else None
            if mine and theirs and theirs["median"] > 0:
                ratios[metric.rsplit("_", 1)[0]] = round(mine["median"] / theirs["median"], 2)
        entry["ratio_to_baseline"] = ratios
    report["log"] = str(log_path)

    text = json.dumps(report, indent=2)
    if args.out == "-":
        print(text)
    else:
        Path(args.out).write_text(text + "\n")
    for name, entry in report["binaries"].items():
        if entry.get("missing"):
            continue
        init, invoke, rss = entry["init_ms"], entry["invoke_ms"], entry["peak_rss_mib"]
        fmt = lambda s, unit: f"{s['median']:.2f}/{s['p90']:.2f} {unit}" if s else "—"  # noqa: E731
        print(f"coldstart: {name:13} init {fmt(init, 'ms')}  invoke {fmt(invoke, 'ms')}  "
              f"peak RSS {fmt(rss, 'MiB')}  (median/p90)  ratio {entry.get('ratio_to_baseline', {})}  "
              f"outcomes {entry['outcomes']}", file=sys.stderr)
    failed = any(entry.get("init_ms") is None for entry in report["binaries"].values()
                 if not entry.get("missing"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
