#!/usr/bin/env python3
"""Check scripts/opensearch_standin.py: start it on a free loopback port and exercise it.

    python3 scripts/check_opensearch_standin.py [-v]

Standard library only. Signs every request with its own small SigV4 signer (checked
first against AWS's published SigV4 test-suite vectors), then checks what the
OpenSearch adapter relies on: SigV4 refusals (403), custom `_id` refused, `_bulk`
without its trailing newline refused, no `_delete_by_query` / `_refresh` / `GET /` /
scroll, writes and deletes visible to search only after the delay (1000 ms default)
while GET by id is immediate, k-NN with an efficient filter returning only the
owner's passages ranked by inner product with the faiss score transform, `match`
ranked by BM25, paging (`search_after`, `from`, `_source`), `_count`, `_msearch`,
the request log, fault injection, concurrency, reset. Exits 1 when a check fails.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.client
import importlib.util
import json
import math
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
STANDIN = HERE / "opensearch_standin.py"
VERBOSE = "-v" in sys.argv

failures: list[str] = []
passed = 0


def check(cond: bool, what: str, detail: object = "") -> bool:
    global passed
    if cond:
        passed += 1
        if VERBOSE:
            print(f"ok   {what}")
    else:
        failures.append(what)
        print(f"FAIL {what}" + (f": {detail}" if detail != "" else ""), file=sys.stderr)
    return cond


# --------------------------------------------------------------------------- SigV4 (client side)


def _q(s: str, safe: str) -> str:
    return urllib.parse.quote(s, safe=safe)


def hmac_sha256(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sign(method: str, host: str, path: str, query: list[tuple[str, str]], headers: dict[str, str],
         payload_hash: str, *, region: str, service: str, access_key: str, secret: str,
         when: dt.datetime) -> dict[str, str]:
    """Returns headers + x-amz-date + Authorization. `path` is the wire path (already
    percent-encoded); a non-S3 service signs it encoded once more. Every header given
    (and host, x-amz-date) is signed."""
    amz_date = when.strftime("%Y%m%dT%H%M%SZ")
    date = amz_date[:8]
    all_headers = {"host": host, "x-amz-date": amz_date}
    all_headers.update({k.lower(): v for k, v in headers.items()})
    names = sorted(all_headers)
    canonical_headers = "".join(f"{n}:{' '.join(str(all_headers[n]).split())}\n" for n in names)
    signed_headers = ";".join(names)
    cquery = "&".join(f"{k}={v}" for k, v in sorted(
        (_q(k, "-_.~"), _q(v, "-_.~")) for k, v in query))
    creq = "\n".join([method, _q(path, "/-_.~"), cquery, canonical_headers, signed_headers, payload_hash])
    scope = f"{date}/{region}/{service}/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(creq.encode()).hexdigest()])
    key = hmac_sha256(("AWS4" + secret).encode(), date)
    for part in (region, service, "aws4_request"):
        key = hmac_sha256(key, part)
    signature = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    out = dict(all_headers)
    out["authorization"] = (f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
                            f"SignedHeaders={signed_headers}, Signature={signature}")
    return out


def check_signer_against_aws_vectors() -> None:
    """AWS SigV4 test suite (service "service", us-east-1, 2015-08-30T12:36:00Z)."""
    when = dt.datetime(2015, 8, 30, 12, 36, 0, tzinfo=dt.timezone.utc)
    empty = hashlib.sha256(b"").hexdigest()
    vectors = [
        ("get-vanilla", "GET", "/", [], "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        ("get-vanilla-query-order-key-case", "GET", "/", [("Param2", "value2"), ("Param1", "value1")],
         "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
        ("post-vanilla", "POST", "/", [], "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
        ("get-utf8", "GET", "/\u1234", [], "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"),
    ]
    for name, method, path, query, want in vectors:
        h = sign(method, "example.amazonaws.com", path, query, {}, empty, region="us-east-1",
                 service="service", access_key="AKIDEXAMPLE",
                 secret="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", when=when)
        got = h["authorization"].rsplit("Signature=", 1)[1]
        check(got == want, f"check's signer reproduces AWS vector {name}", got)


def check_server_canonicalisation_against_aws_vectors() -> None:
    """The stand-in's own canonical request for the same vectors (its functions, imported)."""
    spec = importlib.util.spec_from_file_location("opensearch_standin", STANDIN)
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    empty = hashlib.sha256(b"").hexdigest()
    cases = [
        ("get-vanilla", "GET", "/", "", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        ("get-vanilla-query-order-key-case", "GET", "/", "Param2=value2&Param1=value1",
         "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
        ("post-vanilla", "POST", "/", "", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
        # the wire carries the UTF-8 bytes; http.server hands them over as latin-1 text
        ("get-utf8", "GET", "/\u1234".encode().decode("latin-1"), "",
         "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"),
    ]
    for name, method, path, query, want in cases:
        creq = "\n".join([method, mod.canonical_uri(path), mod.canonical_query(query, True),
                          "host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n",
                          "host;x-amz-date", empty])
        sts = "\n".join(["AWS4-HMAC-SHA256", "20150830T123600Z", "20150830/us-east-1/service/aws4_request",
                         hashlib.sha256(creq.encode()).hexdigest()])
        key = mod.signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "service")
        got = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        check(got == want, f"stand-in canonicalisation reproduces AWS vector {name}", got)
    check(mod.canonical_uri("/passages/_doc/1%253A0%253Aab") == "/passages/_doc/1%25253A0%25253Aab",
          "stand-in signs an encoded path encoded once more (non-S3 double encoding)")
    check(mod.analyze("Don't stop: U.S.A. v1.2 costs 1,000 foo_bar ÉCOLE") ==
          ["don't", "stop", "u.s.a", "v1.2", "costs", "1,000", "foo_bar", "école"],
          "stand-in analyzer approximates the standard analyzer",
          mod.analyze("Don't stop: U.S.A. v1.2 costs 1,000 foo_bar ÉCOLE"))
    check([mod.quantized_length(n) for n in (1, 23, 24, 25, 40, 100, 1000)] == [1, 23, 24, 25, 40, 96, 984],
          "stand-in quantises field lengths as Lucene's norms do",
          [mod.quantized_length(n) for n in (1, 23, 24, 25, 40, 100, 1000)])


# --------------------------------------------------------------------------- client


class Client:
    def __init__(self, port: int, region: str = "eu-west-1", access_key: str = "testing",
                 secret: str = "testing"):
        self.port = port
        self.host = f"127.0.0.1:{port}"
        self.region = region
        self.access_key = access_key
        self.secret = secret

    def request(self, method: str, path: str, body: bytes | str | dict | list | None = None, *,
                query: list[tuple[str, str]] | None = None, content_type: str | None = None,
                signed: bool = True, region: str | None = None, service: str = "aoss",
                secret: str | None = None, when: dt.datetime | None = None,
                payload_hash: str | None = None, send_hash: bool = True,
                sign_content_length: bool = False, tamper_body: bytes | None = None,
                extra_headers: dict[str, str] | None = None,
                tamper_query: list[tuple[str, str]] | None = None
                ) -> tuple[int, dict[str, str], bytes]:
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            content_type = content_type or "application/json"
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = body or b""
        query = query or []
        headers: dict[str, str] = {}
        if content_type:
            headers["content-type"] = content_type
        phash = payload_hash or hashlib.sha256(data).hexdigest()
        if send_hash:
            headers["x-amz-content-sha256"] = phash
        if sign_content_length:
            headers["content-length"] = str(len(data))
        headers.update(extra_headers or {})
        if signed:
            headers = sign(method, self.host, path, query, headers, phash, region=region or self.region,
                           service=service, access_key=self.access_key, secret=secret or self.secret,
                           when=when or dt.datetime.now(dt.timezone.utc))
        else:
            headers["host"] = self.host
        if tamper_body is not None:
            data = tamper_body
        wire_query = tamper_query if tamper_query is not None else query
        target = path + ("?" + "&".join(f"{_q(k, '-_.~')}={_q(v, '-_.~')}" for k, v in wire_query)
                         if wire_query else "")
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            for k, v in headers.items():
                if k == "content-length":
                    continue
                conn.putheader(k, v)
            if data or method in ("POST", "PUT"):
                conn.putheader("content-length", str(len(data)))
            conn.endheaders(data if data else None)
            resp = conn.getresponse()
            payload = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, payload
        finally:
            conn.close()

    def json(self, method: str, path: str, body: object = None, **kw: object) -> tuple[int, object]:
        status, _, payload = self.request(method, path, body, **kw)  # type: ignore[arg-type]
        try:
            return status, json.loads(payload) if payload else None
        except json.JSONDecodeError:
            return status, payload.decode(errors="replace")

    def standin(self, method: str, path: str, body: object = None) -> object:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            data = json.dumps(body).encode() if body is not None else b""
            conn.request(method, path, body=data if data else None,
                         headers={"content-type": "application/json"} if data else {})
            resp = conn.getresponse()
            return json.loads(resp.read())
        finally:
            conn.close()

    def bulk(self, lines: list[dict], index: str = "passages", **kw: object) -> tuple[int, object]:
        body = "".join(json.dumps(x) + "\n" for x in lines)
        return self.json("POST", f"/{index}/_bulk", body, content_type="application/x-ndjson", **kw)

    def search(self, body: dict, index: str = "passages", **kw: object) -> tuple[int, object]:
        return self.json("POST", f"/{index}/_search", body, **kw)


def start_standin(*args: str) -> tuple[subprocess.Popen, int, str]:
    proc = subprocess.Popen([sys.executable, str(STANDIN), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line_box: list[str] = []
    reader = threading.Thread(target=lambda: line_box.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(15)
    if not line_box or not line_box[0]:
        proc.kill()
        err = proc.stderr.read() if proc.stderr else ""
        raise SystemExit(f"opensearch-standin did not start: {err}")
    line = line_box[0].rstrip("\n")
    m = re.fullmatch(r"opensearch-standin listening on http://127\.0\.0\.1:(\d+)", line)
    if not m:
        proc.kill()
        raise SystemExit(f"unexpected first line from the stand-in: {line!r}")
    return proc, int(m.group(1)), line


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- helpers


DIM = 4
DELAY = 1.0  # the stand-in's default --visibility-delay-ms
MAPPING = {
    "settings": {"index": {"knn": True, "knn.algo_param.ef_search": 100}},
    "mappings": {"properties": {
        "embedding": {"type": "knn_vector", "dimension": DIM,
                      "method": {"engine": "faiss", "name": "hnsw", "space_type": "innerproduct",
                                 "parameters": {"m": 16, "ef_construction": 128}}},
        "userId": {"type": "keyword"}, "documentId": {"type": "keyword"},
        "text": {"type": "text"}, "page": {"type": "integer"}, "ordinal": {"type": "integer"},
    }},
}


def unit(v: list[float]) -> list[float]:
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]


def f32(x: float) -> float:
    import struct
    return struct.unpack("f", struct.pack("f", x))[0]


def faiss_ip_score(q: list[float], v: list[float]) -> float:
    dot = sum(f32(a) * f32(b) for a, b in zip(q, v))
    return dot + 1 if dot >= 0 else 1 / (1 - dot)


def wait_visible(delay: float = DELAY) -> None:
    time.sleep(delay + 0.25)


def passage(user: str, doc: str, ordinal: int, text: str, vec: list[float], page: int = 1) -> dict:
    return {"embedding": vec, "userId": user, "documentId": doc, "text": text, "page": page,
            "ordinal": ordinal}


def index_action() -> dict:
    return {"index": {}}


def ids_of(res: object) -> list[str]:
    return [h["_id"] for h in res["hits"]["hits"]]  # type: ignore[index]


# --------------------------------------------------------------------------- checks


def check_auth(c: Client) -> None:
    empty403 = "403 with an AOSS-like JSON error"

    def is_403(status: int, payload: bytes) -> bool:
        try:
            body = json.loads(payload)
        except json.JSONDecodeError:
            return False
        return status == 403 and body.get("status") == 403 and body["error"]["type"] == "Forbidden"

    s, _, p = c.request("GET", "/passages", signed=False)
    check(is_403(s, p), f"unsigned request -> {empty403}", (s, p))
    s, _, p = c.request("GET", "/passages", secret="wrong-secret")
    check(is_403(s, p), f"wrong secret (bad signature) -> {empty403}", (s, p))
    s, _, p = c.request("POST", "/passages/_search", {"query": {"match_all": {}}}, send_hash=False)
    check(is_403(s, p), f"missing x-amz-content-sha256 -> {empty403}", (s, p))
    s, _, p = c.request("POST", "/passages/_search", {"query": {"match_all": {}}},
                        payload_hash=hashlib.sha256(b"something else").hexdigest())
    check(is_403(s, p), f"x-amz-content-sha256 not the body's hash -> {empty403}", (s, p))
    s, _, p = c.request("POST", "/passages/_search", {"query": {"match_all": {}}},
                        payload_hash="UNSIGNED-PAYLOAD")
    check(is_403(s, p), "UNSIGNED-PAYLOAD refused by default", (s, p))
    s, _, p = c.request("GET", "/passages", service="es")
    check(is_403(s, p), "credential scope for service es (not aoss) -> 403", (s, p))
    s, _, p = c.request("GET", "/passages", region="us-east-1")
    check(is_403(s, p), "credential scope for another region -> 403", (s, p))
    s, _, p = c.request("POST", "/passages/_search", {"query": {"match_all": {}}}, sign_content_length=True)
    check(is_403(s, p), "content-length among SignedHeaders -> 403", (s, p))
    s, _, p = c.request("GET", "/passages", when=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=20))
    check(is_403(s, p), "x-amz-date 20 minutes old -> 403", (s, p))
    s, _, p = c.request("POST", "/passages/_search", {"query": {"match_all": {}}},
                        tamper_body=json.dumps({"query": {"match_none": {}}}).encode())
    check(is_403(s, p), "body changed after signing -> 403", (s, p))
    s, _, p = c.request("GET", "/passages/_search", query=[("size", "1")], tamper_query=[("size", "2")])
    check(is_403(s, p), "query changed after signing -> 403", (s, p))
    s, _, p = c.request("GET", "/passages/_search", query=[("size", "1"), ("from", "0"), ("pretty", "")])
    check(s != 403, "unsorted query parameters are canonicalised (sorted) before verifying", (s, p))

    log = c.standin("GET", "/_standin/requests")["requests"]  # type: ignore[index]
    bad = [e for e in log if e["auth"].get("error", "") and "signature we calculated" in e["auth"]["error"]]
    check(bool(bad) and bad[0]["auth"].get("canonical_request", "").startswith("GET\n/passages\n"),
          "the request log keeps the canonical request of a refused signature", bad[:1])


def check_index_api(c: Client) -> None:
    s, body = c.json("PUT", "/passages", MAPPING)
    check(s == 200 and body == {"acknowledged": True, "shards_acknowledged": True, "index": "passages"},
          "PUT /passages with the knn mapping -> acknowledged", (s, body))
    s, body = c.json("PUT", "/passages", MAPPING)
    check(s == 400 and body["error"]["type"] == "resource_already_exists_exception",
          "PUT of an existing index -> 400 resource_already_exists_exception", (s, body))
    s, _, p = c.request("HEAD", "/passages")
    check(s == 200 and p == b"", "HEAD /passages -> 200", s)
    s, _, p = c.request("HEAD", "/nothing-here")
    check(s == 404, "HEAD of a missing index -> 404", s)
    s, body = c.json("GET", "/passages")
    check(s == 200 and body["passages"]["mappings"]["properties"]["embedding"]["dimension"] == DIM
          and body["passages"]["settings"]["index"]["knn"] == "true",
          "GET /passages returns the mapping and settings", (s, body))
    s, body = c.json("GET", "/nothing-here")
    check(s == 404 and body["error"]["type"] == "index_not_found_exception",
          "GET of a missing index -> 404 index_not_found_exception", (s, body))
    s, body = c.json("GET", "/passages/_mapping")
    check(s == 200 and "embedding" in body["passages"]["mappings"]["properties"], "GET /passages/_mapping", s)
    s, body = c.json("PUT", "/Bad_Name", MAPPING)
    check(s == 400 and body["error"]["type"] == "invalid_index_name_exception", "upper-case index name -> 400", s)
    bad = json.loads(json.dumps(MAPPING))
    del bad["mappings"]["properties"]["embedding"]["dimension"]
    s, body = c.json("PUT", "/no-dimension", bad)
    check(s == 400 and body["error"]["type"] == "mapper_parsing_exception", "knn_vector without dimension -> 400", s)


def check_unsupported(c: Client) -> None:
    for method, path, body in [
        ("GET", "/", None),
        ("POST", "/passages/_delete_by_query", {"query": {"term": {"documentId": "x"}}}),
        ("POST", "/passages/_refresh", None),
        ("POST", "/_refresh", None),
        ("POST", "/_search/scroll", {"scroll": "1m", "scroll_id": "x"}),
        ("POST", "/passages/_pit", None),
    ]:
        s, h, p = c.request(method, path, body)
        check(s == 404 and p == b"", f"{method} {path} -> 404 with an empty body (not in AOSS)", (s, p))
    s, _, p = c.request("POST", "/passages/_search", {"query": {"match_all": {}}}, query=[("scroll", "1m")])
    check(s == 404, "_search?scroll= -> 404 (no scroll on AOSS)", (s, p))


def check_ids_and_writes(c: Client) -> str:
    vec = unit([1, 0, 0, 0])
    doc = passage("u-write", "d-write", 0, "single write", vec)
    for method, path in [("PUT", "/passages/_doc/my-id"), ("POST", "/passages/_doc/my-id"),
                         ("PUT", "/passages/_create/my-id"), ("POST", "/passages/_create/my-id")]:
        s, body = c.json(method, path, doc)
        check(s == 400 and body["error"]["type"] == "illegal_argument_exception"
              and body["error"]["reason"] == "Document ID is not supported in create/index operation request",
              f"{method} {path} (custom _id) -> 400 'Document ID is not supported ...'", (s, body))
    s, body = c.json("POST", "/passages/_doc", doc, query=[("refresh", "true")])
    check(s == 400 and body["error"]["type"] == "status_exception", "POST _doc?refresh=true -> 400", (s, body))
    s, body = c.json("POST", "/passages/_doc", doc)
    check(s == 201 and body["result"] == "created" and body["_index"] == "passages",
          "POST /passages/_doc -> 201 created", (s, body))
    doc_id = body["_id"]
    check(re.fullmatch(r"1%3A0%3A[A-Za-z0-9_-]{20}", doc_id) is not None,
          "the collection assigns an AOSS-shaped _id (1%3A0%3A + 20 chars)", doc_id)
    enc = urllib.parse.quote(doc_id, safe="")
    s, body = c.json("GET", f"/passages/_doc/{enc}")
    check(s == 200 and body["found"] is True and body["_source"]["userId"] == "u-write",
          "GET by id is immediate (real-time get), id percent-encoded in the path", (s, body))
    s, body = c.json("POST", "/passages/_search", {"query": {"term": {"userId": "u-write"}}})
    check(s == 200 and body["hits"]["total"]["value"] == 0, "a new document is not searchable at once", body)
    s, body = c.json("POST", "/passages/_doc", {"embedding": [1, 2, 3], "userId": "x"})
    check(s == 400 and body["error"]["type"] == "mapper_parsing_exception",
          "a vector of the wrong dimension -> 400 mapper_parsing_exception", (s, body))
    s, body = c.json("POST", "/passages/_doc", {"_id": "x", "userId": "x"})
    check(s == 400 and body["error"]["type"] == "mapper_parsing_exception", "_id inside the source -> 400", s)
    return doc_id


def check_bulk(c: Client) -> None:
    line1 = json.dumps(index_action())
    line2 = json.dumps(passage("u-bulk", "d-bulk", 0, "bulk", unit([0, 1, 0, 0])))
    s, body = c.json("POST", "/passages/_bulk", line1 + "\n" + line2, content_type="application/x-ndjson")
    check(s == 400 and body["error"]["reason"] == "The bulk request must be terminated by a newline [\\n]",
          "_bulk without the trailing newline -> 400", (s, body))
    s, body = c.json("POST", "/passages/_bulk", line1 + "\n" + line2 + "\n", content_type="application/x-ndjson",
                     query=[("refresh", "wait_for")])
    check(s == 400 and body["error"]["type"] == "status_exception", "_bulk?refresh=wait_for -> 400", (s, body))
    s, body = c.bulk([
        {"index": {"_id": "custom-1"}}, passage("u-bulk", "d-bulk", 0, "custom id", unit([0, 1, 0, 0])),
        {"index": {}}, passage("u-bulk", "d-bulk", 1, "fine", unit([0, 1, 0, 0])),
        {"create": {"_index": "passages"}}, passage("u-bulk", "d-bulk", 2, "also fine", unit([0, 0, 1, 0])),
        {"create": {"_id": "custom-2"}}, passage("u-bulk", "d-bulk", 3, "custom id", unit([0, 0, 1, 0])),
        {"index": {}}, {"embedding": [1, 0], "userId": "u-bulk"},
    ])
    items = body["items"] if isinstance(body, dict) else []
    check(s == 200 and body["errors"] is True and len(items) == 5, "_bulk with some bad items -> 200, errors true",
          (s, body))
    if len(items) == 5:
        e0 = items[0]["index"]
        check(e0["status"] == 400 and e0["_id"] == "custom-1" and e0["error"]["type"] == "illegal_argument_exception"
              and e0["error"]["reason"] == "Document ID is not supported in create/index operation request",
              "bulk index with _id -> item 400 'Document ID is not supported ...'", e0)
        check(items[1]["index"]["status"] == 201 and items[1]["index"]["result"] == "created"
              and items[1]["index"]["_id"].startswith("1%3A0%3A"), "bulk index without _id -> item 201", items[1])
        check(items[2]["create"]["status"] == 201, "bulk create without _id -> item 201", items[2])
        check(items[3]["create"]["status"] == 400, "bulk create with _id -> item 400", items[3])
        check(items[4]["index"]["status"] == 400 and items[4]["index"]["error"]["type"] == "mapper_parsing_exception",
              "bulk item with a wrong-dimension vector -> item 400 mapper_parsing_exception", items[4])
    s, body = c.json("POST", "/passages/_bulk", '{"delete": {}}\n', content_type="application/x-ndjson")
    check(s == 400, "bulk delete without _id -> 400", (s, body))
    s, body = c.bulk([{"index": {}}, passage("u", "d", 0, "t", unit([1, 1, 1, 1]))], index="missing-index")
    check(s == 200 and body["items"][0]["index"]["status"] == 404, "bulk into a missing index -> item 404", body)


def check_visibility_knn_bm25_paging(c: Client, first_id: str) -> None:
    q = unit([1.0, 0.2, 0.0, 0.0])
    owner = [  # (text, vector) for u1, with a negative dot product among them
        ("The quick brown fox jumps over the lazy dog", unit([1.0, 0.1, 0.0, 0.0])),
        ("Foxes are quick and clever animals", unit([0.8, 0.5, 0.1, 0.0])),
        ("A slow green turtle", unit([0.1, 0.9, 0.3, 0.1])),
        ("Dogs and foxes: a study of the fox, the dog and the quick fox", unit([0.0, 0.0, 1.0, 0.0])),
        ("Nothing relevant at all here", unit([-1.0, -0.1, 0.0, 0.2])),
    ]
    other = [("quick fox quick fox quick fox", unit([1.0, 0.2, 0.0, 0.0]))]  # best for both, other owner
    lines: list[dict] = []
    for i, (text, vec) in enumerate(owner):
        lines += [index_action(), passage("u1", "doc-a" if i < 3 else "doc-b", i, text, vec, page=i + 1)]
    for i, (text, vec) in enumerate(other):
        lines += [index_action(), passage("u2", "doc-z", i, text, vec)]
    t0 = time.monotonic()
    s, body = c.bulk(lines)
    check(s == 200 and body["errors"] is False, "bulk of 6 passages", body)
    ids = [it["index"]["_id"] for it in body["items"]]
    s, res = c.search({"size": 10, "query": {"term": {"userId": "u1"}}})
    s2, cnt = c.json("POST", "/passages/_count", {"query": {"term": {"userId": "u1"}}})
    if time.monotonic() - t0 < DELAY * 0.8:
        check(res["hits"]["total"]["value"] == 0 and cnt == {"count": 0, "_shards": cnt["_shards"]},
              "writes are not visible to _search/_count before the delay", (res, cnt))
    wait_visible()
    s, cnt = c.json("POST", "/passages/_count", {"query": {"term": {"userId": "u1"}}})
    check(s == 200 and cnt["count"] == 5, "after the delay _count sees the owner's 5 passages", cnt)
    s, res = c.search({"query": {"term": {"userId": "u-write"}}})
    check(res["hits"]["total"]["value"] == 1 and ids_of(res) == [first_id],
          "the single POST _doc is searchable after the delay", res)

    # k-NN with an efficient filter on the owner
    body = {"size": 10, "query": {"knn": {"embedding": {"vector": q, "k": 10,
                                                        "filter": {"bool": {"filter": [{"term": {"userId": "u1"}}]}}}}}}
    s, res = c.search(body)
    hits = res["hits"]["hits"] if s == 200 else []
    want = sorted(((faiss_ip_score(q, vec), ids[i]) for i, (_, vec) in enumerate(owner)), key=lambda t: -t[0])
    check(s == 200 and [h["_id"] for h in hits] == [i for _, i in want],
          "knn + filter returns only the owner's passages, ranked by inner product", (s, res))
    check(all(abs(h["_score"] - f32(sc)) < 1e-5 for h, (sc, _) in zip(hits, want)),
          "knn scores follow faiss innerproduct (1 + dot, or 1/(1 - dot) when negative)",
          [(h["_score"], sc) for h, (sc, _) in zip(hits, want)])
    check(any(sc < 1 for sc, _ in want) and hits and hits[-1]["_score"] < 1,
          "a negative dot product scores below 1", [h["_score"] for h in hits])
    check(res.get("_shards") == {"total": 0, "successful": 0, "skipped": 0, "failed": 0}
          and res["timed_out"] is False and res["hits"]["total"] == {"value": 5, "relation": "eq"}
          and res["hits"]["max_score"] == hits[0]["_score"] and hits[0]["_index"] == "passages"
          and set(hits[0]["_source"]) == {"embedding", "userId", "documentId", "text", "page", "ordinal"},
          "search response has OpenSearch's shape", res)
    s, res = c.search({"size": 2, "query": {"knn": {"embedding": {"vector": q, "k": 2,
                                                                  "filter": {"term": {"userId": "u1"}}}}}})
    check(s == 200 and ids_of(res) == [i for _, i in want[:2]] and res["hits"]["total"]["value"] == 2,
          "knn k=2 gives the owner's two nearest", res)
    s, res = c.search({"size": 10, "query": {"knn": {"embedding": {"vector": q, "k": 10, "filter": {
        "bool": {"filter": [{"term": {"userId": "u1"}}, {"terms": {"documentId": ["doc-b"]}}]}}}}}})
    check(s == 200 and sorted(ids_of(res)) == sorted(ids[3:5]), "knn filter on owner and document ids", res)
    s, res = c.search({"size": 10, "query": {"knn": {"embedding": {"vector": q, "k": 10}}}})
    check(s == 200 and ids_of(res)[0] in (ids[5], ids[0]) and ids[5] in ids_of(res),
          "knn without a filter sees every owner (the filter is what isolates)", ids_of(res))
    s, res = c.search({"query": {"knn": {"embedding": {"vector": [1, 0, 0], "k": 3}}}})
    check(s == 400 and "dimension" in res["error"]["reason"], "knn vector of the wrong dimension -> 400", res)

    # BM25 match with the owner filter
    query_text = "quick fox"
    s, res = c.search({"size": 10, "query": {"bool": {"must": [{"match": {"text": query_text}}],
                                                      "filter": [{"term": {"userId": "u1"}}]}}})
    # BM25 statistics (N, avgdl, df) cover every visible passage of the index, not just these six
    s_all, everything = c.search({"size": 100, "query": {"exists": {"field": "text"}}, "_source": ["text"]})
    all_ids = ids_of(everything)
    texts = [h["_source"]["text"] for h in everything["hits"]["hits"]]
    check(set(ids) <= set(all_ids), "exists query finds every passage with text", all_ids)
    scores_all = dict(zip(all_ids, bm25_expected(texts, query_text)))
    expected = [scores_all.get(i, 0.0) for i in ids]
    want_m = sorted(((expected[i], ids[i]) for i in range(5) if expected[i] > 0), key=lambda t: (-t[0], ids.index(t[1])))
    got = [(h["_id"], h["_score"]) for h in res["hits"]["hits"]] if s == 200 else []
    check([g[0] for g in got] == [i for _, i in want_m], "match + filter ranks the owner's passages by BM25",
          (got, want_m))
    check(all(abs(g[1] - w[0]) < 1e-4 for g, w in zip(got, want_m)),
          "BM25 scores match Lucene's formula (k1 1.2, b 0.75)", (got, want_m))
    check(ids[5] not in [g[0] for g in got], "match + filter excludes the other owner's best match", got)
    s, res = c.search({"query": {"match": {"text": {"query": "quick fox", "operator": "and"}}},
                       "_source": False})
    both = {ids[i] for i, text in enumerate([t for t, _ in owner] + [t for t, _ in other])
            if {"quick", "fox"} <= set(bm25_tokens(text))}
    check(s == 200 and set(ids_of(res)) == both and len(both) == 3,
          "match with operator and needs every term", (ids_of(res), both))

    # paging over one document's ids (what deleting a document needs)
    lines = []
    for i in range(7):
        lines += [index_action(), passage("u3", "doc-p", i, f"page passage {i}", unit([1, i, 0, 0]), page=i // 3 + 1)]
    s, body = c.bulk(lines)
    pids = [it["index"]["_id"] for it in body["items"]]
    wait_visible()
    seen: list[str] = []
    after = None
    pages = 0
    while pages < 10:
        req = {"size": 3, "query": {"term": {"documentId": "doc-p"}}, "_source": False,
               "sort": [{"ordinal": "asc"}, {"_id": "asc"}]}
        if after is not None:
            req["search_after"] = after
        s, res = c.search(req)
        hits = res["hits"]["hits"] if s == 200 else []
        if not hits:
            break
        pages += 1
        check(all("_source" not in h and h["_score"] is None and "sort" in h for h in hits),
              f"paged hits page {pages}: no _source, null _score, sort values", hits)
        seen += [h["_id"] for h in hits]
        after = hits[-1]["sort"]
    check(seen == pids and pages == 3, "search_after pages through 7 ids in 3 pages in sort order", (seen, pids))
    fr: list[str] = []
    for start in (0, 3, 6):
        s, res = c.search({"from": start, "size": 3, "query": {"term": {"documentId": "doc-p"}},
                           "_source": False, "sort": [{"ordinal": "asc"}]})
        fr += ids_of(res)
    check(fr == pids, "from/size paging gives the same ids", fr)
    s, res = c.search({"size": 2, "query": {"term": {"documentId": "doc-p"}}, "_source": ["userId", "page"]})
    check(s == 200 and all(set(h["_source"]) == {"userId", "page"} for h in res["hits"]["hits"]),
          "_source includes", res)
    s, res = c.search({"size": 1, "query": {"term": {"documentId": "doc-p"}},
                       "_source": {"excludes": ["embedding"]}})
    check(s == 200 and "embedding" not in res["hits"]["hits"][0]["_source"]
          and "text" in res["hits"]["hits"][0]["_source"], "_source excludes", res)
    s, res = c.search({"size": 10001, "query": {"match_all": {}}})
    check(s == 400 and "Result window is too large" in res["error"]["reason"], "size 10001 -> 400", res)
    s, res = c.search({"size": 10000, "query": {"term": {"documentId": "doc-p"}}, "_source": False})
    check(s == 200 and len(res["hits"]["hits"]) == 7, "size 10000 is allowed", s)
    s, res = c.search({"from": 3, "size": 3, "query": {"match_all": {}}, "sort": ["_doc"],
                       "search_after": [1]})
    check(s == 400, "from with search_after -> 400", res)

    # a gzip-compressed request body (the signature covers the compressed bytes)
    import gzip
    raw = json.dumps({"query": {"term": {"documentId": "doc-p"}}}).encode()
    st, hd, pl = c.request("POST", "/passages/_count", gzip.compress(raw), content_type="application/json",
                           extra_headers={"content-encoding": "gzip"})
    check(st == 200 and json.loads(pl)["count"] == 7, "a gzip request body is accepted", (st, pl))

    # _count, _msearch
    s, cnt = c.json("POST", "/passages/_count", {"query": {"term": {"documentId": "doc-p"}}})
    check(s == 200 and cnt["count"] == 7, "_count with a query", cnt)
    msearch = "".join(json.dumps(x) + "\n" for x in [
        {}, {"size": 3, "query": {"knn": {"embedding": {"vector": q, "k": 3, "filter": {"term": {"userId": "u1"}}}}}},
        {"index": "passages"}, {"size": 3, "query": {"bool": {"must": [{"match": {"text": "fox"}}],
                                                              "filter": [{"term": {"userId": "u1"}}]}}},
    ])
    s, res = c.json("POST", "/passages/_msearch", msearch, content_type="application/x-ndjson")
    check(s == 200 and [r["status"] for r in res["responses"]] == [200, 200]
          and ids_of(res["responses"][0]) == [i for _, i in want[:3]],
          "_msearch answers a knn and a match search together", res)

    # deleting a document: bulk delete of its ids, visible late; GET by id gone at once
    s, body = c.bulk([{"delete": {"_id": i}} for i in pids])
    check(s == 200 and body["errors"] is False and all(it["delete"]["status"] == 200
                                                       and it["delete"]["result"] == "deleted" for it in body["items"]),
          "bulk delete of the 7 ids -> deleted", body)
    s, got = c.json("GET", "/passages/_doc/" + urllib.parse.quote(pids[0], safe=""))
    check(s == 404 and got["found"] is False, "a deleted document is gone from GET by id at once", (s, got))
    s, cnt = c.json("POST", "/passages/_count", {"query": {"term": {"documentId": "doc-p"}}})
    check(cnt["count"] == 7, "deleted passages stay searchable until the delay passes", cnt)
    wait_visible()
    s, cnt = c.json("POST", "/passages/_count", {"query": {"term": {"documentId": "doc-p"}}})
    check(cnt["count"] == 0, "after the delay the deleted passages are gone from search", cnt)
    s, body = c.bulk([{"delete": {"_id": pids[0]}}])
    check(s == 200 and body["errors"] is False and body["items"][0]["delete"]["status"] == 404
          and body["items"][0]["delete"]["result"] == "not_found",
          "deleting a missing id -> item not_found 404 without errors", body)
    enc = urllib.parse.quote(first_id, safe="")
    s, body = c.json("DELETE", f"/passages/_doc/{enc}")
    check(s == 200 and body["result"] == "deleted", "DELETE /passages/_doc/<id with %3A, encoded %253A>", (s, body))


def bm25_tokens(text: str) -> list[str]:
    return [t.lower() for t in re.findall(r"[A-Za-z0-9]+", text)]


def bm25_expected(texts: list[str], query: str) -> list[float]:
    """Lucene BM25 (k1 1.2, b 0.75) with all lengths < 24 (stored exactly by norms)."""
    docs = [bm25_tokens(t) for t in texts]
    n = len(docs)
    avgdl = sum(len(d) for d in docs) / n
    out = []
    for d in docs:
        score = 0.0
        for term in bm25_tokens(query):
            df = sum(1 for x in docs if term in x)
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            tf = d.count(term)
            if tf:
                score += idf * tf / (tf + 1.2 * (1 - 0.75 + 0.75 * len(d) / avgdl))
        out.append(score)
    return out


def check_request_log(c: Client) -> None:
    log = c.standin("GET", "/_standin/requests")["requests"]  # type: ignore[index]
    bulks = [e for e in log if e["path"] == "/passages/_bulk" and e["status"] == 200]
    check(bool(bulks), "the request log holds the _bulk requests", len(log))
    if bulks:
        e = bulks[0]
        check(e["headers"]["content-type"] == "application/x-ndjson" and e["body"].endswith("\n")
              and e["headers"]["x-amz-content-sha256"] == hashlib.sha256(e["body"].encode()).hexdigest()
              and "/eu-west-1/aoss/aws4_request" in e["headers"]["authorization"] and e["auth"]["ok"] is True
              and e["auth"]["scope"].endswith("/eu-west-1/aoss/aws4_request")
              and "x-amz-content-sha256" in e["auth"]["signed_headers"],
              "a logged _bulk shows NDJSON, the trailing newline, the content hash and the aoss scope", e)
    knn = [e for e in log if e["path"] == "/passages/_search" and e["body"] and '"knn"' in e["body"]
           and '"filter"' in e["body"]]
    check(bool(knn) and json.loads(knn[0]["body"])["query"]["knn"]["embedding"]["filter"] is not None,
          "the log keeps the knn search body with its filter", len(knn))
    since = log[-1]["seq"]
    c.json("GET", "/passages/_count")
    newer = c.standin("GET", f"/_standin/requests?since={since}")["requests"]  # type: ignore[index]
    check(len(newer) == 1 and newer[0]["path"] == "/passages/_count", "?since= returns only newer requests",
          newer)


def check_faults(c: Client) -> None:
    c.standin("POST", "/_standin/faults", {"status": 429, "count": 1, "path": "/_search$"})
    s1, _ = c.search({"query": {"match_all": {}}})
    s2, _ = c.search({"query": {"match_all": {}}})
    check((s1, s2) == (429, 200), "an injected 429 answers once, then the search succeeds", (s1, s2))
    c.standin("POST", "/_standin/faults", {"delay_ms": 300, "count": 1})
    t0 = time.monotonic()
    s, _ = c.json("GET", "/passages/_count")
    check(s == 200 and time.monotonic() - t0 >= 0.3, "an injected delay (cold collection) delays one request",
          time.monotonic() - t0)


def check_concurrency(c: Client) -> None:
    c.json("PUT", "/concurrent", MAPPING)
    results: list[list[str]] = []
    errors: list[object] = []

    def worker(w: int) -> None:
        mine = []
        for b in range(5):
            lines = []
            for i in range(10):
                lines += [index_action(), passage(f"w{w}", f"b{b}", i, f"worker {w} batch {b} item {i}",
                                                  unit([1, w, b, i + 1]))]
            s, body = c.bulk(lines, index="concurrent")
            if s != 200 or body["errors"]:
                errors.append(body)
                return
            mine += [it["index"]["_id"] for it in body["items"]]
        results.append(mine)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    all_ids = [i for r in results for i in r]
    check(not errors and len(all_ids) == 400 and len(set(all_ids)) == 400,
          "8 concurrent writers x 5 bulks x 10: 400 distinct ids", (errors[:1], len(all_ids)))
    wait_visible()
    s, cnt = c.json("GET", "/concurrent/_count")
    check(cnt["count"] == 400, "all 400 concurrent writes become visible", cnt)
    s, body = c.json("DELETE", "/concurrent")
    check(s == 200 and body == {"acknowledged": True}, "DELETE /concurrent", body)


def check_reset(c: Client) -> None:
    c.standin("POST", "/_standin/reset")
    s, _, _ = c.request("HEAD", "/passages")
    log = c.standin("GET", "/_standin/requests")["requests"]  # type: ignore[index]
    check(s == 404 and len(log) == 1, "POST /_standin/reset clears indices and the request log", (s, len(log)))


def check_second_instance() -> None:
    port = free_port()
    proc, got_port, line = start_standin("--port", str(port), "--region", "us-east-1",
                                         "--visibility-delay-ms", "0", "--allow-unsigned-payload",
                                         "--disallow-id-fielddata")
    try:
        check(got_port == port and line == f"opensearch-standin listening on http://127.0.0.1:{port}",
              "--port PORT: the ready line names that port", line)
        c = Client(port, region="us-east-1")
        s, _ = c.json("PUT", "/passages", MAPPING)
        check(s == 200, "--region us-east-1 accepts a us-east-1 signature", s)
        s, _ = c.json("GET", "/passages", region="eu-west-1")
        check(s == 403, "--region us-east-1 refuses an eu-west-1 signature", s)
        s, body = c.bulk([index_action(), passage("u", "d", 0, "now", unit([1, 0, 0, 0]))])
        s, cnt = c.json("GET", "/passages/_count")
        check(cnt["count"] == 1, "--visibility-delay-ms 0 makes writes visible at once", cnt)
        s, _ = c.json("POST", "/passages/_search", {"query": {"match_all": {}}}, payload_hash="UNSIGNED-PAYLOAD")
        check(s == 200, "--allow-unsigned-payload accepts UNSIGNED-PAYLOAD", s)
        s, res = c.search({"query": {"match_all": {}}, "sort": [{"_id": "asc"}]})
        check(s == 400 and "indices.id_field_data.enabled" in res["error"]["reason"],
              "--disallow-id-fielddata refuses sorting on _id", (s, res))
        s, res = c.search({"query": {"match_all": {}}, "sort": [{"ordinal": "asc"}]})
        check(s == 200, "--disallow-id-fielddata still sorts on mapped fields", (s, res))
        cfg = c.standin("GET", "/_standin/config")
        check(cfg["visibility_delay_ms"] == 0, "GET /_standin/config", cfg)  # type: ignore[index]
    finally:
        stop(proc)


def main() -> int:
    check_signer_against_aws_vectors()
    check_server_canonicalisation_against_aws_vectors()
    proc, port, line = start_standin("--port", "0")
    try:
        c = Client(port)
        cfg = c.standin("GET", "/_standin/config")
        check(cfg["visibility_delay_ms"] == 1000 and cfg["region"] == "eu-west-1",  # type: ignore[index]
              "defaults: 1000 ms visibility delay, region eu-west-1", cfg)
        check_auth(c)
        check_index_api(c)
        check_unsupported(c)
        first_id = check_ids_and_writes(c)
        check_bulk(c)
        check_visibility_knn_bm25_paging(c, first_id)
        check_request_log(c)
        check_faults(c)
        check_concurrency(c)
        check_reset(c)
    finally:
        stop(proc)
        err = proc.stderr.read() if proc.stderr else ""
        if err.strip():
            print("stand-in stderr:\n" + err, file=sys.stderr)
    check_second_instance()
    print(f"opensearch stand-in: {passed} checks passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
