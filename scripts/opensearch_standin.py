#!/usr/bin/env python3
"""A loopback stand-in for an Amazon OpenSearch Serverless VECTORSEARCH collection.

    python3 scripts/opensearch_standin.py --port PORT [--visibility-delay-ms 1000]
        [--region eu-west-1] [--access-key testing --secret-key testing]

Prints `opensearch-standin listening on http://127.0.0.1:PORT` on stdout once it
accepts connections (with --port 0 the kernel picks the port and the line names it),
then serves until killed. Python standard library only; thread-safe (one lock over
all state). Nothing leaves loopback. scripts/check_opensearch_standin.py checks it.

It exists so the askdocs OpenSearch adapter can be tested without AWS: it answers the
data-plane API the way a VECTORSEARCH collection does where that is known, checks
SigV4 like the service, and records every request so a test can assert what was sent.

What it does like AOSS (and where that is documented or observed)
------------------------------------------------------------------
* SigV4 for service `aoss` on every request: `Authorization: AWS4-HMAC-SHA256
  Credential=<key>/<yyyymmdd>/<region>/aoss/aws4_request, SignedHeaders=..,
  Signature=..`, `x-amz-date`, and `x-amz-content-sha256` (required by AOSS: AWS
  "Signing requests to OpenSearch Serverless"). The signature is recomputed from
  what arrived: method; the path as received, normalised (dot segments) and
  URI-encoded again (non-S3 services sign the path encoded twice, so an id holding
  `%3A` travels as `%253A` and is signed as `%25253A`); query parameters decoded,
  re-encoded and sorted; the signed headers lower-cased with trimmed values and
  runs of spaces collapsed; the payload hash header. `host`, `x-amz-date` and
  `x-amz-content-sha256` must be among SignedHeaders. Failures answer 403 with
  an AOSS-shaped JSON body, never a hint at the expected string to sign (AOSS gives
  none either; the stand-in puts it in its request log instead).
* `Content-Length` among SignedHeaders is refused (403): AWS's guide said "You can't
  include Content-Length as a signed header, otherwise you'll get an invalid
  signature error" (--allow-signed-content-length turns this off).
* The collection assigns every `_id` itself, shaped like AOSS's
  (`1%3A0%3A` + 20 url-safe characters: the `%3A` is part of the id, so a client must
  percent-encode it when it puts an id in a path). A custom id is refused:
  `PUT|POST /{index}/_doc/{id}` and `/{index}/_create/{id}` answer 400
  illegal_argument_exception "Document ID is not supported in create/index
  operation request"; in `_bulk` an `index`/`create` action with `_id` fails that
  item alone (status 400, same reason, `errors: true`) - the shape reported in
  langchain-ai/langchainjs#4346 and aws/aws-sdk-pandas#2784.
* No `GET /`, no `_refresh`, no `_delete_by_query`, no scroll (`_search/scroll`,
  `?scroll=`), no PIT: 404 with an empty body (as AOSS answers `_refresh` and
  `GET /`, opensearch-project/k-NN#1037, fluent-plugin-opensearch#126; 404 for
  `_delete_by_query`, opensearch-java#1112; scroll, opensearch-hadoop#586). Any
  unknown route answers the same. A `refresh=true|wait_for` parameter on a write
  answers 400 status_exception "true refresh policy is not supported."
  (opensearch-ruby#131).
* Writes are visible to search (`_search`, `_count`, `_msearch`) only after
  --visibility-delay-ms (default 1000); deletes likewise disappear from search only
  after the delay. GET by id is real time (a new document is found at once, a
  deleted one is gone at once).
* `_bulk` is NDJSON and must end with a newline (400 "The bulk request must be
  terminated by a newline [\\n]", OpenSearch's own message); `errors` is true only
  when an item carries an `error` (a delete of a missing id is `not_found`/404
  without error, as in OpenSearch).
* Search responses carry `_shards` all zero, as AOSS's do.
* A request body with `Content-Encoding: gzip` is accepted (the signature covers the
  compressed bytes).
* Sorting on `_id` works (OpenSearch's default, deprecated); --disallow-id-fielddata
  refuses it as `indices.id_field_data.enabled=false` does, since AOSS's setting is
  not documented - a paging loop that passes with the flag does not depend on it.

Search (what the adapter sends, and a little more)
--------------------------------------------------
* `knn` on a knn_vector field: `{"knn": {"embedding": {"vector": [..], "k": K,
  "filter": {..}}}}` - EXACT nearest neighbours over the stored float32 vectors
  (AOSS runs faiss HNSW, approximate), with the filter applied before ranking
  (efficient filtering), then the top K. Scores follow the k-NN plugin's
  transforms for the field's space_type: innerproduct (faiss) 1 + dot when dot >= 0,
  else 1 / (1 - dot); l2 1 / (1 + squared distance); cosinesimil (2 - (1 - cos)) / 2.
  `min_score` / `max_distance` radial search instead of `k` are accepted.
* `match` on a text field: BM25 (k1 1.2, b 0.75, Lucene's formula idf * tf / (tf +
  k1 (1 - b + b dl/avgdl)) with idf = ln(1 + (N - n + 0.5)/(n + 0.5)) and the
  document length quantised as Lucene's norms are). `operator` and
  `minimum_should_match` (an integer) are supported.
* `term`, `terms`, `ids`, `range`, `exists`, `match_all`, `match_none`,
  `constant_score`, and `bool` (must / filter / should / must_not,
  minimum_should_match), scored as Lucene scores them in query context (term on a
  keyword: BM25 without norms; terms / range / exists / ids: constant 1; a bool of
  filters only: 0).
* `size` (default 10), `from`, `from + size <= 10000` (index.max_result_window),
  `sort` (fields, `_score`, `_doc`, `_id`; asc/desc; missing last), `search_after`,
  `_source` (false / true / field or list of patterns / includes+excludes),
  `track_total_hits` (default: exact up to 10000, then "gte"), `min_score`,
  `track_scores`. Response: `{"took","timed_out":false,"_shards","hits":{"total":
  {"value","relation"},"max_score","hits":[{"_index","_id","_score","_source"}]}}`
  (`sort` values on each hit when sorted; `_score`/`max_score` null then).
* `_count` (`{"count": N}`) and `_msearch` (NDJSON header/body pairs).

Stand-in only (unsigned, never recorded)
----------------------------------------
* `GET /_standin/requests[?since=SEQ]` -> `{"requests": [{"seq", "time", "method",
  "path", "query", "headers" (lower-case name -> value), "raw_headers" ([name, value]
  as received), "body" (text; `body_base64` instead when not UTF-8), "body_sha256",
  "status", "response_body", "auth": {"ok", "error", "access_key", "scope",
  "signed_headers", "canonical_request", "string_to_sign"}}], "next_seq"}`.
  An entry is added (and `seq` numbered, in completion order) just before its
  response is sent. `DELETE /_standin/requests` clears the log only.
* `POST /_standin/reset` clears everything (indices, log, faults; config kept).
* `GET|POST /_standin/config` reads / sets `{"visibility_delay_ms": N}`.
* `POST /_standin/faults` `{"status": 429, "count": 1, "method": "POST",
  "path": "regex", "delay_ms": 0, "body": {..}}` makes the next `count` signed
  requests that match answer `status` (after a valid signature, before the API),
  and/or wait `delay_ms` first (a cold collection). `DELETE /_standin/faults` clears.
* `GET /_standin/state` -> indices with their visible / pending / deleting counts.

Deviations from a real VECTORSEARCH collection (known or guessed)
-----------------------------------------------------------------
* Guessed: the 403 body (`{"status":403,"request-id":..,"error":{"reason":..,
  "type":"Forbidden"}}`, the shape AOSS returns for AccessDenied) and its reasons;
  that `x-amz-content-sha256` must itself be signed (S3's rule; AOSS may not insist).
* `x-amz-content-sha256: UNSIGNED-PAYLOAD` is refused by default; AWS documents
  AOSS as accepting it (--allow-unsigned-payload). The stand-in wants the real hash
  so the adapter's hashing is tested.
* No IAM/data-access policy is evaluated: any request signed with the one known
  key pair is allowed. A session token is not checked unless --session-token is
  given (then `x-amz-security-token` must equal it).
* The clock skew allowed is 15 minutes either way (AWS's usual rule).
* Single node, single shard, exact search: no HNSW approximation, no per-shard k,
  no segment merges; BM25 statistics cover exactly the visible documents (Lucene
  also counts deleted-but-unmerged ones). Scores are rounded to float32.
* The analyzer approximates OpenSearch's `standard` one (UAX#29 word breaks +
  lowercase): runs of letters/digits/underscore, joined across a single `.` or `'`
  between letters or digits and `,` `;` between digits; tokens longer than 255
  split; no special CJK handling. Custom analyzers in a mapping are ignored.
* Unmapped fields (dynamic mapping) behave as text for `match` and as exact
  values for `term`; `field.keyword` refers to the exact value.
* Not supported (400 with a reason naming the stand-in): aggregations,
  highlighting, `hybrid`/neural queries, search pipelines, `_update` and bulk
  `update` (AOSS vector collections refuse upserts; partial updates are untested
  here). `filter_path` is ignored (the full response is returned). Index-level
  refresh interval, aliases, templates, `_cat`, `_mapping` writes beyond adding
  fields are not implemented (404 / as noted).
* Bulk into a missing index fails the item with index_not_found_exception (404)
  instead of auto-creating the index.
* Write responses (`_doc`, `_bulk` items) carry `_shards` all zero and
  `_primary_term` 1 (AOSS's exact values for writes are unknown).
* PIT is not implemented (AOSS added PIT support in 2024 for some collection types).
"""

from __future__ import annotations

import argparse
import array
import base64
import datetime as dt
import fnmatch
import functools
import gzip
import hashlib
import hmac
import json
import math
import re
import secrets
import struct
import sys
import threading
import time
import unicodedata
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
MAX_RESULT_WINDOW = 10000
ID_FIELDDATA_ENABLED = [True]  # OpenSearch's default; --disallow-id-fielddata turns it off
TRACK_TOTAL_HITS_DEFAULT = 10000
BM25_K1 = 1.2
BM25_B = 0.75
MAX_TOKEN_LENGTH = 255
CLOCK_SKEW_SECONDS = 15 * 60
ID_PREFIX = "1%3A0%3A"
ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
METADATA_FIELDS = {
    "_id", "_index", "_source", "_routing", "_version", "_seq_no", "_primary_term",
    "_field_names", "_ignored", "_type", "_size", "_doc_count", "_data_stream_timestamp",
}
NUMERIC_TYPES = {"integer", "long", "short", "byte", "float", "double", "half_float",
                 "scaled_float", "unsigned_long"}
INTEGER_TYPES = {"integer", "long", "short", "byte", "unsigned_long"}
KNOWN_FIELD_TYPES = NUMERIC_TYPES | {"keyword", "text", "knn_vector", "boolean", "date",
                                     "object", "match_only_text", "constant_keyword"}
SEARCH_KEYS = {"query", "size", "from", "_source", "sort", "search_after", "track_total_hits",
               "timeout", "min_score", "track_scores", "stored_fields", "explain", "version",
               "seq_no_primary_term", "profile", "terminate_after"}


# --------------------------------------------------------------------------- errors


class ApiError(Exception):
    """An OpenSearch-shaped error: {"error":{"root_cause":[..],"type","reason",..},"status"}."""

    def __init__(self, status: int, etype: str, reason: str, **extra: Any):
        super().__init__(reason)
        self.status = status
        self.etype = etype
        self.reason = reason
        self.extra = extra

    def error_object(self) -> dict:
        cause = {"type": self.etype, "reason": self.reason, **self.extra}
        return {"root_cause": [cause], **cause}

    def body(self) -> dict:
        return {"error": self.error_object(), "status": self.status}


class NotSupported(Exception):
    """AOSS answers 404 with an empty body (unknown or unsupported route)."""

    def __init__(self, what: str):
        super().__init__(what)
        self.what = what


def bad_request(reason: str, etype: str = "illegal_argument_exception", **extra: Any) -> ApiError:
    return ApiError(400, etype, reason, **extra)


def parsing(reason: str) -> ApiError:
    return ApiError(400, "parsing_exception", reason)


def standin_unsupported(what: str) -> ApiError:
    return ApiError(400, "illegal_argument_exception",
                    f"[opensearch-standin] {what} is not supported by this stand-in")


def index_not_found(name: str) -> ApiError:
    return ApiError(404, "index_not_found_exception", f"no such index [{name}]",
                    index=name, **{"resource.type": "index_or_alias", "resource.id": name,
                                   "index_uuid": "_na_"})


def f32(x: float) -> float:
    """Round to float32, as Lucene scores and stored vectors are."""
    if math.isnan(x) or math.isinf(x):
        return x
    try:
        return struct.unpack("f", struct.pack("f", x))[0]
    except OverflowError:
        return math.copysign(math.inf, x)


# --------------------------------------------------------------------------- SigV4


_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


def uri_encode(data: bytes | str, keep_slash: bool) -> str:
    """SigV4 URI-encoding: every byte but the unreserved ones as %XX (upper-case hex)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    out = []
    for b in data:
        if b in _UNRESERVED or (keep_slash and b == 0x2F):
            out.append(chr(b))
        else:
            out.append("%%%02X" % b)
    return "".join(out)


def remove_dot_segments(path: str) -> str:
    """RFC 3986 5.2.4 on the wire path (percent-encoding untouched), keeping a trailing slash."""
    if not path:
        return "/"
    segments = path.split("/")
    out: list[str] = []
    for seg in segments[1:] if path.startswith("/") else segments:
        if seg == ".":
            continue
        if seg == "..":
            if out:
                out.pop()
            continue
        out.append(seg)
    result = "/" + "/".join(out)
    if segments[-1] in (".", "..") and not result.endswith("/"):
        result += "/"
    return result


def canonical_uri(wire_path: str) -> str:
    """The path exactly as it arrived (latin-1 str from http.server), dot segments removed,
    then URI-encoded once more: non-S3 services sign the already-encoded path encoded again."""
    raw = wire_path.encode("latin-1")
    normalized = remove_dot_segments(raw.decode("latin-1"))
    return uri_encode(normalized.encode("latin-1"), keep_slash=True)


def canonical_query(raw_query: str, plus_as_space: bool) -> str:
    pairs = []
    if raw_query:
        for part in raw_query.split("&"):
            if part == "":
                continue
            key, sep, value = part.partition("=")
            unquote = urllib.parse.unquote_plus if plus_as_space else urllib.parse.unquote
            k = unquote(key, encoding="utf-8", errors="surrogateescape")
            v = unquote(value, encoding="utf-8", errors="surrogateescape")
            pairs.append((uri_encode(k.encode("utf-8", "surrogateescape"), False),
                          uri_encode(v.encode("utf-8", "surrogateescape"), False)))
    pairs.sort()
    return "&".join(f"{k}={v}" for k, v in pairs)


def canonical_header_value(values: list[str]) -> str:
    return ",".join(re.sub(r"\s+", " ", v.strip()) for v in values)


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    k = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    k = hmac.new(k, region.encode(), hashlib.sha256).digest()
    k = hmac.new(k, service.encode(), hashlib.sha256).digest()
    return hmac.new(k, b"aws4_request", hashlib.sha256).digest()


_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=([^,\s]+)\s*,\s*SignedHeaders=([^,\s]+)\s*,\s*Signature=([0-9a-fA-F]+)\s*$"
)


class AuthFailure(Exception):
    pass


def verify_sigv4(method: str, wire_path: str, raw_query: str, headers: list[tuple[str, str]],
                 body: bytes, cfg: "Config", now: float, info: dict) -> None:
    """Raises AuthFailure with an AWS-like reason; fills `info` for the request log."""
    by_name: dict[str, list[str]] = {}
    for name, value in headers:
        by_name.setdefault(name.lower(), []).append(value)

    auth_values = by_name.get("authorization")
    if not auth_values:
        raise AuthFailure("Missing Authentication Token: no Authorization header")
    m = _AUTH_RE.match(auth_values[0].strip())
    if not m:
        raise AuthFailure("Authorization header requires AWS4-HMAC-SHA256 with Credential, "
                          "SignedHeaders and Signature")
    credential, signed_headers_s, signature = m.group(1), m.group(2), m.group(3).lower()
    parts = credential.split("/")
    if len(parts) != 5:
        raise AuthFailure(f"Credential should be scoped to a valid key/date/region/service/"
                          f"aws4_request, got '{credential}'")
    access_key, scope_date, region, service, terminator = parts
    scope = "/".join(parts[1:])
    signed_headers = signed_headers_s.split(";")
    info.update(access_key=access_key, scope=scope, signed_headers=signed_headers)

    if access_key != cfg.access_key:
        raise AuthFailure("The security token included in the request is invalid "
                          f"(unknown access key '{access_key}')")
    if terminator != "aws4_request":
        raise AuthFailure(f"Credential should be scoped with a valid terminator 'aws4_request', "
                          f"not '{terminator}'")
    if service != "aoss":
        raise AuthFailure(f"Credential should be scoped to correct service: 'aoss', not '{service}'")
    if region != cfg.region:
        raise AuthFailure(f"Credential should be scoped to a valid region: '{cfg.region}', "
                          f"not '{region}'")
    if signed_headers != sorted(signed_headers) or any(h != h.lower() or not h for h in signed_headers):
        raise AuthFailure("SignedHeaders must be lower-case, sorted and separated by ';'")
    for required in ("host", "x-amz-date", "x-amz-content-sha256"):
        if required not in signed_headers:
            raise AuthFailure(f"'{required}' must be a signed header")
    if "content-length" in signed_headers and not cfg.allow_signed_content_length:
        raise AuthFailure("Content-Length must not be a signed header for OpenSearch Serverless")

    amz_dates = by_name.get("x-amz-date")
    if not amz_dates:
        raise AuthFailure("Missing x-amz-date header")
    amz_date = amz_dates[0].strip()
    try:
        when = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        raise AuthFailure(f"x-amz-date '{amz_date}' is not in the ISO8601 basic format "
                          "yyyyMMdd'T'HHmmss'Z'") from None
    if amz_date[:8] != scope_date:
        raise AuthFailure(f"Date in Credential scope '{scope_date}' does not match x-amz-date "
                          f"'{amz_date}'")
    skew = when.timestamp() - now
    if abs(skew) > CLOCK_SKEW_SECONDS:
        raise AuthFailure(f"Signature expired: {amz_date} is more than 15 minutes from the "
                          "server's time")

    hashes = by_name.get("x-amz-content-sha256")
    if not hashes:
        raise AuthFailure("Missing x-amz-content-sha256 header (required by OpenSearch Serverless)")
    claimed = hashes[0].strip()
    actual = hashlib.sha256(body).hexdigest()
    if claimed == "UNSIGNED-PAYLOAD":
        if not cfg.allow_unsigned_payload:
            raise AuthFailure("x-amz-content-sha256 UNSIGNED-PAYLOAD refused by this stand-in "
                              "(start it with --allow-unsigned-payload to accept it)")
    elif claimed.lower() != actual:
        raise AuthFailure("The provided x-amz-content-sha256 header does not match what was "
                          f"computed (body sha256 {actual})")

    if cfg.session_token is not None:
        tokens = by_name.get("x-amz-security-token")
        if not tokens or tokens[0].strip() != cfg.session_token:
            raise AuthFailure("The security token included in the request is invalid")

    canon_headers = []
    for name in signed_headers:
        if name not in by_name:
            raise AuthFailure(f"Signed header '{name}' is not in the request")
        canon_headers.append(f"{name}:{canonical_header_value(by_name[name])}\n")
    key = signing_key(cfg.secret_key, scope_date, region, service)
    candidates = []
    for plus_as_space in (True, False):
        creq = "\n".join([
            method,
            canonical_uri(wire_path),
            canonical_query(raw_query, plus_as_space),
            "".join(canon_headers),
            signed_headers_s,
            claimed,
        ])
        sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(creq.encode("utf-8", "surrogateescape")).hexdigest()])
        expected = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        candidates.append((creq, sts))
        if hmac.compare_digest(expected, signature):
            info.update(canonical_request=creq, string_to_sign=sts)
            return
        if "+" not in raw_query:
            break
    info.update(canonical_request=candidates[0][0], string_to_sign=candidates[0][1])
    raise AuthFailure("The request signature we calculated does not match the signature you "
                      "provided. Check your AWS Secret Access Key and signing method.")


# --------------------------------------------------------------------------- analysis


def _cls(ch: str) -> str:
    """'W' word char (letter/digit/mark/underscore), 'D' digit, 'L' letter-ish, or the char."""
    if ch == "_":
        return "U"
    cat = unicodedata.category(ch)
    if cat == "Nd":
        return "D"
    if cat[0] in "LM" or cat in ("Nl", "No"):
        return "L"
    return ch


_MID_LETTER = {".", "'", "\u2019", "\u00b7", "\u2027", "\ufe13", "\ufe52", "\ufe55", "\uff07", "\uff0e", "\uff1a"}
_MID_NUM = {".", ",", ";", "'", "\u2019", "\u066c", "\ufe50", "\ufe54", "\uff0c", "\uff1b"}


def analyze(text: str) -> list[str]:
    """Approximates the standard analyzer: UAX#29 words, lower-cased."""
    tokens: list[str] = []
    n = len(text)
    i = 0
    while i < n:
        c = _cls(text[i])
        if c not in ("L", "D", "U"):
            i += 1
            continue
        start = i
        i += 1
        while i < n:
            c = _cls(text[i])
            if c in ("L", "D", "U"):
                i += 1
                continue
            if i + 1 < n:
                prev, nxt = _cls(text[i - 1]), _cls(text[i + 1])
                ch = text[i]
                if prev == "L" and nxt == "L" and ch in _MID_LETTER:
                    i += 2
                    continue
                if prev == "D" and nxt == "D" and ch in _MID_NUM:
                    i += 2
                    continue
            break
        word = text[start:i].lower()
        for j in range(0, len(word), MAX_TOKEN_LENGTH):
            tokens.append(word[j:j + MAX_TOKEN_LENGTH])
    return tokens


# Lucene's SmallFloat.intToByte4 / byte4ToInt: how norms quantise a field's length.
def _long_to_int4(i: int) -> int:
    num_bits = i.bit_length()
    if num_bits < 4:
        return i
    shift = num_bits - 4
    encoded = (i >> shift) & 0x07
    return encoded | ((shift + 1) << 3)


def _int4_to_long(i: int) -> int:
    bits = i & 0x07
    shift = (i >> 3) - 1
    return bits if shift == -1 else (bits | 0x08) << shift


_NUM_FREE_VALUES = 255 - _long_to_int4(2**31 - 1)


def quantized_length(length: int) -> int:
    if length < _NUM_FREE_VALUES:
        return length
    byte = _NUM_FREE_VALUES + _long_to_int4(length - _NUM_FREE_VALUES)
    if byte > 255:
        byte = 255
    return _NUM_FREE_VALUES + _int4_to_long(byte - _NUM_FREE_VALUES)


def bm25_idf(doc_count: int, doc_freq: int) -> float:
    return math.log(1 + (doc_count - doc_freq + 0.5) / (doc_freq + 0.5))


# --------------------------------------------------------------------------- model


class Config:
    def __init__(self, args: argparse.Namespace):
        self.access_key: str = args.access_key
        self.secret_key: str = args.secret_key
        self.region: str = args.region
        self.session_token: str | None = args.session_token
        self.visibility_delay_ms: int = args.visibility_delay_ms
        self.allow_unsigned_payload: bool = args.allow_unsigned_payload
        self.allow_signed_content_length: bool = args.allow_signed_content_length
        self.verbose: bool = args.verbose


class Doc:
    __slots__ = ("id", "source", "fields", "seq", "version", "visible_at", "delete_visible_at",
                 "tokens", "vectors")

    def __init__(self, doc_id: str, source: dict, seq: int, visible_at: float):
        self.id = doc_id
        self.fields = source  # what was indexed (searchable even if _source drops it)
        self.source = source  # what _source returns (mapping `_source` excludes applied)
        self.seq = seq
        self.version = 1
        self.visible_at = visible_at
        self.delete_visible_at: float | None = None
        self.tokens: dict[str, list[str]] = {}
        self.vectors: dict[str, array.array] = {}

    def searchable(self, now: float) -> bool:
        if self.visible_at > now:
            return False
        return self.delete_visible_at is None or self.delete_visible_at > now


def _values(v: Any) -> list:
    if v is None:
        return []
    if isinstance(v, list):
        out = []
        for x in v:
            out.extend(_values(x))
        return out
    return [v]


def keyword_str(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(v)
    return str(v)


class Index:
    def __init__(self, name: str, body: dict):
        self.name = name
        self.uuid = uuid.uuid4().hex[:22]
        self.created = int(time.time() * 1000)
        self.settings = normalize_settings(body.get("settings") or {})
        mappings = body.get("mappings") or {}
        if not isinstance(mappings, dict):
            raise ApiError(400, "mapper_parsing_exception", "Failed to parse mapping: mappings must be an object")
        self.mappings = json.loads(json.dumps(mappings))
        self.properties: dict[str, dict] = {}
        self.dynamic = mappings.get("dynamic", True)
        self.add_properties(mappings.get("properties") or {})
        self.docs: dict[str, Doc] = {}

    def add_properties(self, props: dict, prefix: str = "") -> None:
        if not isinstance(props, dict):
            raise ApiError(400, "mapper_parsing_exception", "Failed to parse mapping: properties must be an object")
        for name, spec in props.items():
            full = prefix + name
            if not isinstance(spec, dict):
                raise ApiError(400, "mapper_parsing_exception",
                               f"Expected map for property [fields] on field [{full}] but got a {type(spec).__name__}")
            if "properties" in spec and "type" not in spec:
                self.add_properties(spec["properties"], full + ".")
                continue
            ftype = spec.get("type", "object")
            if ftype not in KNOWN_FIELD_TYPES:
                raise ApiError(400, "mapper_parsing_exception",
                               f"No handler for type [{ftype}] declared on field [{full}]")
            if full in self.properties and self.properties[full].get("type") != ftype:
                raise bad_request(f"mapper [{full}] cannot be changed from type "
                                  f"[{self.properties[full].get('type')}] to [{ftype}]")
            if ftype == "knn_vector":
                dim = spec.get("dimension")
                if not isinstance(dim, int) or isinstance(dim, bool) or not 1 <= dim <= 16000:
                    raise ApiError(400, "mapper_parsing_exception",
                                   f"Dimension value missing or invalid for vector: {full}")
                method = spec.get("method") or {}
                engine = method.get("engine", "faiss")
                if engine not in ("faiss", "lucene", "nmslib"):
                    raise ApiError(400, "mapper_parsing_exception", f"Invalid engine type: {engine}")
                space = method.get("space_type") or spec.get("space_type") or "l2"
                if space not in ("l2", "innerproduct", "cosinesimil", "l1", "linf"):
                    raise ApiError(400, "mapper_parsing_exception", f"Unable to find space: {space}")
            self.properties[full] = spec
            for sub, subspec in (spec.get("fields") or {}).items():
                if isinstance(subspec, dict) and subspec.get("type") in KNOWN_FIELD_TYPES:
                    self.properties[f"{full}.{sub}"] = dict(subspec, _multi_of=full)

    # field resolution -------------------------------------------------------
    def field_type(self, field: str) -> str | None:
        spec = self.properties.get(field)
        if spec:
            return spec.get("type", "object")
        if field.endswith(".keyword"):
            return "keyword"
        return None

    def field_values(self, doc: Doc, field: str) -> list:
        if field == "_id":
            return [doc.id]
        spec = self.properties.get(field)
        if spec and "_multi_of" in spec:
            return _values(get_path(doc.fields, spec["_multi_of"]))
        if spec is None and field.endswith(".keyword") and field not in self.properties:
            base = field[: -len(".keyword")]
            if base not in self.properties or self.properties[base].get("type") == "text":
                return _values(get_path(doc.fields, base))
        return _values(get_path(doc.fields, field))

    def tokens(self, doc: Doc, field: str) -> list[str]:
        toks = doc.tokens.get(field)
        if toks is None:
            toks = []
            for v in self.field_values(doc, field):
                if isinstance(v, str):
                    toks.extend(analyze(v))
                elif not isinstance(v, (dict, list)):
                    toks.extend(analyze(keyword_str(v)))
            doc.tokens[field] = toks
        return toks

    def vector_space(self, field: str) -> tuple[int, str]:
        spec = self.properties.get(field)
        if not spec or spec.get("type") != "knn_vector":
            raise bad_request(f"Field '{field}' is not knn_vector type.")
        method = spec.get("method") or {}
        space = method.get("space_type") or spec.get("space_type") or "l2"
        return spec["dimension"], space

    # validation -------------------------------------------------------------
    def validate_source(self, source: Any, doc_id: str) -> None:
        if not isinstance(source, dict):
            raise ApiError(400, "mapper_parsing_exception", "failed to parse",
                           caused_by={"type": "not_x_content_exception",
                                      "reason": "Compressor detection can only be called on some xcontent bytes or compressed xcontent bytes"})
        for key in source:
            if key in METADATA_FIELDS:
                raise ApiError(400, "mapper_parsing_exception",
                               f"Field [{key}] is a metadata field and cannot be added inside a document. "
                               "Use the index API request parameters.")
        for field, spec in self.properties.items():
            if "_multi_of" in spec:
                continue
            value = get_path(source, field)
            if value is None:
                continue
            ftype = spec.get("type")
            preview = json.dumps(value)[:20]
            if ftype == "knn_vector":
                dim = spec["dimension"]
                ok = isinstance(value, list) and all(
                    isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in value)
                if not ok or len(value) != dim:
                    given = len(value) if isinstance(value, list) else 0
                    reason = (f"Vector dimension mismatch. Expected: {dim}, Given: {given}" if ok
                              else "KNN vector values must be finite numbers")
                    raise ApiError(400, "mapper_parsing_exception",
                                   f"failed to parse field [{field}] of type [knn_vector] in document "
                                   f"with id '{doc_id}'. Preview of field's value: '{preview}'",
                                   caused_by={"type": "illegal_argument_exception", "reason": reason})
            elif ftype in NUMERIC_TYPES:
                for v in _values(value):
                    good = isinstance(v, (int, float)) and not isinstance(v, bool)
                    if isinstance(v, str):
                        try:
                            float(v)
                            good = True
                        except ValueError:
                            good = False
                    if good and ftype in INTEGER_TYPES and not float(v).is_integer() and not isinstance(v, str):
                        good = True  # OpenSearch truncates decimals for integer fields (coerce)
                    if not good:
                        raise ApiError(400, "mapper_parsing_exception",
                                       f"failed to parse field [{field}] of type [{ftype}] in document with "
                                       f"id '{doc_id}'. Preview of field's value: '{preview}'")
            elif ftype in ("keyword", "text", "match_only_text"):
                for v in _values(value):
                    if isinstance(v, dict):
                        raise ApiError(400, "mapper_parsing_exception",
                                       f"failed to parse field [{field}] of type [{ftype}] in document with "
                                       f"id '{doc_id}'. Preview of field's value: '{preview}'")
            elif ftype == "boolean":
                for v in _values(value):
                    if not isinstance(v, bool) and v not in ("true", "false", ""):
                        raise ApiError(400, "mapper_parsing_exception",
                                       f"failed to parse field [{field}] of type [boolean] in document with "
                                       f"id '{doc_id}'. Preview of field's value: '{preview}'")
        if self.dynamic == "strict":
            for key in flatten_keys(source):
                if key not in self.properties and not any(key.startswith(p + ".") for p in self.properties):
                    raise ApiError(400, "strict_dynamic_mapping_exception",
                                   f"mapping set to strict, dynamic introduction of [{key}] within [_doc] is not allowed")

    def prepare(self, doc: Doc) -> None:
        for field, spec in self.properties.items():
            if spec.get("type") == "knn_vector":
                v = get_path(doc.fields, field)
                if isinstance(v, list):
                    doc.vectors[field] = array.array("f", [float(x) for x in v])
            elif spec.get("type") in ("text", "match_only_text"):
                self.tokens(doc, field)  # analyse at write time, as an index does
        src = self.mappings.get("_source")
        if isinstance(src, dict):
            if src.get("enabled") is False:
                doc.source = {}
            elif src.get("excludes") or src.get("includes"):
                doc.source = apply_source_filter(doc.fields, [str(x) for x in as_list(src.get("includes"))],
                                                 [str(x) for x in as_list(src.get("excludes"))])

    def describe(self) -> dict:
        settings = json.loads(json.dumps(self.settings))
        idx = settings.setdefault("index", {})
        idx.update({"creation_date": str(self.created), "provided_name": self.name,
                    "uuid": self.uuid, "version": {"created": "136327827"}})
        idx.setdefault("number_of_shards", "1")
        idx.setdefault("number_of_replicas", "0")
        return {"aliases": {}, "mappings": json.loads(json.dumps(self.mappings)), "settings": settings}


def get_path(source: Any, path: str) -> Any:
    if not isinstance(source, dict):
        return None
    if path in source:
        return source[path]
    head, dot, rest = path.partition(".")
    if dot and head in source:
        inner = source[head]
        if isinstance(inner, list):
            out = []
            for item in inner:
                v = get_path(item, rest)
                if v is not None:
                    out.extend(_values(v))
            return out or None
        return get_path(inner, rest)
    return None


def flatten_keys(source: dict, prefix: str = "") -> list[str]:
    keys = []
    for k, v in source.items():
        full = prefix + k
        if isinstance(v, dict):
            keys.extend(flatten_keys(v, full + "."))
        else:
            keys.append(full)
    return keys


def normalize_settings(settings: dict) -> dict:
    """{"index.knn": true} / {"index": {"knn": true}} / {"knn": true} -> {"index": {"knn": "true"}}."""
    flat: dict[str, Any] = {}

    def walk(obj: Any, prefix: str) -> None:
        if isinstance(obj, dict):
            for k, v in obj.items():
                walk(v, f"{prefix}.{k}" if prefix else k)
        else:
            flat[prefix] = obj

    walk(settings, "")
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        if not key.startswith("index."):
            key = "index." + key
        cur = nested
        parts = key.split(".")
        for p in parts[:-1]:
            cur = cur.setdefault(p, {})
            if not isinstance(cur, dict):
                break
        else:
            if isinstance(value, bool):
                value = "true" if value else "false"
            elif isinstance(value, (int, float)):
                value = str(value)
            cur[parts[-1]] = value
    return nested


def validate_index_name(name: str) -> None:
    reason = None
    if name != name.lower():
        reason = "must be lowercase"
    elif name in (".", ".."):
        reason = "must not be '.' or '..'"
    elif name[0] in "_-+":
        reason = "must not start with '_', '-', or '+'"
    elif any(c in name for c in '\\/*?"<>| ,#:'):
        reason = 'must not contain the following characters [ , ", *, \\, <, |, ,, >, /, ?]'
    elif len(name.encode()) > 255:
        reason = "index name is too long, (" + str(len(name.encode())) + " > 255)"
    if reason:
        raise ApiError(400, "invalid_index_name_exception", f"Invalid index name [{name}], {reason}",
                       index=name, index_uuid="_na_")


# --------------------------------------------------------------------------- queries


class SearchContext:
    """The documents one search sees (visible now), and their BM25 statistics."""

    def __init__(self, index: Index, now: float):
        self.index = index
        self.docs = [d for d in index.docs.values() if d.searchable(now)]
        self.docs.sort(key=lambda d: d.seq)
        self._field_stats: dict[str, tuple[int, int]] = {}
        self._doc_freq: dict[tuple[str, str], int] = {}

    def field_stats(self, field: str) -> tuple[int, float]:
        """(docCount, avgdl) of a text field over the visible documents."""
        if field not in self._field_stats:
            count = 0
            total = 0
            for d in self.docs:
                toks = self.index.tokens(d, field)
                if toks or self.index.field_values(d, field):
                    count += 1
                    total += len(toks)
            self._field_stats[field] = (count, total)
        count, total = self._field_stats[field]
        return count, (total / count if count else 1.0)

    def doc_freq(self, field: str, token: str) -> int:
        key = (field, token)
        if key not in self._doc_freq:
            self._doc_freq[key] = sum(1 for d in self.docs if token in self.index.tokens(d, field))
        return self._doc_freq[key]


Scores = dict[str, float]


def single_key(obj: Any, what: str) -> tuple[str, Any]:
    if not isinstance(obj, dict) or not obj:
        raise parsing(f"[{what}] query malformed, no start_object after query name")
    keys = [k for k in obj if k not in ("boost", "_name")]
    if len(keys) != 1:
        raise parsing(f"[{what}] query doesn't support multiple fields, found [{', '.join(keys)}]")
    return keys[0], obj[keys[0]]


def as_list(x: Any) -> list:
    if x is None:
        return []
    return x if isinstance(x, list) else [x]


def evaluate(query: Any, ctx: SearchContext) -> Scores:
    """Matched visible documents -> score, for a query in query context."""
    if not isinstance(query, dict) or len(query) != 1:
        raise parsing("query malformed, must start with start_object and hold exactly one query")
    qtype, body = next(iter(query.items()))
    handler = QUERIES.get(qtype)
    if handler is None:
        if qtype in ("hybrid", "neural", "neural_sparse", "script_score", "function_score", "nested",
                     "more_like_this", "query_string", "simple_query_string", "multi_match",
                     "match_phrase", "prefix", "wildcard", "regexp", "fuzzy", "dis_max"):
            raise standin_unsupported(f"query [{qtype}]")
        raise parsing(f"unknown query [{qtype}]")
    return handler(body, ctx)


def _boost(body: Any) -> float:
    if isinstance(body, dict):
        b = body.get("boost", 1.0)
        if isinstance(b, (int, float)) and not isinstance(b, bool):
            return float(b)
    return 1.0


def q_match_all(body: Any, ctx: SearchContext) -> Scores:
    b = _boost(body)
    return {d.id: b for d in ctx.docs}


def q_match_none(body: Any, ctx: SearchContext) -> Scores:
    return {}


def _term_matches(ctx: SearchContext, doc: Doc, field: str, ftype: str | None, value: Any) -> int:
    """How many times `value` occurs in the doc's field (0 = no match)."""
    idx = ctx.index
    if ftype in ("text", "match_only_text") or (ftype is None and field != "_id" and
                                                any(isinstance(v, str) for v in idx.field_values(doc, field))):
        return idx.tokens(doc, field).count(keyword_str(value))
    if ftype in NUMERIC_TYPES:
        try:
            want = float(value)
        except (TypeError, ValueError):
            raise bad_request(f"failed to create query: For input string: \"{value}\"", "query_shard_exception")
        n = 0
        for v in idx.field_values(doc, field):
            try:
                if float(v) == want:
                    n += 1
            except (TypeError, ValueError):
                pass
        return n
    if ftype == "boolean":
        want = keyword_str(value)
        return sum(1 for v in idx.field_values(doc, field) if keyword_str(v) == want)
    if ftype == "knn_vector":
        raise bad_request(f"Field [{field}] of type [knn_vector] does not support term queries",
                          "query_shard_exception")
    want = keyword_str(value)
    return sum(1 for v in idx.field_values(doc, field) if keyword_str(v) == want)


def q_term(body: Any, ctx: SearchContext) -> Scores:
    field, spec = single_key(body, "term")
    if isinstance(spec, dict):
        if "value" not in spec:
            raise parsing("[term] query does not support [" + ", ".join(spec) + "]")
        value, boost = spec["value"], _boost(spec)
    else:
        value, boost = spec, 1.0
    if isinstance(value, (dict, list)) or value is None:
        raise parsing(f"[term] query does not support array of values / null for field [{field}]")
    ftype = ctx.index.field_type(field)
    matched = {}
    for d in ctx.docs:
        tf = _term_matches(ctx, d, field, ftype, value)
        if tf:
            matched[d.id] = tf
    if field == "_id" or ftype in NUMERIC_TYPES or ftype == "boolean":
        return {i: boost for i in matched}
    # Lucene TermQuery with BM25: keyword fields omit norms (length factor 1).
    if ftype in ("text", "match_only_text") or (ftype is None and field not in ctx.index.properties
                                                 and not field.endswith(".keyword")):
        count, avgdl = ctx.field_stats(field)
        idf = bm25_idf(count, len(matched))
        out = {}
        for d in ctx.docs:
            if d.id in matched:
                tf = matched[d.id]
                dl = quantized_length(len(ctx.index.tokens(d, field)))
                out[d.id] = f32(boost * idf * tf / (tf + BM25_K1 * (1 - BM25_B + BM25_B * dl / avgdl)))
        return out
    count = sum(1 for d in ctx.docs if ctx.index.field_values(d, field))
    idf = bm25_idf(count, len(matched))
    return {i: f32(boost * idf * tf / (tf + BM25_K1)) for i, tf in matched.items()}


def q_terms(body: Any, ctx: SearchContext) -> Scores:
    field, values = single_key(body, "terms")
    if not isinstance(values, list):
        raise parsing(f"[terms] query requires an array of values for field [{field}]")
    boost = _boost(body)
    ftype = ctx.index.field_type(field)
    out = {}
    for d in ctx.docs:
        if any(_term_matches(ctx, d, field, ftype, v) for v in values if v is not None):
            out[d.id] = boost
    return out


def q_ids(body: Any, ctx: SearchContext) -> Scores:
    if not isinstance(body, dict) or not isinstance(body.get("values"), list):
        raise parsing("[ids] query requires [values] as an array")
    wanted = set(str(v) for v in body["values"])
    b = _boost(body)
    return {d.id: b for d in ctx.docs if d.id in wanted}


def _cmp_values(a: Any, b: Any, numeric: bool) -> int:
    if numeric:
        a, b = float(a), float(b)
    else:
        a, b = keyword_str(a), keyword_str(b)
    return (a > b) - (a < b)


def q_range(body: Any, ctx: SearchContext) -> Scores:
    field, spec = single_key(body, "range")
    if not isinstance(spec, dict):
        raise parsing("[range] query malformed, no start_object after field name")
    ftype = ctx.index.field_type(field)
    numeric = ftype in NUMERIC_TYPES
    bounds = []
    for op in ("gt", "gte", "lt", "lte", "from", "to"):
        if op in spec and spec[op] is not None:
            bounds.append((op, spec[op]))
    include_lower = spec.get("include_lower", True)
    include_upper = spec.get("include_upper", True)
    b = _boost(spec)

    def ok(v: Any) -> bool:
        try:
            for op, bound in bounds:
                c = _cmp_values(v, bound, numeric)
                if op == "gt" and not c > 0:
                    return False
                if op == "gte" and not c >= 0:
                    return False
                if op == "lt" and not c < 0:
                    return False
                if op == "lte" and not c <= 0:
                    return False
                if op == "from" and not (c > 0 or (c == 0 and include_lower)):
                    return False
                if op == "to" and not (c < 0 or (c == 0 and include_upper)):
                    return False
            return True
        except (TypeError, ValueError):
            return False

    return {d.id: b for d in ctx.docs if any(ok(v) for v in ctx.index.field_values(d, field))}


def q_exists(body: Any, ctx: SearchContext) -> Scores:
    if not isinstance(body, dict) or "field" not in body:
        raise parsing("[exists] must be provided with a [field]")
    field = body["field"]
    b = _boost(body)
    return {d.id: b for d in ctx.docs if ctx.index.field_values(d, field)}


def q_match(body: Any, ctx: SearchContext) -> Scores:
    field, spec = single_key(body, "match")
    operator = "or"
    msm: Any = None
    boost = 1.0
    if isinstance(spec, dict):
        if "query" not in spec:
            raise parsing(f"[match] query requires [query] for field [{field}]")
        text = spec["query"]
        operator = str(spec.get("operator", "or")).lower()
        msm = spec.get("minimum_should_match")
        boost = _boost(spec)
        zero = spec.get("zero_terms_query", "none")
    else:
        text, zero = spec, "none"
    if isinstance(text, (dict, list)) or text is None:
        raise parsing(f"[match] unknown token [START_ARRAY/START_OBJECT] after [query]")
    ftype = ctx.index.field_type(field)
    if ftype == "knn_vector":
        raise bad_request(f"Field [{field}] of type [knn_vector] does not support match queries",
                          "query_shard_exception")
    if ftype in ("keyword", "boolean") or ftype in NUMERIC_TYPES or field == "_id":
        return q_term({field: {"value": text, "boost": boost}}, ctx)
    terms = analyze(keyword_str(text))
    if not terms:
        return q_match_all({}, ctx) if zero == "all" else {}
    required = len(terms) if operator == "and" else 1
    if msm is not None:
        try:
            s = str(msm).strip()
            if s.endswith("%"):
                pct = int(s[:-1])
                required = int(len(terms) * abs(pct) / 100)
                if pct < 0:
                    required = len(terms) - required
            else:
                n = int(s)
                required = n if n >= 0 else len(terms) + n
            required = max(1, min(required, len(terms)))
        except ValueError:
            raise bad_request(f"[minimum_should_match] {msm} is not supported by the stand-in")
    count, avgdl = ctx.field_stats(field)
    idfs = [bm25_idf(count, ctx.doc_freq(field, t)) for t in terms]
    out = {}
    for d in ctx.docs:
        toks = ctx.index.tokens(d, field)
        if not toks:
            continue
        dl = quantized_length(len(toks))
        norm = BM25_K1 * (1 - BM25_B + BM25_B * dl / avgdl)
        score = 0.0
        matched = 0
        for t, idf in zip(terms, idfs):
            tf = toks.count(t)
            if tf:
                matched += 1
                score += f32(boost * idf * tf / (tf + norm))
        if matched >= required:
            out[d.id] = f32(score)
    return out


def knn_score(space: str, query: list[float], vec: array.array) -> float:
    if space == "innerproduct":
        dot = sum(a * b for a, b in zip(query, vec))
        return dot + 1 if dot >= 0 else 1 / (1 - dot)
    if space == "cosinesimil":
        dot = sum(a * b for a, b in zip(query, vec))
        nq = math.sqrt(sum(a * a for a in query))
        nv = math.sqrt(sum(b * b for b in vec))
        cos = dot / (nq * nv) if nq and nv else 0.0
        return (2 - (1 - cos)) / 2
    if space == "l1":
        return 1 / (1 + sum(abs(a - b) for a, b in zip(query, vec)))
    if space == "linf":
        return 1 / (1 + max(abs(a - b) for a, b in zip(query, vec)))
    return 1 / (1 + sum((a - b) * (a - b) for a, b in zip(query, vec)))


def q_knn(body: Any, ctx: SearchContext) -> Scores:
    field, spec = single_key(body, "knn")
    if not isinstance(spec, dict):
        raise parsing("[knn] query malformed, no start_object after field name")
    allowed = {"vector", "k", "filter", "boost", "_name", "min_score", "max_distance",
               "method_parameters", "rescore", "expand_nested_docs"}
    unknown = set(spec) - allowed
    if unknown:
        raise parsing(f"[knn] unknown token [{sorted(unknown)[0]}]")
    dim, space = ctx.index.vector_space(field)
    vector = spec.get("vector")
    if not isinstance(vector, list) or not all(
            isinstance(x, (int, float)) and not isinstance(x, bool) for x in vector):
        raise bad_request("[knn] requires query vector")
    if len(vector) != dim:
        raise bad_request(f"Query vector has invalid dimension: {len(vector)}. Dimension should be: {dim}")
    modes = [m for m in ("k", "min_score", "max_distance") if spec.get(m) is not None]
    if len(modes) != 1:
        raise bad_request("[knn] requires exactly one of k, distance or score to be set")
    k = spec.get("k")
    if k is not None and (not isinstance(k, int) or isinstance(k, bool) or k <= 0 or k > 10000):
        raise bad_request("[knn] requires 0 < k <= 10000")
    if space == "cosinesimil" and not any(vector):
        raise bad_request("zero vector is not supported when space type is [cosinesimil]")
    query = [f32(float(x)) for x in vector]
    candidates = ctx.docs
    if spec.get("filter") is not None:
        allowed_ids = evaluate(spec["filter"], ctx)
        candidates = [d for d in ctx.docs if d.id in allowed_ids]
    boost = _boost(spec)
    scored = []
    for d in candidates:
        vec = d.vectors.get(field)
        if vec is None:
            continue
        scored.append((f32(knn_score(space, query, vec)), d.seq, d.id))
    scored.sort(key=lambda t: (-t[0], t[1]))
    if k is not None:
        scored = scored[:k]
    elif spec.get("min_score") is not None:
        scored = [t for t in scored if t[0] >= float(spec["min_score"])]
    else:
        limit = float(spec["max_distance"])
        kept = []
        for t in scored:
            # distance from score, inverting the transforms above
            s = t[0]
            if space == "innerproduct":
                dist = -(s - 1) if s >= 1 else (1 / s - 1)
            elif space == "cosinesimil":
                dist = 2 - 2 * s
            else:
                dist = 1 / s - 1
            if dist <= limit:
                kept.append(t)
        scored = kept
    return {doc_id: f32(score * boost) for score, _, doc_id in scored}


def q_bool(body: Any, ctx: SearchContext) -> Scores:
    if not isinstance(body, dict):
        raise parsing("[bool] query malformed, no start_object after query name")
    allowed = {"must", "filter", "should", "must_not", "minimum_should_match", "boost", "_name",
               "adjust_pure_negative"}
    unknown = set(body) - allowed
    if unknown:
        raise parsing(f"[bool] query does not support [{sorted(unknown)[0]}]")
    must = [evaluate(q, ctx) for q in as_list(body.get("must"))]
    filt = [evaluate(q, ctx) for q in as_list(body.get("filter"))]
    should = [evaluate(q, ctx) for q in as_list(body.get("should"))]
    must_not = [evaluate(q, ctx) for q in as_list(body.get("must_not"))]
    msm = body.get("minimum_should_match")
    if msm is None:
        required_should = 1 if should and not must and not filt else 0
    else:
        s = str(msm).strip()
        try:
            if s.endswith("%"):
                required_should = int(len(should) * int(s[:-1]) / 100)
            else:
                n = int(s)
                required_should = n if n >= 0 else len(should) + n
        except ValueError:
            raise bad_request(f"[minimum_should_match] {msm} is not supported by the stand-in")
    boost = _boost(body)
    out = {}
    for d in ctx.docs:
        i = d.id
        if any(i not in m for m in must) or any(i not in f for f in filt):
            continue
        if any(i in n for n in must_not):
            continue
        hits = [s[i] for s in should if i in s]
        if len(hits) < required_should:
            continue
        # (a bool of must_not alone matches every other document with score 0, as Lucene's does)
        score = sum(m[i] for m in must) + sum(hits)
        out[i] = f32(score * boost)
    return out


def q_constant_score(body: Any, ctx: SearchContext) -> Scores:
    if not isinstance(body, dict) or "filter" not in body:
        raise parsing("[constant_score] requires a 'filter' element")
    b = _boost(body)
    return {i: b for i in evaluate(body["filter"], ctx)}


QUERIES: dict[str, Callable[[Any, SearchContext], Scores]] = {
    "match_all": q_match_all, "match_none": q_match_none, "term": q_term, "terms": q_terms,
    "ids": q_ids, "range": q_range, "exists": q_exists, "match": q_match, "knn": q_knn,
    "bool": q_bool, "constant_score": q_constant_score,
}


# --------------------------------------------------------------------------- search


def source_filter(spec: Any) -> tuple[bool, list[str], list[str]]:
    """(_source wanted?, includes, excludes) from the request's `_source`."""
    if spec is None or spec is True:
        return True, [], []
    if spec is False:
        return False, [], []
    if isinstance(spec, str):
        return True, [spec], []
    if isinstance(spec, list):
        return True, [str(s) for s in spec], []
    if isinstance(spec, dict):
        inc = spec.get("includes", spec.get("include", []))
        exc = spec.get("excludes", spec.get("exclude", []))
        return True, [str(s) for s in as_list(inc)], [str(s) for s in as_list(exc)]
    raise parsing("[_source] must be a boolean, string, array or object")


def apply_source_filter(source: dict, includes: list[str], excludes: list[str]) -> dict:
    if not includes and not excludes:
        return source

    def keep(path: str, is_leaf: bool) -> bool | None:
        if any(fnmatch.fnmatchcase(path, e) for e in excludes):
            return False
        if not includes:
            return True
        if any(fnmatch.fnmatchcase(path, p) or path.startswith(p.rstrip("*") + ".") and not p.endswith("*")
               for p in includes):
            return True
        if not is_leaf and any(p.startswith(path + ".") or fnmatch.fnmatchcase(path + ".", p[: len(path) + 1])
                               for p in includes):
            return None  # descend
        return False

    def walk(obj: dict, prefix: str) -> dict:
        out = {}
        for k, v in obj.items():
            path = prefix + k
            verdict = keep(path, not isinstance(v, dict))
            if verdict is True:
                out[k] = v if not (isinstance(v, dict) and excludes) else walk_all(v, path + ".")
            elif verdict is None and isinstance(v, dict):
                inner = walk(v, path + ".")
                if inner:
                    out[k] = inner
        return out

    def walk_all(obj: dict, prefix: str) -> dict:
        out = {}
        for k, v in obj.items():
            path = prefix + k
            if any(fnmatch.fnmatchcase(path, e) for e in excludes):
                continue
            out[k] = walk_all(v, path + ".") if isinstance(v, dict) else v
        return out

    return walk(source, "")


class SortKey:
    def __init__(self, field: str, order: str, missing: str, mode: str | None):
        self.field = field
        self.order = order
        self.missing = missing
        self.mode = mode


def parse_sort(spec: Any) -> list[SortKey]:
    keys = []
    for item in as_list(spec):
        if isinstance(item, str):
            field, opts = item, {}
        elif isinstance(item, dict) and len(item) == 1:
            field, opts = next(iter(item.items()))
            if isinstance(opts, str):
                opts = {"order": opts}
            if not isinstance(opts, dict):
                raise parsing(f"[sort] malformed entry for [{field}]")
        else:
            raise parsing("[sort] entries must be a field name or an object with one field")
        default = "desc" if field == "_score" else "asc"
        order = str(opts.get("order", default)).lower()
        if order not in ("asc", "desc"):
            raise parsing(f"[sort] unknown order [{order}]")
        unknown = set(opts) - {"order", "missing", "mode", "unmapped_type", "numeric_type"}
        if unknown:
            raise standin_unsupported(f"sort option [{sorted(unknown)[0]}]")
        keys.append(SortKey(field, order, str(opts.get("missing", "_last")), opts.get("mode")))
    return keys


def sort_value(key: SortKey, index: Index, doc: Doc, score: float) -> Any:
    if key.field == "_score":
        return score
    if key.field == "_doc":
        return doc.seq
    if key.field == "_id":
        if not ID_FIELDDATA_ENABLED[0]:
            raise bad_request("Fielddata access on the _id field is disallowed, you can re-enable it by "
                              "updating the dynamic cluster setting: indices.id_field_data.enabled")
        return doc.id
    ftype = index.field_type(key.field)
    if ftype in ("text", "match_only_text"):
        raise bad_request(f"Text fields are not optimised for operations that require per-document "
                          f"field data like aggregations and sorting, so these operations are disabled "
                          f"by default. Please use a keyword field instead. Alternatively, set "
                          f"fielddata=true on [{key.field}] in order to load field data by uninverting "
                          f"the inverted index.")
    if ftype == "knn_vector":
        raise bad_request(f"Field [{key.field}] of type [knn_vector] does not support sorting")
    values = index.field_values(doc, key.field)
    if not values:
        return None
    if ftype in NUMERIC_TYPES:
        nums = []
        for v in values:
            try:
                nums.append(float(v))
            except (TypeError, ValueError):
                pass
        if not nums:
            return None
        mode = key.mode or ("max" if key.order == "desc" else "min")
        v = {"min": min, "max": max}.get(mode, min)(nums) if mode in ("min", "max") else (
            sum(nums) / len(nums) if mode in ("avg", "median") else sum(nums))
        return int(v) if ftype in INTEGER_TYPES and float(v).is_integer() else v
    strs = [keyword_str(v) for v in values]
    mode = key.mode or ("max" if key.order == "desc" else "min")
    return max(strs) if mode == "max" else min(strs)


def compare_sort(keys: list[SortKey], a: list, b: list) -> int:
    for key, x, y in zip(keys, a, b):
        if x is None and y is None:
            continue
        if x is None or y is None:
            first = key.missing == "_first"
            if x is None:
                return -1 if first else 1
            return 1 if first else -1
        try:
            c = (x > y) - (x < y)
        except TypeError:
            xs, ys = str(x), str(y)
            c = (xs > ys) - (xs < ys)
        if c:
            return c if key.order == "asc" else -c
    return 0


def coerce_after(keys: list[SortKey], index: Index, after: list) -> list:
    out = []
    for key, v in zip(keys, after):
        if v is None:
            out.append(None)
            continue
        if key.field in ("_score",):
            out.append(float(v))
        elif key.field == "_doc":
            out.append(int(v))
        elif index.field_type(key.field) in NUMERIC_TYPES:
            try:
                out.append(float(v) if not float(v).is_integer() else int(float(v)))
            except (TypeError, ValueError):
                raise bad_request(f"Failed to parse search_after value for field [{key.field}].")
        else:
            out.append(keyword_str(v))
    return out


def _int_param(value: Any, name: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or value is None:
        raise parsing(f"[{name}] must be a number")
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise parsing(f"[{name}] failed to parse field [{name}]") from None
    if n < minimum:
        raise bad_request(f"[{name}] parameter cannot be negative, found [{n}]")
    return n


def run_search(index: Index, body: dict, params: dict[str, str], now: float) -> dict:
    started = time.monotonic()
    if not isinstance(body, dict):
        raise parsing("request body must be an object")
    unknown = set(body) - SEARCH_KEYS
    if unknown:
        key = sorted(unknown)[0]
        if key in ("aggs", "aggregations", "highlight", "suggest", "collapse", "rescore", "pit",
                   "script_fields", "docvalue_fields", "fields", "knn", "post_filter", "indices_boost",
                   "ext", "slice"):
            raise standin_unsupported(f"search key [{key}]")
        raise parsing(f"Unknown key for a START_OBJECT in [{key}].")
    if "scroll" in params:
        raise NotSupported("scroll")
    size = _int_param(params.get("size", body.get("size", 10)), "size")
    from_ = _int_param(params.get("from", body.get("from", 0)), "from")
    if from_ + size > MAX_RESULT_WINDOW:
        raise bad_request(
            f"Result window is too large, from + size must be less than or equal to: "
            f"[{MAX_RESULT_WINDOW}] but was [{from_ + size}]. See the scroll api for a more efficient "
            f"way to request large data sets. This limit can be set by changing the "
            f"[index.max_result_window] index level setting.", "illegal_argument_exception")
    src_spec = body.get("_source")
    if "_source" in params:
        p = params["_source"]
        src_spec = False if p == "false" else True if p == "true" else p.split(",")
    if "_source_includes" in params or "_source_excludes" in params:
        src_spec = {"includes": [s for s in params.get("_source_includes", "").split(",") if s],
                    "excludes": [s for s in params.get("_source_excludes", "").split(",") if s]}
    want_source, includes, excludes = source_filter(src_spec)
    tth = body.get("track_total_hits", params.get("track_total_hits", TRACK_TOTAL_HITS_DEFAULT))
    if tth in ("true", "false"):
        tth = tth == "true"
    sort_keys = parse_sort(body.get("sort")) if body.get("sort") is not None else []
    after = body.get("search_after")
    if after is not None:
        if not isinstance(after, list):
            raise parsing("[search_after] must be an array")
        if not sort_keys:
            raise bad_request("Sort must contain at least one field.", "search_phase_execution_exception")
        if len(after) != len(sort_keys):
            raise bad_request(f"search_after has {len(after)} value(s) but sort has {len(sort_keys)}.")
        if from_ != 0:
            raise bad_request("[from] parameter must be set to 0 when [search_after] is used.",
                              "action_request_validation_exception")
        after = coerce_after(sort_keys, index, after)

    ctx = SearchContext(index, now)
    query = body.get("query", {"match_all": {}})
    scores = evaluate(query, ctx)
    min_score = body.get("min_score")
    if min_score is not None:
        scores = {i: s for i, s in scores.items() if s >= float(min_score)}
    matched = [d for d in ctx.docs if d.id in scores]
    total = len(matched)

    track_scores = bool(body.get("track_scores")) or any(k.field == "_score" for k in sort_keys)
    if not sort_keys:
        matched.sort(key=lambda d: (-scores[d.id], d.seq))
        rows = [(d, None) for d in matched]
    else:
        rows = [(d, [sort_value(k, index, d, scores[d.id]) for k in sort_keys]) for d in matched]
        rows.sort(key=functools.cmp_to_key(
            lambda a, b: compare_sort(sort_keys, a[1], b[1]) or (a[0].seq > b[0].seq) - (a[0].seq < b[0].seq)))
        if after is not None:
            rows = [r for r in rows if compare_sort(sort_keys, r[1], after) > 0]
    window = rows[from_: from_ + size]

    hits = []
    for d, values in window:
        hit: dict[str, Any] = {"_index": index.name, "_id": d.id}
        if sort_keys and not track_scores:
            hit["_score"] = None
        else:
            hit["_score"] = scores[d.id]
        if body.get("version"):
            hit["_version"] = d.version
        if body.get("seq_no_primary_term"):
            hit["_seq_no"] = d.seq - 1
            hit["_primary_term"] = 1
        if want_source and body.get("stored_fields") not in ("_none_",):
            hit["_source"] = apply_source_filter(d.source, includes, excludes)
        if values is not None:
            hit["sort"] = values
        hits.append(hit)

    if sort_keys and not track_scores:
        max_score = None
    else:
        max_score = max((scores[d.id] for d in matched), default=None)
    hits_obj: dict[str, Any] = {}
    if tth is not False:
        limit = None if tth is True else int(tth)
        if limit is not None and total > limit:
            total_obj = {"value": limit, "relation": "gte"}
        else:
            total_obj = {"value": total, "relation": "eq"}
        if params.get("rest_total_hits_as_int") == "true":
            hits_obj["total"] = total
        else:
            hits_obj["total"] = total_obj
    hits_obj["max_score"] = max_score
    hits_obj["hits"] = hits
    return {
        "took": int((time.monotonic() - started) * 1000),
        "timed_out": False,
        "_shards": {"total": 0, "successful": 0, "skipped": 0, "failed": 0},
        "hits": hits_obj,
    }


def run_count(index: Index, body: dict, now: float) -> dict:
    if not isinstance(body, dict):
        raise parsing("request body must be an object")
    unknown = set(body) - {"query"}
    if unknown:
        raise parsing(f"request does not support [{sorted(unknown)[0]}]")
    ctx = SearchContext(index, now)
    scores = evaluate(body.get("query", {"match_all": {}}), ctx)
    return {"count": len(scores), "_shards": {"total": 0, "successful": 0, "skipped": 0, "failed": 0}}


# --------------------------------------------------------------------------- store


class Store:
    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.lock = threading.RLock()
        self.indices: dict[str, Index] = {}
        self.seq = 0
        self.log: list[dict] = []
        self.log_seq = 0
        self.faults: list[dict] = []

    def reset(self) -> None:
        with self.lock:
            self.indices.clear()
            self.log.clear()
            self.faults.clear()

    def new_id(self) -> str:
        while True:
            doc_id = ID_PREFIX + "".join(secrets.choice(ID_ALPHABET) for _ in range(20))
            if not any(doc_id in ix.docs for ix in self.indices.values()):
                return doc_id

    def index(self, name: str) -> Index:
        ix = self.indices.get(name)
        if ix is None:
            raise index_not_found(name)
        return ix

    def purge(self, ix: Index, now: float) -> None:
        gone = [i for i, d in ix.docs.items() if d.delete_visible_at is not None and d.delete_visible_at <= now]
        for i in gone:
            del ix.docs[i]

    def add_doc(self, ix: Index, source: dict, now: float) -> Doc:
        doc_id = self.new_id()
        ix.validate_source(source, doc_id)
        self.seq += 1
        doc = Doc(doc_id, source, self.seq, now + self.cfg.visibility_delay_ms / 1000.0)
        ix.prepare(doc)
        ix.docs[doc_id] = doc
        return doc

    def delete_doc(self, ix: Index, doc_id: str, now: float) -> Doc | None:
        doc = ix.docs.get(doc_id)
        if doc is None or doc.delete_visible_at is not None:
            return None
        doc.version += 1
        doc.delete_visible_at = now + self.cfg.visibility_delay_ms / 1000.0
        if doc.visible_at > doc.delete_visible_at:
            doc.visible_at = doc.delete_visible_at
        return doc


def write_result(ix: Index, doc: Doc, result: str, seq_no: int) -> dict:
    return {"_index": ix.name, "_id": doc.id, "_version": doc.version, "result": result,
            "_shards": {"total": 0, "successful": 0, "failed": 0},
            "_seq_no": seq_no, "_primary_term": 1}


def refuse_refresh(params: dict[str, str]) -> None:
    if "refresh" in params:
        value = params["refresh"] or "true"
        if value in ("true", "wait_for"):
            raise ApiError(400, "status_exception", f"{value} refresh policy is not supported.")


def parse_ndjson(body: bytes, what: str) -> list[tuple[int, Any]]:
    if not body:
        raise ApiError(400, "parse_exception", "request body is required")
    if not body.endswith(b"\n"):
        raise bad_request(f"The {what} request must be terminated by a newline [\\n]")
    lines = []
    for n, raw in enumerate(body.split(b"\n")[:-1], start=1):
        if not raw.strip():
            continue
        try:
            lines.append((n, json.loads(raw)))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ApiError(400, "json_parse_exception", f"Unexpected character at line {n}: {e}") from None
    return lines


# --------------------------------------------------------------------------- HTTP


class Response:
    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None,
                 empty: bool = False):
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.empty = empty


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "aoss-amazon"
    sys_version = ""
    store: Store  # set on the class by main()

    # silence default logging unless --verbose
    def version_string(self) -> str:
        return self.server_version

    def log_message(self, fmt: str, *args: Any) -> None:
        if self.store.cfg.verbose:
            sys.stderr.write("opensearch-standin: " + (fmt % args) + "\n")

    def do_GET(self) -> None:
        self.handle_any()

    def do_POST(self) -> None:
        self.handle_any()

    def do_PUT(self) -> None:
        self.handle_any()

    def do_DELETE(self) -> None:
        self.handle_any()

    def do_HEAD(self) -> None:
        self.handle_any()

    def do_PATCH(self) -> None:
        self.handle_any()

    # -------------------------------------------------------------------------
    def read_body(self) -> bytes:
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def handle_any(self) -> None:
        store = self.store
        body = self.read_body()
        wire_path, _, raw_query = self.path.partition("?")
        if wire_path.startswith("/_standin"):
            resp = self.standin(wire_path, raw_query, body)
            self.send(resp)
            return

        headers = list(self.headers.items())
        now = time.time()
        entry: dict[str, Any] = {
            "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "method": self.command,
            "path": wire_path,
            "query": raw_query,
            "headers": {},
            "raw_headers": [[k, v] for k, v in headers],
            "body_sha256": hashlib.sha256(body).hexdigest(),
        }
        for k, v in headers:
            lk = k.lower()
            entry["headers"][lk] = entry["headers"][lk] + ", " + v if lk in entry["headers"] else v
        try:
            entry["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            entry["body"] = None
            entry["body_base64"] = base64.b64encode(body).decode()
        auth: dict[str, Any] = {"ok": False, "error": None}
        entry["auth"] = auth

        try:
            verify_sigv4(self.command, wire_path, raw_query, headers, body, store.cfg, now, auth)
            auth["ok"] = True
        except AuthFailure as e:
            auth["error"] = str(e)
            resp = Response(403, {"status": 403, "request-id": str(uuid.uuid4()),
                                  "error": {"reason": str(e), "type": "Forbidden"}},
                            {"x-standin-auth-error": re.sub(r"[^\x20-\x7e]", "?", str(e))[:500]})
            self.finish_entry(entry, resp)
            return

        fault = self.take_fault(wire_path)
        if fault is not None:
            if fault.get("delay_ms"):
                time.sleep(float(fault["delay_ms"]) / 1000.0)
            if fault.get("status"):
                status = int(fault["status"])
                fbody = fault.get("body") or {
                    "error": {"root_cause": [{"type": "status_exception",
                                              "reason": "injected by opensearch-standin"}],
                              "type": "status_exception", "reason": "injected by opensearch-standin"},
                    "status": status}
                self.finish_entry(entry, Response(status, fbody, {"x-standin-fault": "injected"}))
                return

        if (self.headers.get("Content-Encoding") or "").lower() == "gzip" and body:
            try:
                body = gzip.decompress(body)
            except OSError:
                self.finish_entry(entry, Response(400, ApiError(400, "parse_exception",
                                                                "request body is not valid gzip").body()))
                return
        params = {}
        for part in raw_query.split("&"):
            if part:
                k, _, v = part.partition("=")
                params[urllib.parse.unquote_plus(k)] = urllib.parse.unquote_plus(v)
        try:
            resp = self.route(wire_path, params, body, time.time())
        except ApiError as e:
            resp = Response(e.status, e.body())
        except NotSupported as e:
            resp = Response(404, None, {"x-standin-reason": f"not supported by AOSS VECTORSEARCH: {e.what}"},
                            empty=True)
        except Exception as e:  # a stand-in bug: say so loudly
            resp = Response(500, {"error": {"type": "standin_internal_error", "reason": repr(e)},
                                  "status": 500})
        if "pretty" in params and resp.body is not None and not resp.empty:
            resp.headers["x-standin-pretty"] = "1"
        self.finish_entry(entry, resp)

    def take_fault(self, path: str) -> dict | None:
        store = self.store
        with store.lock:
            for f in store.faults:
                if f.get("method") and f["method"].upper() != self.command:
                    continue
                if f.get("path") and not re.search(f["path"], path):
                    continue
                f["count"] -= 1
                if f["count"] <= 0:
                    store.faults.remove(f)
                return dict(f)
        return None

    def finish_entry(self, entry: dict, resp: Response) -> None:
        """Completes the log entry and appends it (numbered in completion order) before answering,
        so a test that got the response also finds the request in /_standin/requests."""
        entry["status"] = resp.status
        payload = self.encode(resp)
        entry["response_body"] = payload.decode("utf-8", "replace") if payload else ""
        store = self.store
        with store.lock:
            store.log_seq += 1
            entry["seq"] = store.log_seq
            store.log.append(entry)
        self.send(resp, payload)

    def encode(self, resp: Response) -> bytes:
        if resp.empty or resp.body is None:
            return b""
        if isinstance(resp.body, (bytes, bytearray)):
            return bytes(resp.body)
        if resp.headers.get("x-standin-pretty"):
            return (json.dumps(resp.body, indent=2) + "\n").encode()
        return json.dumps(resp.body, separators=(",", ":")).encode()

    def send(self, resp: Response, payload: bytes | None = None) -> None:
        if payload is None:
            payload = self.encode(resp)
        self.send_response(resp.status)
        self.send_header("x-request-id", str(uuid.uuid4()))
        if payload:
            self.send_header("Content-Type", "application/json; charset=UTF-8")
        for k, v in resp.headers.items():
            if k != "x-standin-pretty":
                self.send_header(k, v)
        if self.command == "HEAD":
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    # ------------------------------------------------------------------ routes
    def json_body(self, body: bytes, required: bool = False) -> Any:
        if not body.strip():
            if required:
                raise ApiError(400, "parse_exception", "request body is required")
            return {}
        try:
            return json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ApiError(400, "json_parse_exception", f"Unexpected character: {e}") from None

    def route(self, path: str, params: dict[str, str], body: bytes, now: float) -> Response:
        store = self.store
        method = self.command
        segs = [urllib.parse.unquote(s) for s in path.split("/")[1:]]
        if segs and segs[-1] == "":
            segs = segs[:-1]
        if not segs:
            raise NotSupported("GET / (cluster info)")
        if segs[0] in ("_bulk", "_msearch", "_search", "_count", "_refresh", "_delete_by_query",
                       "_update_by_query", "_cat", "_cluster", "_nodes", "_mapping", "_mappings",
                       "_aliases", "_alias", "_pit", "_search_pipeline", "_ingest", "_reindex",
                       "_plugins", "_tasks", "_snapshot", "_template", "_index_template", "_mget"):
            if segs[0] == "_bulk" and len(segs) == 1 and method in ("POST", "PUT"):
                return self.bulk(None, params, body, now)
            if segs[0] == "_msearch" and len(segs) == 1 and method in ("POST", "GET"):
                return self.msearch(None, params, body, now)
            raise NotSupported("/" + "/".join(segs))
        name = segs[0]
        rest = segs[1:]
        with store.lock:
            if not rest:
                return self.index_api(name, params, body, now)
            op = rest[0]
            if op in ("_refresh", "_flush", "_forcemerge", "_delete_by_query", "_update_by_query",
                      "_close", "_open", "_pit", "_explain", "_termvectors", "_mtermvectors",
                      "_rank_eval", "_validate", "_stats", "_segments", "_cache", "_shrink",
                      "_split", "_clone", "_rollover", "_source"):
                raise NotSupported(f"/{name}/{op}")
            if op == "_search":
                if len(rest) > 1:
                    raise NotSupported(f"/{name}/_search/{rest[1]}")
                if method not in ("GET", "POST"):
                    raise NotSupported(f"{method} /{name}/_search")
                ix = store.index(name)
                store.purge(ix, now)
                return Response(200, run_search(ix, self.json_body(body), params, now))
            if op == "_count" and len(rest) == 1 and method in ("GET", "POST"):
                ix = store.index(name)
                return Response(200, run_count(ix, self.json_body(body), now))
            if op == "_msearch" and len(rest) == 1 and method in ("GET", "POST"):
                return self.msearch(name, params, body, now)
            if op == "_bulk" and len(rest) == 1 and method in ("POST", "PUT"):
                return self.bulk(name, params, body, now)
            if op in ("_mapping", "_mappings") and len(rest) == 1:
                return self.mapping_api(name, body)
            if op == "_settings" and len(rest) == 1 and method == "GET":
                ix = store.index(name)
                return Response(200, {name: {"settings": ix.describe()["settings"]}})
            if op == "_doc":
                return self.doc_api(name, rest[1:], params, body, now)
            if op == "_create":
                refuse_refresh(params)
                store.index(name)
                raise bad_request("Document ID is not supported in create/index operation request")
            if op == "_update":
                raise standin_unsupported("_update (AOSS vector collections refuse upserts)")
            raise NotSupported(f"/{name}/{op}")

    def index_api(self, name: str, params: dict[str, str], body: bytes, now: float) -> Response:
        store = self.store
        method = self.command
        if method == "PUT":
            validate_index_name(name)
            if name in store.indices:
                ix = store.indices[name]
                raise ApiError(400, "resource_already_exists_exception",
                               f"index [{name}/{ix.uuid}] already exists", index=name, index_uuid=ix.uuid)
            spec = self.json_body(body)
            if not isinstance(spec, dict):
                raise parsing("index creation body must be an object")
            unknown = set(spec) - {"settings", "mappings", "aliases"}
            if unknown:
                raise parsing(f"unknown key [{sorted(unknown)[0]}] for create index")
            store.indices[name] = Index(name, spec)
            return Response(200, {"acknowledged": True, "shards_acknowledged": True, "index": name})
        if method in ("GET", "HEAD"):
            if name not in store.indices:
                if method == "HEAD":
                    return Response(404, None, empty=True)
                raise index_not_found(name)
            if method == "HEAD":
                return Response(200, None, empty=True)
            return Response(200, {name: store.indices[name].describe()})
        if method == "DELETE":
            if name not in store.indices:
                raise index_not_found(name)
            del store.indices[name]
            return Response(200, {"acknowledged": True})
        if method == "POST":
            raise NotSupported(f"POST /{name}")
        raise NotSupported(f"{method} /{name}")

    def mapping_api(self, name: str, body: bytes) -> Response:
        ix = self.store.index(name)
        if self.command == "GET":
            return Response(200, {name: {"mappings": json.loads(json.dumps(ix.mappings))}})
        if self.command in ("PUT", "POST"):
            spec = self.json_body(body, required=True)
            props = spec.get("properties") if isinstance(spec, dict) else None
            if not isinstance(props, dict):
                raise ApiError(400, "mapper_parsing_exception", "Root mapping definition has unsupported parameters")
            ix.add_properties(props)
            ix.mappings.setdefault("properties", {}).update(props)
            for d in ix.docs.values():
                d.tokens.clear()
                ix.prepare(d)
            return Response(200, {"acknowledged": True})
        raise NotSupported(f"{self.command} /{name}/_mapping")

    def doc_api(self, name: str, rest: list[str], params: dict[str, str], body: bytes,
                now: float) -> Response:
        store = self.store
        method = self.command
        if not rest:
            if method != "POST":
                raise NotSupported(f"{method} /{name}/_doc")
            refuse_refresh(params)
            ix = store.index(name)
            source = self.json_body(body, required=True)
            if params.get("op_type") == "create":
                raise bad_request("an id must be provided if version type or value are set")
            doc = store.add_doc(ix, source, now)
            return Response(201, write_result(ix, doc, "created", doc.seq - 1))
        doc_id = rest[0]
        if len(rest) > 1:
            raise NotSupported(f"/{name}/_doc/{doc_id}/{rest[1]}")
        if method in ("PUT", "POST"):
            refuse_refresh(params)
            store.index(name)
            raise bad_request("Document ID is not supported in create/index operation request")
        ix = store.index(name)
        doc = ix.docs.get(doc_id)
        alive = doc is not None and doc.delete_visible_at is None
        if method in ("GET", "HEAD"):
            if not alive:
                return Response(404, {"_index": name, "_id": doc_id, "found": False},
                                empty=method == "HEAD")
            out: dict[str, Any] = {"_index": name, "_id": doc.id, "_version": doc.version,
                                   "_seq_no": doc.seq - 1, "_primary_term": 1, "found": True}
            spec = params.get("_source")
            want, inc, exc = source_filter(False if spec == "false" else (spec.split(",") if spec and spec != "true" else True))
            if want:
                out["_source"] = apply_source_filter(doc.source, inc, exc)
            return Response(200, out, empty=method == "HEAD")
        if method == "DELETE":
            refuse_refresh(params)
            deleted = store.delete_doc(ix, doc_id, now)
            if deleted is None:
                return Response(404, {"_index": name, "_id": doc_id, "_version": 1, "result": "not_found",
                                      "_shards": {"total": 0, "successful": 0, "failed": 0},
                                      "_seq_no": store.seq, "_primary_term": 1})
            store.seq += 1
            return Response(200, write_result(ix, deleted, "deleted", store.seq - 1))
        raise NotSupported(f"{method} /{name}/_doc/{doc_id}")

    def bulk(self, path_index: str | None, params: dict[str, str], body: bytes, now: float) -> Response:
        store = self.store
        started = time.monotonic()
        refuse_refresh(params)
        lines = parse_ndjson(body, "bulk")
        ops: list[tuple[str, dict, Any]] = []
        i = 0
        while i < len(lines):
            n, action = lines[i]
            if not isinstance(action, dict) or len(action) != 1:
                raise bad_request(f"Malformed action/metadata line [{n}], expected START_OBJECT or END_OBJECT "
                                  "but found [" + type(action).__name__ + "]")
            verb, meta = next(iter(action.items()))
            if verb not in ("index", "create", "delete", "update"):
                raise bad_request(f"Malformed action/metadata line [{n}], expected one of [create, delete, "
                                  f"index, update] but found [{verb}]")
            if not isinstance(meta, dict):
                raise bad_request(f"Malformed action/metadata line [{n}], expected START_OBJECT but found "
                                  f"[{type(meta).__name__}]")
            unknown = set(meta) - {"_index", "_id", "routing", "pipeline", "require_alias", "if_seq_no",
                                   "if_primary_term", "version", "version_type", "retry_on_conflict",
                                   "_source", "dynamic_templates"}
            if unknown:
                raise bad_request(f"Action/metadata line [{n}] contains an unknown parameter "
                                  f"[{sorted(unknown)[0]}]")
            index_name = meta.get("_index") or path_index
            if not index_name:
                raise ApiError(400, "action_request_validation_exception",
                               "Validation Failed: 1: index is missing;")
            if verb == "delete":
                if meta.get("_id") in (None, ""):
                    raise ApiError(400, "action_request_validation_exception",
                                   "Validation Failed: 1: id is missing;")
                ops.append((verb, dict(meta, _index=index_name), None))
                i += 1
                continue
            if i + 1 >= len(lines):
                raise bad_request("The bulk request must be terminated by a newline [\\n]")
            ops.append((verb, dict(meta, _index=index_name), lines[i + 1][1]))
            i += 2
        if not ops:
            raise ApiError(400, "action_request_validation_exception",
                           "Validation Failed: 1: no requests added;")

        items = []
        errors = False
        with store.lock:
            for verb, meta, source in ops:
                name = meta["_index"]
                item: dict[str, Any] = {"_index": name}
                if "_id" in meta:
                    item["_id"] = meta["_id"]
                try:
                    ix = store.index(name)
                    if verb == "update":
                        raise standin_unsupported("bulk update (AOSS vector collections refuse upserts)")
                    if verb in ("index", "create"):
                        if meta.get("_id") is not None:
                            raise bad_request("Document ID is not supported in create/index operation request")
                        if not isinstance(source, dict):
                            raise ApiError(400, "mapper_parsing_exception", "failed to parse")
                        doc = store.add_doc(ix, source, now)
                        item = write_result(ix, doc, "created", doc.seq - 1)
                        item["status"] = 201
                    else:
                        doc_id = str(meta["_id"])
                        doc = store.delete_doc(ix, doc_id, now)
                        store.seq += 1
                        if doc is None:
                            item = {"_index": name, "_id": doc_id, "_version": 1, "result": "not_found",
                                    "_shards": {"total": 0, "successful": 0, "failed": 0},
                                    "_seq_no": store.seq - 1, "_primary_term": 1, "status": 404}
                        else:
                            item = write_result(ix, doc, "deleted", store.seq - 1)
                            item["status"] = 200
                except ApiError as e:
                    errors = True
                    item["status"] = e.status
                    err = {"type": e.etype, "reason": e.reason, **e.extra}
                    item["error"] = err
                items.append({verb: item})
        return Response(200, {"took": int((time.monotonic() - started) * 1000), "errors": errors,
                              "items": items})

    def msearch(self, path_index: str | None, params: dict[str, str], body: bytes, now: float) -> Response:
        store = self.store
        started = time.monotonic()
        lines = parse_ndjson(body, "msearch")
        if len(lines) % 2:
            raise bad_request("The msearch request must be terminated by a newline [\\n]")
        responses = []
        with store.lock:
            for j in range(0, len(lines), 2):
                header, query = lines[j][1], lines[j + 1][1]
                try:
                    if not isinstance(header, dict):
                        raise parsing("msearch header must be an object")
                    name = header.get("index") or path_index
                    if isinstance(name, list):
                        name = name[0] if len(name) == 1 else None
                    if not name:
                        raise ApiError(400, "action_request_validation_exception",
                                       "Validation Failed: 1: no indices specified;")
                    ix = store.index(name)
                    store.purge(ix, now)
                    res = run_search(ix, query, {}, now)
                    res["status"] = 200
                    responses.append(res)
                except ApiError as e:
                    responses.append({"error": e.error_object(), "status": e.status})
                except NotSupported as e:
                    responses.append({"error": {"type": "illegal_argument_exception",
                                                "reason": f"not supported: {e.what}"}, "status": 400})
        return Response(200, {"took": int((time.monotonic() - started) * 1000), "responses": responses})

    # ------------------------------------------------------------- /_standin
    def standin(self, path: str, raw_query: str, body: bytes) -> Response:
        store = self.store
        method = self.command
        params = dict(urllib.parse.parse_qsl(raw_query))
        try:
            spec = json.loads(body) if body.strip() else {}
        except json.JSONDecodeError as e:
            return Response(400, {"error": f"bad JSON: {e}"})
        with store.lock:
            if path == "/_standin/requests":
                if method == "GET":
                    since = int(params.get("since", "0") or 0)
                    return Response(200, {"requests": [e for e in store.log if e["seq"] > since],
                                          "next_seq": store.log_seq})
                if method == "DELETE":
                    store.log.clear()
                    return Response(200, {"acknowledged": True})
            if path == "/_standin/reset" and method == "POST":
                store.reset()
                return Response(200, {"acknowledged": True})
            if path == "/_standin/config":
                if method == "POST":
                    if "visibility_delay_ms" in spec:
                        store.cfg.visibility_delay_ms = int(spec["visibility_delay_ms"])
                if method in ("GET", "POST"):
                    return Response(200, {"visibility_delay_ms": store.cfg.visibility_delay_ms,
                                          "region": store.cfg.region,
                                          "access_key": store.cfg.access_key,
                                          "allow_unsigned_payload": store.cfg.allow_unsigned_payload,
                                          "allow_signed_content_length": store.cfg.allow_signed_content_length})
            if path == "/_standin/faults":
                if method == "POST":
                    fault = {"status": spec.get("status"), "count": int(spec.get("count", 1)),
                             "method": spec.get("method"), "path": spec.get("path"),
                             "delay_ms": spec.get("delay_ms", 0), "body": spec.get("body")}
                    if fault["path"]:
                        re.compile(fault["path"])
                    store.faults.append(fault)
                    return Response(200, {"acknowledged": True, "faults": [dict(f) for f in store.faults]})
                if method == "DELETE":
                    store.faults.clear()
                    return Response(200, {"acknowledged": True})
                if method == "GET":
                    return Response(200, {"faults": [dict(f) for f in store.faults]})
            if path == "/_standin/state" and method == "GET":
                now = time.time()
                out = {}
                for name, ix in store.indices.items():
                    docs = ix.docs.values()
                    out[name] = {
                        "visible": sum(1 for d in docs if d.searchable(now)),
                        "pending": sum(1 for d in docs if d.visible_at > now and d.delete_visible_at is None),
                        "deleting": sum(1 for d in docs if d.delete_visible_at is not None
                                        and d.delete_visible_at > now),
                        "mappings": json.loads(json.dumps(ix.mappings)),
                    }
                return Response(200, {"indices": out, "visibility_delay_ms": store.cfg.visibility_delay_ms})
        return Response(404, {"error": f"no stand-in route {method} {path}"})


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Loopback stand-in for an Amazon OpenSearch Serverless "
                                            "VECTORSEARCH collection (see the module docstring).")
    p.add_argument("--port", type=int, required=True, help="port to listen on (0: any free port)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--visibility-delay-ms", type=int, default=1000,
                   help="how long a write takes to become visible to search (default 1000)")
    p.add_argument("--region", default="eu-west-1")
    p.add_argument("--access-key", default="testing")
    p.add_argument("--secret-key", default="testing")
    p.add_argument("--session-token", default=None,
                   help="when given, x-amz-security-token must equal it")
    p.add_argument("--allow-unsigned-payload", action="store_true",
                   help="accept x-amz-content-sha256: UNSIGNED-PAYLOAD (AOSS does)")
    p.add_argument("--allow-signed-content-length", action="store_true",
                   help="accept content-length among SignedHeaders")
    p.add_argument("--disallow-id-fielddata", action="store_true",
                   help="refuse sorting on _id (indices.id_field_data.enabled=false); whether AOSS "
                        "allows it is not documented")
    p.add_argument("--verbose", action="store_true", help="log each request to stderr")
    args = p.parse_args(argv)

    cfg = Config(args)
    ID_FIELDDATA_ENABLED[0] = not args.disallow_id_fielddata
    Handler.store = Store(cfg)
    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    port = server.server_address[1]
    print(f"opensearch-standin listening on http://{args.host}:{port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
