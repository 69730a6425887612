#!/usr/bin/env python3
"""One event into a Lambda function binary, through a stand-in for Lambda's
Runtime API, printing the answer as the function writes it.

    python3 scripts/runtime_api.py EVENT_FILE -- COMMAND [ARG...]

For functions that answer in Lambda's response-streaming mode (the query
function), which `cargo lambda invoke` cannot read: the prelude API Gateway
reads (status and headers) is printed first, then the body as it streams.
A buffered answer is printed as it came. Standard library only.
"""

import http.server
import json
import os
import subprocess
import sys
import threading
import time
import uuid

event_file, command = sys.argv[1], sys.argv[sys.argv.index("--") + 1:]
with open(event_file, "rb") as f:
    event = f.read()
request_id = str(uuid.uuid4())
served = threading.Event()
answered = threading.Event()
outcome = {"ok": True}


def read_chunked(stream):
    """Yields the pieces of a chunked body as they arrive."""
    while True:
        size_line = stream.readline()
        if not size_line:
            return
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while stream.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return
        yield stream.read(size)
        stream.readline()


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if not self.path.endswith("/runtime/invocation/next"):
            return self.reply(404)
        if served.is_set():
            answered.wait()
            time.sleep(3600)  # one invocation only; the function is stopped
        served.set()
        deadline = int((time.time() + 60) * 1000)
        self.reply(200, event, [
            ("Lambda-Runtime-Aws-Request-Id", request_id),
            ("Lambda-Runtime-Deadline-Ms", str(deadline)),
            ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-1:123456789012:function:local"),
            ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0"),
            ("Content-Type", "application/json"),
        ])

    def do_POST(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            pieces = read_chunked(self.rfile)
        else:
            pieces = iter([self.rfile.read(int(self.headers.get("Content-Length") or 0))])
        if self.path.endswith("/error"):
            outcome["ok"] = False
            print("function error:", b"".join(pieces).decode(errors="replace"), file=sys.stderr)
        elif self.headers.get("Lambda-Runtime-Function-Response-Mode") == "streaming":
            buffered, prelude_done = b"", False
            for piece in pieces:
                if prelude_done:
                    sys.stdout.write(piece.decode(errors="replace"))
                    sys.stdout.flush()
                    continue
                buffered += piece
                if b"\0" * 8 in buffered:
                    prelude, rest = buffered.split(b"\0" * 8, 1)
                    print(json.dumps(json.loads(prelude), indent=2))
                    print()
                    sys.stdout.write(rest.decode(errors="replace"))
                    sys.stdout.flush()
                    prelude_done = True
        else:
            body = b"".join(pieces)
            try:
                print(json.dumps(json.loads(body), indent=2))
            except ValueError:
                print(body.decode(errors="replace"))
        self.reply(202, b"{}")
        answered.set()


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
threading.Thread(target=server.serve_forever, daemon=True).start()
environment = dict(os.environ,
                   AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}",
                   AWS_LAMBDA_FUNCTION_NAME=os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local"),
                   AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
                   AWS_LAMBDA_FUNCTION_MEMORY_SIZE="1024",
                   AWS_LAMBDA_LOG_GROUP_NAME="/aws/lambda/local",
                   AWS_LAMBDA_LOG_STREAM_NAME="local")
function = subprocess.Popen(command, env=environment)
try:
    while not answered.wait(0.2):
        if function.poll() is not None:
            print(f"the function stopped (exit {function.returncode}) before answering", file=sys.stderr)
            sys.exit(1)
finally:
    if function.poll() is None:
        function.terminate()
        function.wait(timeout=10)
print()
sys.exit(0 if outcome["ok"] else 1)
