"""Untimed setup for the load test: one account per simulated client, each
with a few documents uploaded and processed (`ready`) before the clock starts.

    python load/prepare.py BASE_URL CLIENTS OUT.json

Writes {"directUploadPath", "clients": [{"email", "token", "documentIds"}]} to
OUT.json. Files up to 5 MB are sent directly with `POST /documents?fileName=`,
or `POST /documents/upload?fileName=` on servers from before that route. Uses only the standard
library, so it runs in any Python 3. 429 answers are retried after Retry-After,
so it works with the server's rate limits on.
"""

import concurrent.futures
import json
import pathlib
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
# Small documents whose answers the load test's questions ask for.
DOCUMENTS = [
    ("Lighthouse manual.pdf", "application/pdf", FIXTURES / "lighthouse.pdf"),
    ("Maintenance log.txt", "text/plain", FIXTURES / "maintenance-log.txt"),
]
PASSWORD = "Load-test-1"
READY_TIMEOUT_SECONDS = 600

rate_limited_waits = 0


def request(base, method, path, token=None, body=None, content_type="application/json"):
    """The JSON body of the answer (None when empty)."""
    return request_with_headers(base, method, path, token, body, content_type)[0]


def request_with_headers(base, method, path, token=None, body=None, content_type="application/json"):
    """(JSON body or None, response headers); 429 answers are retried after Retry-After."""
    global rate_limited_waits
    headers = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers["Content-Type"] = content_type
    for _ in range(120):
        req = urllib.request.Request(base + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=120) as response:
                payload = response.read()
                return (json.loads(payload) if payload else None), response.headers
        except urllib.error.HTTPError as error:
            if error.code == 429:
                rate_limited_waits += 1
                time.sleep(float(error.headers.get("Retry-After") or 1))
                continue
            raise RuntimeError(f"{method} {path}: {error.code} {error.read().decode()}") from None
    raise RuntimeError(f"{method} {path}: still rate limited after 120 tries")


def direct_upload_path(base, token):
    """`/documents` if the server takes direct uploads there, else the older `/documents/upload`.

    The probe is an empty body: refused (400) where direct uploads are taken, 405 where not.
    """
    request_ = urllib.request.Request(
        base + "/documents?fileName=probe.txt", data=b"", method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/plain"})
    try:
        urllib.request.urlopen(request_, timeout=60).read()
    except urllib.error.HTTPError as error:
        if error.code == 405:
            return "/documents/upload"
    return "/documents"


def make_account(base, index):
    email = f"load-{index:03d}@example.com"
    request(base, "POST", "/auth/register", body={"email": email, "password": PASSWORD, "name": f"Load {index}"})
    token = request(base, "POST", "/auth/login", body={"email": email, "password": PASSWORD})["token"]
    return {"email": email, "token": token}


def upload_documents(base, client, upload_path):
    ids = []
    for file_name, content_type, file in DOCUMENTS:
        query = urllib.parse.urlencode({"fileName": file_name})
        document = request(base, "POST", f"{upload_path}?{query}", token=client["token"],
                           body=file.read_bytes(), content_type=content_type)
        ids.append(document["documentId"])
    return {**client, "documentIds": ids}


def wait_until_ready(base, clients):
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    waiting = {(c["token"], d) for c in clients for d in c["documentIds"]}
    while waiting:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(waiting)} documents not ready after {READY_TIMEOUT_SECONDS} s")
        for token, document_id in sorted(waiting):
            document = request(base, "GET", f"/documents/{document_id}", token=token)
            if document["status"] == "ready":
                waiting.discard((token, document_id))
            elif document["status"] == "failed":
                raise RuntimeError(f"document {document_id} failed: {document['statusReason']}")
        if waiting:
            time.sleep(1)


def main():
    base, count, out = sys.argv[1].rstrip("/"), int(sys.argv[2]), sys.argv[3]
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        accounts = list(pool.map(lambda i: make_account(base, i), range(count)))
        path = direct_upload_path(base, accounts[0]["token"])
        clients = list(pool.map(lambda c: upload_documents(base, c, path), accounts))
    uploaded = time.monotonic()
    wait_until_ready(base, clients)
    ready = time.monotonic()
    pathlib.Path(out).write_text(json.dumps({"directUploadPath": path, "clients": clients}))
    print(
        f"prepare: {count} accounts, {count * len(DOCUMENTS)} documents uploaded in "
        f"{uploaded - started:.1f} s, all ready after {ready - started:.1f} s"
        + (f" ({rate_limited_waits} waits on 429)" if rate_limited_waits else ""),
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
