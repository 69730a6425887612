#!/usr/bin/env python3
"""moto's server, with the parts of Amazon S3 Vectors that moto lacks.

Started by scripts/moto.sh with the python of .venv-moto; takes the same
arguments as moto's own `moto_server` (-H HOST -p PORT ...).

moto (pinned in scripts/requirements-moto.txt) serves S3, DynamoDB, SQS and
most of S3 Vectors. This file extends moto's own s3vectors backend objects
(the vector buckets, indexes and vectors that PutVectors/DeleteVectors store),
so everything below sees exactly what moto stores -- there is no second store:

- QueryVectors: exact nearest neighbours over the index's vectors, with the
  index's distance metric (cosine: 1 - cosine similarity; euclidean: L2),
  topK 1..100, the metadata filter language ($eq $ne $gt $gte $lt $lte $in
  $nin $exists $and $or, implicit equality, $startsWith on ENHANCED indexes),
  returnMetadata, returnDistance; full-text (queryTexts, BM25) and hybrid
  (RRF) search over metadata keys configured in textSearchConfigurations.
- Index modes: GetIndex's indexMode, GetVectorBucket's defaultIndexMode,
  UpdateIndexMode, PutVectorBucketDefaultIndexMode, QueryVectors' queryMode.
- UpdateMetadataConfiguration (textSearchConfigurations add/delete), and
  CreateIndex's metadataConfiguration kept and returned by GetIndex.
- What moto leaves out of existing operations: CreateVectorBucket/CreateIndex
  return the ARN, creationTime everywhere, CreateIndex of an existing name is
  a ConflictException (moto silently replaced the index and its vectors),
  dimension 4096 accepted, names validated, vectors stored as float32, the
  documented per-call limits (PutVectors/DeleteVectors <= 500 vectors,
  GetVectors <= 100 keys) and metadata limits (<= 50 keys, filterable
  <= 2 KB, total <= 40 KB, measured as compact UTF-8 JSON), ListVectors /
  ListIndexes / ListVectorBuckets pagination (maxResults, nextToken),
  ListVectors segments and ListIndexes/ListVectorBuckets prefix.

Index modes: vector buckets created on or after 2026-09-30 default to
ENHANCED and refuse CLASSIC, as AWS documents. To emulate an older bucket
(default CLASSIC; UpdateIndexMode can move its indexes to ENHANCED and back),
either start the server with MOTO_S3VECTORS_LEGACY_BUCKETS=1 (every new
bucket) or create the bucket with the tag `moto-s3vectors-legacy` = `true`.
Results are exact in both modes (AWS's CLASSIC mode may return fewer than
topK results under a selective filter; this emulator does not).

The shapes and names follow the botocore model shipped with the venv
(botocore/data/s3vectors/2025-07-15/service-2.json), which moto also uses to
parse requests and serialize responses.
"""

from __future__ import annotations

import array
import base64
import json
import math
import os
import re
import sys
import threading
import zlib
from collections import Counter
from datetime import datetime, timezone
from typing import Any

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult, EmptyResult
from moto.s3vectors import models as s3v_models
from moto.s3vectors import urls as s3v_urls
from moto.s3vectors.responses import S3VectorsResponse

# Limits from the S3 Vectors user guide ("Limitations and restrictions").
MAX_TOP_K = 100
MAX_PUT_VECTORS = 500
MAX_DELETE_VECTORS = 500
MAX_GET_VECTORS = 100
MAX_DIMENSION = 4096
MAX_METADATA_KEYS = 50
MAX_FILTERABLE_METADATA_BYTES = 2 * 1024
MAX_TOTAL_METADATA_BYTES = 40 * 1024
MAX_NON_FILTERABLE_KEYS = 10
MAX_TEXT_SEARCH_CONFIGS = 10
MAX_QUERY_TEXTS = 10
MAX_LIST_VECTORS = 1000
DEFAULT_LIST_VECTORS = 500
MAX_LIST_INDEXES = 500
MAX_LIST_BUCKETS = 500
MAX_SEGMENTS = 16
MAX_VECTOR_KEY_LEN = 1024

INDEX_MODES = ("CLASSIC", "ENHANCED")
# Vector buckets created before this instant default to CLASSIC and may hold
# CLASSIC indexes; later ones are ENHANCED only.
CLASSIC_CUTOFF = datetime(2026, 9, 30, tzinfo=timezone.utc)
LEGACY_TAG = "moto-s3vectors-legacy"
LANGUAGES = ("en", "fr", "es", "pt", "it", "de", "nl", "zh", "ja", "ko")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")

# BM25 / RRF constants (the usual defaults; AWS does not publish its own).
BM25_K1 = 1.2
BM25_B = 0.75
RRF_K = 60

# moto's server is threaded; one lock keeps a query from seeing half a PutVectors.
LOCK = threading.RLock()


# --------------------------------------------------------------------------
# errors (codes are the model's exception shapes; moto adds the HTTP status)


class ValidationException(ServiceException):
    code = "ValidationException"


class NotFoundException(ServiceException):
    code = "NotFoundException"


class ConflictException(ServiceException):
    code = "ConflictException"


def invalid(message: str) -> ValidationException:
    return ValidationException(message)


def constraint(path: str, message: str) -> ValidationException:
    return ValidationException(
        f"1 validation error detected. Value at '{path}' failed to satisfy constraint: {message}"
    )


# --------------------------------------------------------------------------
# attributes moto's models lack, set on moto's own objects


def _now() -> datetime:
    return datetime.now(timezone.utc)


_orig_bucket_init = s3v_models.VectorBucket.__init__
_orig_index_init = s3v_models.Index.__init__


def _bucket_init(self: Any, *args: Any, **kwargs: Any) -> None:
    _orig_bucket_init(self, *args, **kwargs)
    self.creation_time = _now()
    self.legacy = os.environ.get("MOTO_S3VECTORS_LEGACY_BUCKETS", "") in ("1", "true")
    self.default_index_mode = "CLASSIC" if _is_legacy(self) else "ENHANCED"


def _is_legacy(bucket: Any) -> bool:
    return bool(getattr(bucket, "legacy", False)) or (
        getattr(bucket, "creation_time", _now()) < CLASSIC_CUTOFF
    )


def _index_init(self: Any, bucket: Any, *args: Any, **kwargs: Any) -> None:
    _orig_index_init(self, bucket, *args, **kwargs)
    self.vector_bucket_name = bucket.vector_bucket_name
    self.creation_time = _now()
    self.index_mode = getattr(bucket, "default_index_mode", "ENHANCED")
    self.metadata_configuration = None
    self.encryption_configuration = dict(bucket.encryption_configuration)


s3v_models.VectorBucket.__init__ = _bucket_init  # type: ignore[method-assign]
s3v_models.Index.__init__ = _index_init  # type: ignore[method-assign]


def _non_filterable(index: Any) -> set[str]:
    config = getattr(index, "metadata_configuration", None) or {}
    return set(config.get("nonFilterableMetadataKeys") or [])


def _text_configs(index: Any) -> list[dict[str, Any]]:
    config = getattr(index, "metadata_configuration", None) or {}
    return list(config.get("textSearchConfigurations") or [])


# --------------------------------------------------------------------------
# pagination tokens: opaque, bound to the listing they came from


def _encode_token(scope: str, offset: int) -> str:
    raw = json.dumps({"s": scope, "o": offset}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_token(token: str | None, scope: str) -> int:
    if not token:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        if data["s"] != scope or int(data["o"]) < 0:
            raise ValueError
        return int(data["o"])
    except Exception:
        raise invalid("The provided pagination token is invalid")


def _page(items: list[Any], token: str | None, limit: int, scope: str) -> tuple[list[Any], str | None]:
    start = _decode_token(token, scope)
    page = items[start : start + limit]
    nxt = _encode_token(scope, start + limit) if start + limit < len(items) else None
    return page, nxt


def _int_param(value: Any, path: str, low: int, high: int | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(value)
        except (TypeError, ValueError):
            raise constraint(path, "Member must be an integer")
    if value < low:
        raise constraint(path, f"Member must have value greater than or equal to {low}")
    if high is not None and value > high:
        raise constraint(path, f"Member must have value less than or equal to {high}")
    return value


# --------------------------------------------------------------------------
# vectors and metadata


def _to_float32(values: Any, key: str) -> list[float]:
    if not isinstance(values, list) or not values:
        raise invalid(f"Invalid record for key '{key}': vector data must be a non-empty float32 list")
    try:
        out = array.array("f", [float(v) for v in values]).tolist()
    except (TypeError, ValueError, OverflowError):
        raise invalid(f"Invalid record for key '{key}': vector data must be float32 values")
    if any(math.isnan(v) or math.isinf(v) for v in out):
        raise invalid(f"Invalid record for key '{key}': vector data must be finite float32 values")
    return out


def _json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def _check_metadata(key: str, metadata: Any, non_filterable: set[str]) -> None:
    if metadata is None:
        return
    if not isinstance(metadata, dict):
        raise invalid(f"Invalid record for key '{key}': metadata must be a JSON object")
    if len(metadata) > MAX_METADATA_KEYS:
        raise invalid(
            f"Invalid record for key '{key}': metadata has {len(metadata)} keys; "
            f"at most {MAX_METADATA_KEYS} are allowed"
        )
    filterable = {k: v for k, v in metadata.items() if k not in non_filterable}
    size = _json_size(filterable) if filterable else 0
    if size > MAX_FILTERABLE_METADATA_BYTES:
        raise invalid(
            f"Invalid record for key '{key}': filterable metadata is {size} bytes; "
            f"at most {MAX_FILTERABLE_METADATA_BYTES} bytes are allowed"
        )
    total = _json_size(metadata)
    if total > MAX_TOTAL_METADATA_BYTES:
        raise invalid(
            f"Invalid record for key '{key}': metadata is {total} bytes; "
            f"at most {MAX_TOTAL_METADATA_BYTES} bytes are allowed"
        )


def _distance(metric: str, a: list[float], b: list[float]) -> float:
    if metric == "euclidean":
        return math.sqrt(sum((x - y) * (x - y) for x, y in zip(a, b)))
    dot = sum(x * y for x, y in zip(a, b))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    if na == 0.0 or nb == 0.0:
        return 1.0
    return 1.0 - dot / (na * nb)


# --------------------------------------------------------------------------
# metadata filters (S3 Vectors user guide, "Metadata filtering")

COMPARISONS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$startsWith")


def _is_primitive(v: Any) -> bool:
    return isinstance(v, (str, bool, int, float)) and v is not None


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_number(a) and _is_number(b):
        return float(a) == float(b)
    return type(a) is type(b) and a == b


class Filter:
    """A parsed, validated filter; `matches(metadata)` evaluates it."""

    def __init__(self, doc: Any, non_filterable: set[str], mode: str):
        self.non_filterable = non_filterable
        self.mode = mode
        self.constraints = 0
        self.tree = self._parse(doc, "filter")

    def _parse(self, doc: Any, where: str) -> Any:
        if not isinstance(doc, dict) or not doc:
            raise invalid(f"Invalid filter: {where} must be a non-empty JSON object")
        parts = []
        for name, value in doc.items():
            if name in ("$and", "$or"):
                if not isinstance(value, list) or not value:
                    raise invalid(f"Invalid filter: {name} takes a non-empty array of filters")
                parts.append((name, [self._parse(v, name) for v in value]))
            elif name.startswith("$"):
                raise invalid(f"Invalid filter: unsupported operator {name} at the top level")
            else:
                parts.append(("$field", name, self._parse_field(name, value)))
        return ("$and", parts) if len(parts) > 1 else parts[0]

    def _parse_field(self, field: str, cond: Any) -> list[tuple[str, Any]]:
        if field in self.non_filterable:
            raise invalid(f"Invalid filter: metadata key '{field}' is non-filterable")
        if _is_primitive(cond):
            self.constraints += 1
            return [("$eq", cond)]
        if not isinstance(cond, dict) or not cond:
            raise invalid(
                f"Invalid filter: the condition on '{field}' must be a string, number, "
                "boolean or an object of operators"
            )
        ops = []
        for op, arg in cond.items():
            if op not in COMPARISONS:
                raise invalid(f"Invalid filter: unsupported operator {op} on '{field}'")
            if op in ("$eq", "$ne") and not _is_primitive(arg):
                raise invalid(f"Invalid filter: {op} takes a string, number or boolean")
            if op in ("$gt", "$gte", "$lt", "$lte") and not _is_number(arg):
                raise invalid(f"Invalid filter: {op} takes a number")
            if op in ("$in", "$nin"):
                if not isinstance(arg, list) or not arg or not all(_is_primitive(v) for v in arg):
                    raise invalid(f"Invalid filter: {op} takes a non-empty array of strings, numbers or booleans")
            if op == "$exists" and not isinstance(arg, bool):
                raise invalid("Invalid filter: $exists takes a boolean")
            if op == "$startsWith":
                if self.mode != "ENHANCED":
                    raise invalid("Invalid filter: $startsWith is supported only on indexes in ENHANCED mode")
                if not isinstance(arg, str) or not arg:
                    raise invalid("Invalid filter: $startsWith takes a non-empty string")
            self.constraints += len(arg) if op in ("$in", "$nin") else 1
            ops.append((op, arg))
        return ops

    def matches(self, metadata: dict[str, Any] | None) -> bool:
        return self._eval(self.tree, metadata or {})

    def _eval(self, node: Any, md: dict[str, Any]) -> bool:
        kind = node[0]
        if kind == "$and":
            return all(self._eval(n, md) for n in node[1])
        if kind == "$or":
            return any(self._eval(n, md) for n in node[1])
        _, field, ops = node
        return all(self._op(op, arg, field in md, md.get(field)) for op, arg in ops)

    @staticmethod
    def _op(op: str, arg: Any, present: bool, value: Any) -> bool:
        if op == "$exists":
            return present == arg
        values = value if isinstance(value, list) else [value]
        if op == "$ne":
            return not present or not any(_same(v, arg) for v in values)
        if op == "$nin":
            return not present or not any(_same(v, a) for v in values for a in arg)
        if not present:
            return False
        if op == "$eq":
            return any(_same(v, arg) for v in values)
        if op == "$in":
            return any(_same(v, a) for v in values for a in arg)
        if op == "$startsWith":
            return any(isinstance(v, str) and v.startswith(arg) for v in values)
        nums = [float(v) for v in values if _is_number(v)]
        if op == "$gt":
            return any(v > arg for v in nums)
        if op == "$gte":
            return any(v >= arg for v in nums)
        if op == "$lt":
            return any(v < arg for v in nums)
        if op == "$lte":
            return any(v <= arg for v in nums)
        return False


# --------------------------------------------------------------------------
# full-text search: a standard-analyzer approximation (lowercase word tokens)

TOKEN_RE = re.compile(r"\w+", re.UNICODE)


def _tokens(text: Any) -> list[str]:
    if isinstance(text, list):
        text = " ".join(str(t) for t in text)
    if not isinstance(text, str):
        return []
    return [t.lower() for t in TOKEN_RE.findall(text)]


def _bm25(candidates: list[Any], field: str, query: str) -> dict[str, float]:
    docs = {v.key: _tokens((v.metadata or {}).get(field)) for v in candidates}
    n = len(docs)
    if n == 0:
        return {}
    avgdl = sum(len(t) for t in docs.values()) / n or 1.0
    terms = set(_tokens(query))
    df = {t: sum(1 for toks in docs.values() if t in toks) for t in terms}
    scores: dict[str, float] = {}
    for key, toks in docs.items():
        if not toks:
            continue
        tf = Counter(toks)
        score = 0.0
        for t in terms:
            if tf[t] == 0:
                continue
            idf = math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5))
            score += idf * tf[t] * (BM25_K1 + 1) / (
                tf[t] + BM25_K1 * (1 - BM25_B + BM25_B * len(toks) / avgdl)
            )
        if score > 0:
            scores[key] = score
    return scores


# --------------------------------------------------------------------------
# the response class: moto's, with the missing operations and checks


class ExtendedS3VectorsResponse(S3VectorsResponse):
    # --- helpers

    def _index(self) -> Any:
        bucket = self._get_param("vectorBucketName")
        arn = self._get_param("indexArn")
        name = self._get_param("indexName")
        self._validate_index_params(arn, name, bucket)
        return self.s3vectors_backend.get_index(bucket, name, arn)

    def _bucket(self) -> Any:
        name = self._get_param("vectorBucketName")
        arn = self._get_param("vectorBucketArn")
        if bool(name) == bool(arn):
            raise invalid("Must specify either vectorBucketName or vectorBucketArn but not both")
        return self.s3vectors_backend.get_vector_bucket(vector_bucket_name=name, vector_bucket_arn=arn)

    # --- buckets

    def create_vector_bucket(self) -> ActionResult:
        name = self._get_param("vectorBucketName") or ""
        if not NAME_RE.match(name) or ".." in name:
            raise invalid(
                "Invalid vector bucket name: use 3-63 lowercase letters, digits, hyphens "
                "and dots, starting and ending with a letter or digit"
            )
        tags = self._get_param("tags") or {}
        with LOCK:
            super().create_vector_bucket()
            bucket = self.s3vectors_backend.get_vector_bucket(vector_bucket_name=name)
            if str(tags.get(LEGACY_TAG, "")).lower() == "true":
                bucket.legacy = True
                bucket.default_index_mode = "CLASSIC"
        return ActionResult({"vectorBucketArn": bucket.vector_bucket_arn})

    def list_vector_buckets(self) -> ActionResult:
        limit = _int_param(self._get_param("maxResults", MAX_LIST_BUCKETS), "/maxResults", 1, MAX_LIST_BUCKETS)
        prefix = self._get_param("prefix")
        buckets = sorted(self.s3vectors_backend.list_vector_buckets(prefix=prefix), key=lambda b: b.vector_bucket_name)
        page, nxt = _page(buckets, self._get_param("nextToken"), limit, f"buckets:{prefix or ''}")
        result: dict[str, Any] = {"vectorBuckets": page}
        if nxt:
            result["nextToken"] = nxt
        return ActionResult(result)

    def put_vector_bucket_default_index_mode(self) -> EmptyResult:
        mode = self._get_param("defaultIndexMode")
        if mode not in INDEX_MODES:
            raise constraint("/defaultIndexMode", "Member must satisfy enum value set: [CLASSIC, ENHANCED]")
        with LOCK:
            bucket = self._bucket()
            if mode == "CLASSIC" and not _is_legacy(bucket):
                raise invalid(
                    "CLASSIC index mode is available only in vector buckets created before September 30, 2026"
                )
            bucket.default_index_mode = mode
        return EmptyResult()

    # --- indexes

    def create_index(self) -> ActionResult:
        name = self._get_param("indexName") or ""
        if not NAME_RE.match(name) or ".." in name:
            raise invalid(
                "Invalid index name: use 3-63 lowercase letters, digits, hyphens and dots, "
                "starting and ending with a letter or digit"
            )
        if self._get_param("dataType") != "float32":
            raise constraint("/dataType", "Member must satisfy enum value set: [float32]")
        _int_param(self._get_param("dimension"), "/dimension", 1, MAX_DIMENSION)
        if self._get_param("distanceMetric") not in ("euclidean", "cosine"):
            raise constraint("/distanceMetric", "Member must satisfy enum value set: [euclidean, cosine]")
        config = self._get_param("metadataConfiguration")
        stored = self._metadata_configuration(config) if config is not None else None
        encryption = self._get_param("encryptionConfiguration")
        with LOCK:
            bucket = self.s3vectors_backend.get_vector_bucket(
                vector_bucket_name=self._get_param("vectorBucketName"),
                vector_bucket_arn=self._get_param("vectorBucketArn"),
            )
            if any(i.index_name == name for i in bucket.indexes.values()):
                raise ConflictException("A vector index with the specified name already exists")
            # moto's handler checks the same arguments once more and stores the index
            self._call_moto_create_index()
            index = next(i for i in bucket.indexes.values() if i.index_name == name)
            index.metadata_configuration = stored
            if encryption:
                index.encryption_configuration = encryption
        return ActionResult({"indexArn": index.index_arn})

    def _call_moto_create_index(self) -> None:
        # moto 5.2.5 rejects dimension 4096 (">= 4096"); call its backend directly.
        self.s3vectors_backend.create_index(
            vector_bucket_name=self._get_param("vectorBucketName"),
            vector_bucket_arn=self._get_param("vectorBucketArn"),
            index_name=self._get_param("indexName"),
            data_type=self._get_param("dataType"),
            dimension=int(self._get_param("dimension")),
            distance_metric=self._get_param("distanceMetric"),
            tags=self._get_param("tags"),
        )

    @staticmethod
    def _metadata_configuration(config: Any) -> dict[str, Any] | None:
        if not isinstance(config, dict):
            raise invalid("metadataConfiguration must be an object")
        keys = config.get("nonFilterableMetadataKeys") or []
        if len(keys) > MAX_NON_FILTERABLE_KEYS:
            raise constraint(
                "/metadataConfiguration/nonFilterableMetadataKeys",
                f"Member must have length less than or equal to {MAX_NON_FILTERABLE_KEYS}",
            )
        for k in keys:
            if not isinstance(k, str) or not 1 <= len(k) <= 63:
                raise invalid("nonFilterableMetadataKeys must be strings of 1 to 63 characters")
        texts = ExtendedS3VectorsResponse._text_search_configs(config.get("textSearchConfigurations") or [])
        out: dict[str, Any] = {}
        if keys:
            out["nonFilterableMetadataKeys"] = list(keys)
        if texts:
            out["textSearchConfigurations"] = texts
        return out or None

    @staticmethod
    def _text_search_configs(items: Any) -> list[dict[str, Any]]:
        if len(items) > MAX_TEXT_SEARCH_CONFIGS:
            raise constraint(
                "/metadataConfiguration/textSearchConfigurations",
                f"Member must have length less than or equal to {MAX_TEXT_SEARCH_CONFIGS}",
            )
        out, seen = [], set()
        for item in items:
            key = (item or {}).get("metadataKey")
            if not isinstance(key, str) or not 1 <= len(key) <= 63:
                raise invalid("textSearchConfigurations[].metadataKey must be 1 to 63 characters")
            if key in seen:
                raise invalid(f"Duplicate text search configuration for metadata key '{key}'")
            seen.add(key)
            lang = item.get("language")
            if lang is not None and lang not in LANGUAGES:
                raise constraint("/language", f"Member must satisfy enum value set: [{', '.join(LANGUAGES)}]")
            entry = {"metadataKey": key, "status": "ACTIVE"}
            if lang:
                entry["language"] = lang
            out.append(entry)
        return out

    def list_indexes(self) -> ActionResult:
        bucket_name = self._get_param("vectorBucketName")
        bucket_arn = self._get_param("vectorBucketArn")
        if bucket_name and bucket_arn:
            raise invalid("Must specify either vectorBucketName or vectorBucketArn but not both")
        limit = _int_param(self._get_param("maxResults", MAX_LIST_INDEXES), "/maxResults", 1, MAX_LIST_INDEXES)
        prefix = self._get_param("prefix") or ""
        indexes = self.s3vectors_backend.list_indexes(vector_bucket_name=bucket_name, vector_bucket_arn=bucket_arn)
        indexes = sorted((i for i in indexes if i.index_name.startswith(prefix)), key=lambda i: i.index_name)
        scope = f"indexes:{bucket_name or bucket_arn}:{prefix}"
        page, nxt = _page(indexes, self._get_param("nextToken"), limit, scope)
        result: dict[str, Any] = {"indexes": page}
        if nxt:
            result["nextToken"] = nxt
        return ActionResult(result)

    def update_index_mode(self) -> EmptyResult:
        mode = self._get_param("indexMode")
        if mode not in INDEX_MODES:
            raise constraint("/indexMode", "Member must satisfy enum value set: [CLASSIC, ENHANCED]")
        with LOCK:
            index = self._index()
            if mode == "CLASSIC" and not _is_legacy(index._bucket):
                raise invalid(
                    "CLASSIC index mode is available only for vector indexes in vector buckets "
                    "created before September 30, 2026"
                )
            index.index_mode = mode
        return EmptyResult()

    def update_metadata_configuration(self) -> ActionResult:
        add = self._get_param("add") or {}
        delete = self._get_param("delete") or {}
        with LOCK:
            index = self._index()
            config = dict(getattr(index, "metadata_configuration", None) or {})
            current = {c["metadataKey"]: c for c in config.get("textSearchConfigurations") or []}
            for item in delete.get("textSearchConfigurations") or []:
                key = (item or {}).get("metadataKey")
                if key not in current:
                    raise NotFoundException(f"No text search configuration for metadata key '{key}'")
                del current[key]
            for entry in self._text_search_configs(add.get("textSearchConfigurations") or []):
                if entry["metadataKey"] in current:
                    raise ConflictException(
                        f"A text search configuration for metadata key '{entry['metadataKey']}' already exists"
                    )
                current[entry["metadataKey"]] = entry
            if len(current) > MAX_TEXT_SEARCH_CONFIGS:
                raise invalid(f"An index can have at most {MAX_TEXT_SEARCH_CONFIGS} text search configurations")
            if current:
                config["textSearchConfigurations"] = list(current.values())
            else:
                config.pop("textSearchConfigurations", None)
            index.metadata_configuration = config or None
        return ActionResult({"indexArn": index.index_arn})

    # --- vectors

    def put_vectors(self) -> EmptyResult:
        vectors = self._get_param("vectors") or []
        if not 1 <= len(vectors) <= MAX_PUT_VECTORS:
            raise constraint("/vectors", f"Member must have length between 1 and {MAX_PUT_VECTORS}, inclusive")
        with LOCK:
            index = self._index()
            non_filterable = _non_filterable(index)
            for v in vectors:
                key = v.get("key")
                if not isinstance(key, str) or not 1 <= len(key) <= MAX_VECTOR_KEY_LEN:
                    raise constraint("/vectors/key", f"Member must have length between 1 and {MAX_VECTOR_KEY_LEN}, inclusive")
                data = v.get("data") or {}
                if "float32" not in data:
                    raise invalid(f"Invalid record for key '{key}': data must contain float32")
                data["float32"] = _to_float32(data["float32"], key)
                _check_metadata(key, v.get("metadata"), non_filterable)
            super().put_vectors()
        return EmptyResult()

    def get_vectors(self) -> ActionResult:
        keys = self._get_param("keys") or []
        if not 1 <= len(keys) <= MAX_GET_VECTORS:
            raise constraint("/keys", f"Member must have length between 1 and {MAX_GET_VECTORS}, inclusive")
        return_data = self._get_bool_param("returnData", False)
        return_metadata = self._get_bool_param("returnMetadata", False)
        with LOCK:
            index = self._index()
            found = []
            for key in dict.fromkeys(keys):
                v = index.vectors.get(key)
                if v is not None:
                    found.append(self._vector_out(v, return_data, return_metadata))
        return ActionResult({"vectors": found})

    def delete_vectors(self) -> EmptyResult:
        keys = self._get_param("keys") or []
        if not 1 <= len(keys) <= MAX_DELETE_VECTORS:
            raise constraint("/keys", f"Member must have length between 1 and {MAX_DELETE_VECTORS}, inclusive")
        with LOCK:
            super().delete_vectors()
        return EmptyResult()

    def list_vectors(self) -> ActionResult:
        limit = _int_param(self._get_param("maxResults", DEFAULT_LIST_VECTORS), "/maxResults", 1, MAX_LIST_VECTORS)
        seg_count = self._get_param("segmentCount")
        seg_index = self._get_param("segmentIndex")
        if (seg_count is None) != (seg_index is None):
            raise invalid("segmentCount and segmentIndex must be provided together")
        if seg_count is not None:
            seg_count = _int_param(seg_count, "/segmentCount", 1, MAX_SEGMENTS)
            seg_index = _int_param(seg_index, "/segmentIndex", 0, seg_count - 1)
        return_data = self._get_bool_param("returnData", False)
        return_metadata = self._get_bool_param("returnMetadata", False)
        with LOCK:
            index = self._index()
            items = sorted(index.vectors.values(), key=lambda v: v.key)
            if seg_count is not None:
                items = [v for v in items if zlib.crc32(v.key.encode()) % seg_count == seg_index]
            scope = f"vectors:{index.index_arn}:{seg_count}:{seg_index}"
            page, nxt = _page(items, self._get_param("nextToken"), limit, scope)
            out = [self._vector_out(v, return_data, return_metadata) for v in page]
        result: dict[str, Any] = {"vectors": out}
        if nxt:
            result["nextToken"] = nxt
        return ActionResult(result)

    @staticmethod
    def _vector_out(v: Any, data: bool, metadata: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"key": v.key}
        if data:
            out["data"] = {"float32": list(v.data["float32"])}
        if metadata:
            out["metadata"] = v.metadata if v.metadata is not None else {}
        return out

    # --- QueryVectors

    def query_vectors(self) -> ActionResult:
        top_k = self._get_param("topK")
        if top_k is None:
            raise invalid("1 validation error detected. Value null at '/topK' failed to satisfy constraint: Member must not be null")
        top_k = _int_param(top_k, "/topK", 1, MAX_TOP_K)
        query = self._get_param("queryVector")
        texts = self._get_param("queryTexts")
        filter_doc = self._get_param("filter")
        query_mode = self._get_param("queryMode")
        return_metadata = self._get_bool_param("returnMetadata", False)
        return_distance = self._get_bool_param("returnDistance", False)
        return_scores = self._get_bool_param("returnScores", False)
        if self._get_param("nextToken"):
            raise invalid("The provided pagination token is invalid")
        if query is None and not texts:
            raise invalid("A request must include queryVector, queryTexts, or both")
        if query_mode is not None and query_mode not in INDEX_MODES:
            raise constraint("/queryMode", "Member must satisfy enum value set: [CLASSIC, ENHANCED]")

        with LOCK:
            index = self._index()
            index_mode = getattr(index, "index_mode", "ENHANCED")
            if query_mode == "CLASSIC" and index_mode == "ENHANCED":
                raise invalid("queryMode CLASSIC can't be used with a vector index in ENHANCED mode")
            mode = query_mode or index_mode

            qvec = None
            if query is not None:
                if not isinstance(query, dict) or "float32" not in query:
                    raise invalid("queryVector must contain float32")
                qvec = _to_float32(query["float32"], "queryVector")
                if len(qvec) != index.dimension:
                    raise invalid(
                        f"Invalid query vector: vector must have length {index.dimension}, but has length {len(qvec)}"
                    )
            text_fields = self._validate_query_texts(index, texts, mode) if texts else []

            flt = Filter(filter_doc, _non_filterable(index), mode) if filter_doc is not None else None
            candidates = [v for v in list(index.vectors.values()) if flt is None or flt.matches(v.metadata)]

            distances: dict[str, float] = {}
            vector_rank: list[str] = []
            if qvec is not None:
                for v in candidates:
                    distances[v.key] = _distance(index.distance_metric, qvec, v.data["float32"])
                vector_rank = sorted(distances, key=lambda k: (distances[k], k))

            bm25: dict[str, dict[str, float]] = {}
            for field, text in text_fields:
                bm25[field] = _bm25(candidates, field, text)

            by_key = {v.key: v for v in candidates}
            results = self._rank(top_k, vector_rank, distances, bm25, by_key, return_metadata,
                                 return_distance, return_scores)
        return ActionResult({"vectors": results, "distanceMetric": index.distance_metric})

    @staticmethod
    def _validate_query_texts(index: Any, texts: Any, mode: str) -> list[tuple[str, str]]:
        if mode != "ENHANCED":
            raise invalid("Full-text and hybrid searches require a vector index in ENHANCED mode")
        if not isinstance(texts, list) or not 1 <= len(texts) <= MAX_QUERY_TEXTS:
            raise constraint("/queryTexts", f"Member must have length between 1 and {MAX_QUERY_TEXTS}, inclusive")
        searchable = {c["metadataKey"] for c in _text_configs(index)}
        out, seen = [], set()
        for item in texts:
            key, text = (item or {}).get("metadataKey"), (item or {}).get("text")
            if not isinstance(text, str) or not 1 <= len(text) <= 1024:
                raise constraint("/queryTexts/text", "Member must have length between 1 and 1024, inclusive")
            if key not in searchable:
                raise invalid(f"Metadata key '{key}' is not configured for full-text search on this index")
            if key in seen:
                raise invalid("Each queryTexts entry must target a distinct metadata key")
            seen.add(key)
            out.append((key, text))
        return out

    @staticmethod
    def _rank(top_k: int, vector_rank: list[str], distances: dict[str, float],
              bm25: dict[str, dict[str, float]], by_key: dict[str, Any], return_metadata: bool,
              return_distance: bool, return_scores: bool) -> list[dict[str, Any]]:
        def bm25_list(key: str) -> list[dict[str, Any]]:
            return [{"metadataKey": f, "score": s[key]} for f, s in bm25.items() if key in s]

        def out(key: str) -> dict[str, Any]:
            item: dict[str, Any] = {"key": key}
            if return_metadata:
                md = by_key[key].metadata
                item["metadata"] = md if md is not None else {}
            return item

        results = []
        if not bm25:  # vector-only search
            for key in vector_rank[:top_k]:
                item = out(key)
                if return_distance:
                    item["distance"] = distances[key]
                results.append(item)
            return results

        text_lists = {
            f: sorted(s, key=lambda k, s=s: (-s[k], k))[:top_k] for f, s in bm25.items()
        }
        if not vector_rank:  # full-text-only search: by BM25 (summed over the fields)
            total: dict[str, float] = {}
            for s in bm25.values():
                for k, v in s.items():
                    total[k] = total.get(k, 0.0) + v
            for key in sorted(total, key=lambda k: (-total[k], k))[:top_k]:
                item = out(key)
                if return_scores:
                    item["scores"] = {"bm25Scores": bm25_list(key)}
                results.append(item)
            return results

        # hybrid: Reciprocal Rank Fusion of the vector ranking and each text ranking
        vector_top = vector_rank[:top_k]
        fused: dict[str, float] = {}
        for ranking in [vector_top, *text_lists.values()]:
            for rank, key in enumerate(ranking, start=1):
                fused[key] = fused.get(key, 0.0) + 1.0 / (RRF_K + rank)
        in_vector = set(vector_top)
        for key in sorted(fused, key=lambda k: (-fused[k], k))[:top_k]:
            item = out(key)
            if return_distance and key in in_vector:
                item["distance"] = distances[key]
            if return_scores:
                scores: dict[str, Any] = {"fused": fused[key]}
                if bm25_list(key):
                    scores["bm25Scores"] = bm25_list(key)
                if key in in_vector:
                    scores["vectorDistance"] = distances[key]
                item["scores"] = scores
            results.append(item)
        return results


# --------------------------------------------------------------------------
# routing: every s3vectors path (moto's and the new ones) to the extended class

NEW_OPERATIONS = ("QueryVectors", "UpdateIndexMode", "PutVectorBucketDefaultIndexMode", "UpdateMetadataConfiguration")


def install() -> None:
    paths = {path: ExtendedS3VectorsResponse.dispatch for path in s3v_urls.url_paths}
    for op in NEW_OPERATIONS:
        paths["{0}/" + op + "$"] = ExtendedS3VectorsResponse.dispatch
    s3v_urls.url_paths = paths


def main(argv: list[str] | None = None) -> None:
    install()
    from moto.server import main as moto_main

    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
