#!/usr/bin/env python3
"""Check that the moto server scripts/moto.sh starts serves S3 Vectors as the app uses it.

    bash scripts/moto.sh start
    .venv-moto/bin/python scripts/check_moto_s3vectors.py [ENDPOINT]

ENDPOINT defaults to $ASKDOCS_TEST_AWS_ENDPOINT, else http://127.0.0.1:$MOTO_PORT (5055).
Uses boto3 from .venv-moto. Every bucket it makes has a fresh name and is deleted at the
end, so it can run against the server the tests share. Exits 1 when a check fails.
"""

from __future__ import annotations

import array
import math
import os
import sys
import uuid

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint = (
    sys.argv[1]
    if len(sys.argv) > 1
    else os.environ.get("ASKDOCS_TEST_AWS_ENDPOINT")
    or f"http://127.0.0.1:{os.environ.get('MOTO_PORT', '5055')}"
)
session = boto3.session.Session(
    aws_access_key_id="testing", aws_secret_access_key="testing", region_name="eu-west-1"
)
s3v = session.client("s3vectors", endpoint_url=endpoint)
# The same client without botocore's own parameter checks, to see what the server says.
raw = session.client("s3vectors", endpoint_url=endpoint, config=Config(parameter_validation=False))

failures: list[str] = []
passed = 0


def check(cond: bool, what: str) -> None:
    global passed
    if cond:
        passed += 1
    else:
        failures.append(what)
        print(f"FAIL: {what}", file=sys.stderr)


def error_of(fn, **kwargs) -> tuple[str | None, int | None]:
    try:
        fn(**kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    return None, None


def f32(values: list[float]) -> list[float]:
    return array.array("f", values).tolist()


def cosine_distance(a: list[float], b: list[float]) -> float:
    a, b = f32(a), f32(b)
    dot = sum(x * y for x, y in zip(a, b))
    return 1.0 - dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


suffix = uuid.uuid4().hex[:10]
bucket = f"check-{suffix}"
legacy_bucket = f"check-legacy-{suffix}"
index = "passages"
loc = {"vectorBucketName": bucket, "indexName": index}

VECTORS = {
    # key: (vector, userId, documentId, page)
    "d1#0": ([1.0, 0.0, 0.0, 0.0], "u1", "d1", 1),
    "d1#1": ([0.9, 0.1, 0.0, 0.0], "u1", "d1", 2),
    "d2#0": ([0.0, 1.0, 0.0, 0.0], "u1", "d2", 1),
    "d3#0": ([1.0, 0.0, 0.0, 0.0], "u2", "d3", 1),  # same direction as d1#0, other owner
    "d3#1": ([0.7, 0.7, 0.0, 0.1], "u2", "d3", 2),
}
QUERY = [1.0, 0.2, 0.0, 0.0]


def put_all() -> None:
    s3v.put_vectors(
        **loc,
        vectors=[
            {
                "key": key,
                "data": {"float32": vec},
                "metadata": {"userId": user, "documentId": doc, "text": f"passage {key} of {doc}",
                             "page": page, "ordinal": int(key.split("#")[1])},
            }
            for key, (vec, user, doc, page) in VECTORS.items()
        ],
    )


def query(**kwargs):
    return s3v.query_vectors(**loc, queryVector={"float32": QUERY}, **kwargs)


def keys_of(resp) -> list[str]:
    return [v["key"] for v in resp["vectors"]]


def main() -> int:
    # --- bucket + index as the app's bootstrap creates them
    arn = s3v.create_vector_bucket(vectorBucketName=bucket).get("vectorBucketArn", "")
    check(arn.endswith(f":bucket/{bucket}"), "CreateVectorBucket returns vectorBucketArn")
    got = s3v.get_vector_bucket(vectorBucketName=bucket)["vectorBucket"]
    check("creationTime" in got, "GetVectorBucket has creationTime")
    check(got.get("defaultIndexMode") == "ENHANCED", "a new vector bucket defaults to ENHANCED")

    index_arn = s3v.create_index(
        vectorBucketName=bucket, indexName=index, dataType="float32", dimension=4,
        distanceMetric="cosine",
        metadataConfiguration={"nonFilterableMetadataKeys": ["text", "page", "ordinal"]},
    ).get("indexArn", "")
    check(index_arn.endswith(f"/index/{index}"), "CreateIndex returns indexArn")
    idx = s3v.get_index(**loc)["index"]
    check(idx.get("dimension") == 4 and idx.get("distanceMetric") == "cosine"
          and idx.get("dataType") == "float32", "GetIndex: dimension, metric, data type")
    check(idx.get("metadataConfiguration", {}).get("nonFilterableMetadataKeys") == ["text", "page", "ordinal"],
          "GetIndex returns the non-filterable metadata keys")
    check(idx.get("indexMode") == "ENHANCED", "GetIndex returns indexMode ENHANCED")
    check(error_of(s3v.create_index, vectorBucketName=bucket, indexName=index, dataType="float32",
                   dimension=4, distanceMetric="cosine") == ("ConflictException", 409),
          "CreateIndex of an existing index -> 409 ConflictException")
    check(s3v.get_index(indexArn=index_arn)["index"]["indexName"] == index, "GetIndex by indexArn")

    # --- PutVectors for two owners; QueryVectors restricted to one
    put_all()
    r = query(topK=10, filter={"userId": "u1"}, returnDistance=True, returnMetadata=True)
    expected = sorted((k for k, v in VECTORS.items() if v[1] == "u1"),
                      key=lambda k: cosine_distance(QUERY, VECTORS[k][0]))
    check(keys_of(r) == expected, f"userId filter: only u1's vectors, nearest first ({keys_of(r)} vs {expected})")
    check(r.get("distanceMetric") == "cosine", "QueryVectors returns distanceMetric")
    for v in r["vectors"]:
        want = cosine_distance(QUERY, VECTORS[v["key"]][0])
        check(abs(v.get("distance", -1) - want) < 1e-6, f"distance of {v['key']}: {v.get('distance')} vs {want}")
        check(v.get("metadata", {}).get("userId") == "u1" and "text" in v.get("metadata", {}),
              f"returnMetadata gives {v['key']}'s metadata, non-filterable keys included")
    r = query(topK=10, filter={"userId": {"$eq": "u2"}})
    check(sorted(keys_of(r)) == ["d3#0", "d3#1"], "explicit $eq on userId")
    check(all("distance" not in v and "metadata" not in v for v in r["vectors"]),
          "no distance/metadata unless asked for")
    r = query(topK=1, filter={"userId": "u1"})
    check(keys_of(r) == expected[:1], "topK=1 gives the nearest only")
    r = s3v.query_vectors(indexArn=index_arn, topK=10, queryVector={"float32": QUERY})
    check(len(r["vectors"]) == 5, "QueryVectors by indexArn, no filter: every vector")

    # --- documentId $in (the question names documents), combined with the owner
    r = query(topK=10, filter={"$and": [{"userId": "u1"}, {"documentId": {"$in": ["d2", "d3"]}}]})
    check(keys_of(r) == ["d2#0"], f"$and userId + documentId $in: {keys_of(r)}")
    r = query(topK=10, filter={"userId": "u1", "documentId": {"$in": ["d1"]}})
    check(sorted(keys_of(r)) == ["d1#0", "d1#1"], "implicit AND of two keys")

    # --- the other operators
    s3v.put_vectors(**loc, vectors=[
        {"key": "n#1", "data": {"float32": [0.0, 0.0, 1.0, 0.0]}, "metadata": {"userId": "u3", "year": 2020, "tags": ["a", "b"]}},
        {"key": "n#2", "data": {"float32": [0.0, 0.0, 0.9, 0.1]}, "metadata": {"userId": "u3", "year": 2024, "draft": True}},
    ])
    u3 = {"userId": "u3"}
    cases = [
        ({"year": {"$gt": 2020}}, ["n#2"]),
        ({"year": {"$gte": 2020}}, ["n#1", "n#2"]),
        ({"year": {"$lt": 2024}}, ["n#1"]),
        ({"year": {"$lte": 2024, "$gte": 2021}}, ["n#2"]),
        ({"year": {"$ne": 2020}}, ["n#2"]),
        ({"year": {"$nin": [2020, 2021]}}, ["n#2"]),
        ({"draft": {"$exists": True}}, ["n#2"]),
        ({"draft": {"$exists": False}}, ["n#1"]),
        ({"tags": "b"}, ["n#1"]),
        ({"tags": {"$in": ["x", "a"]}}, ["n#1"]),
        ({"$or": [{"year": 2020}, {"draft": True}]}, ["n#1", "n#2"]),
    ]
    for flt, want in cases:
        r = query(topK=10, filter={"$and": [u3, flt]})
        check(sorted(keys_of(r)) == want, f"filter {flt}: {sorted(keys_of(r))} vs {want}")
    s3v.delete_vectors(**loc, keys=["n#1", "n#2"])

    # --- errors
    check(error_of(raw.query_vectors, **loc, topK=101, queryVector={"float32": QUERY}) == ("ValidationException", 400),
          "topK=101 -> 400 ValidationException")
    check(error_of(raw.query_vectors, **loc, topK=0, queryVector={"float32": QUERY}) == ("ValidationException", 400),
          "topK=0 -> 400 ValidationException")
    check(error_of(s3v.query_vectors, **loc, topK=3, queryVector={"float32": [1.0, 0.0]}) == ("ValidationException", 400),
          "query vector of the wrong dimension -> 400 ValidationException")
    check(error_of(s3v.query_vectors, **loc, topK=3, queryVector={"float32": QUERY}, filter={"text": "x"})
          == ("ValidationException", 400), "filter on a non-filterable key -> 400 ValidationException")
    check(error_of(s3v.query_vectors, **loc, topK=3, queryVector={"float32": QUERY}, filter={"userId": {"$regex": "u"}})
          == ("ValidationException", 400), "unknown filter operator -> 400 ValidationException")
    check(error_of(s3v.query_vectors, vectorBucketName=bucket, indexName="missing", topK=3,
                   queryVector={"float32": QUERY}) == ("NotFoundException", 404), "unknown index -> 404 NotFoundException")

    # --- DeleteVectors, then query again; GetVectors
    s3v.delete_vectors(**loc, keys=["d1#0", "d1#0", "never-there"])
    r = query(topK=10, filter={"userId": "u1"})
    check("d1#0" not in keys_of(r) and sorted(keys_of(r)) == ["d1#1", "d2#0"], f"after DeleteVectors: {keys_of(r)}")
    got = s3v.get_vectors(**loc, keys=["d1#0", "d1#1", "d3#1"], returnData=True, returnMetadata=True)["vectors"]
    check([v["key"] for v in got] == ["d1#1", "d3#1"], "GetVectors returns the keys that exist, in request order")
    check(got and got[0].get("data", {}).get("float32") == f32(VECTORS["d1#1"][0]), "GetVectors data as float32")
    check(got and got[0].get("metadata", {}).get("documentId") == "d1", "GetVectors metadata")
    got = s3v.get_vectors(**loc, keys=["d1#1"])["vectors"]
    check(got == [{"key": "d1#1"}], "GetVectors without returnData/returnMetadata gives keys only")

    # --- documented per-call and metadata limits
    def vec(i: int, metadata=None):
        return {"key": f"bulk#{i}", "data": {"float32": [1.0, 0.0, 0.0, float(i)]}, "metadata": metadata or {"userId": "bulk"}}

    check(error_of(raw.put_vectors, **loc, vectors=[vec(i) for i in range(501)]) == ("ValidationException", 400),
          "PutVectors with 501 vectors -> 400 ValidationException")
    s3v.put_vectors(**loc, vectors=[vec(i) for i in range(500)])
    check(error_of(raw.get_vectors, **loc, keys=[f"bulk#{i}" for i in range(101)]) == ("ValidationException", 400),
          "GetVectors with 101 keys -> 400 ValidationException")
    check(len(s3v.get_vectors(**loc, keys=[f"bulk#{i}" for i in range(100)])["vectors"]) == 100, "GetVectors with 100 keys")
    check(error_of(raw.delete_vectors, **loc, keys=[f"bulk#{i}" for i in range(501)]) == ("ValidationException", 400),
          "DeleteVectors with 501 keys -> 400 ValidationException")
    s3v.delete_vectors(**loc, keys=[f"bulk#{i}" for i in range(500)])
    check(len(s3v.list_vectors(**loc)["vectors"]) == 4, "ListVectors after the bulk delete")
    check(error_of(s3v.put_vectors, **loc, vectors=[vec(1, {"userId": "x" * 2100})]) == ("ValidationException", 400),
          "filterable metadata over 2 KB -> 400 ValidationException")
    s3v.put_vectors(**loc, vectors=[vec(1, {"userId": "bulk", "text": "y" * 30000})])
    check(True, "non-filterable text of 30 KB is accepted")
    check(error_of(s3v.put_vectors, **loc, vectors=[vec(1, {"userId": "bulk", "text": "y" * 41000})])
          == ("ValidationException", 400), "metadata over 40 KB in total -> 400 ValidationException")
    check(error_of(s3v.put_vectors, **loc, vectors=[{"key": "bad", "data": {"float32": [1.0, 0.0]}}])
          == ("ValidationException", 400), "PutVectors of the wrong dimension -> 400 ValidationException")
    s3v.delete_vectors(**loc, keys=["bulk#1"])

    # --- ListVectors pagination
    page1 = s3v.list_vectors(**loc, maxResults=3)
    page2 = s3v.list_vectors(**loc, maxResults=3, nextToken=page1.get("nextToken", "none"))
    listed = [v["key"] for v in page1["vectors"] + page2["vectors"]]
    check(sorted(listed) == ["d1#1", "d2#0", "d3#0", "d3#1"] and "nextToken" not in page2,
          f"ListVectors pages: {listed}")

    # --- index modes
    check(error_of(s3v.update_index_mode, **loc, indexMode="CLASSIC") == ("ValidationException", 400),
          "UpdateIndexMode CLASSIC in a bucket created after 2026-09-30 -> 400 ValidationException")
    s3v.update_index_mode(**loc, indexMode="ENHANCED")
    s3v.create_vector_bucket(vectorBucketName=legacy_bucket, tags={"moto-s3vectors-legacy": "true"})
    check(s3v.get_vector_bucket(vectorBucketName=legacy_bucket)["vectorBucket"].get("defaultIndexMode") == "CLASSIC",
          "a legacy bucket defaults to CLASSIC")
    s3v.create_index(vectorBucketName=legacy_bucket, indexName=index, dataType="float32", dimension=2,
                     distanceMetric="euclidean")
    legacy = {"vectorBucketName": legacy_bucket, "indexName": index}
    check(s3v.get_index(**legacy)["index"].get("indexMode") == "CLASSIC", "its new index is CLASSIC")
    s3v.put_vectors(**legacy, vectors=[{"key": "p", "data": {"float32": [3.0, 4.0]}, "metadata": {"k": "abc"}}])
    r = s3v.query_vectors(**legacy, topK=1, queryVector={"float32": [0.0, 0.0]}, returnDistance=True)
    check(r["distanceMetric"] == "euclidean" and abs(r["vectors"][0]["distance"] - 5.0) < 1e-6,
          f"euclidean distance: {r['vectors']}")
    check(error_of(s3v.query_vectors, **legacy, topK=1, queryVector={"float32": [0.0, 0.0]},
                   filter={"k": {"$startsWith": "a"}}) == ("ValidationException", 400),
          "$startsWith on a CLASSIC index -> 400 ValidationException")
    s3v.update_index_mode(**legacy, indexMode="ENHANCED")
    check(s3v.get_index(**legacy)["index"].get("indexMode") == "ENHANCED", "UpdateIndexMode CLASSIC -> ENHANCED")
    r = s3v.query_vectors(**legacy, topK=1, queryVector={"float32": [0.0, 0.0]}, filter={"k": {"$startsWith": "ab"}})
    check(keys_of(r) == ["p"], "$startsWith on an ENHANCED index")

    # --- full-text and hybrid search (textSearchConfigurations)
    s3v.update_metadata_configuration(**loc, add={"textSearchConfigurations": [{"metadataKey": "text", "language": "en"}]})
    cfg = s3v.get_index(**loc)["index"]["metadataConfiguration"]
    check(cfg.get("textSearchConfigurations", [{}])[0].get("metadataKey") == "text", "UpdateMetadataConfiguration adds text search")
    r = s3v.query_vectors(**loc, topK=5, queryTexts=[{"metadataKey": "text", "text": "d3"}],
                          filter={"userId": "u2"}, returnScores=True)
    check(sorted(keys_of(r)) == ["d3#0", "d3#1"] and all(v.get("scores", {}).get("bm25Scores") for v in r["vectors"]),
          f"full-text search with a filter: {r['vectors']}")
    r = s3v.query_vectors(**loc, topK=3, queryVector={"float32": QUERY}, filter={"userId": "u1"},
                          queryTexts=[{"metadataKey": "text", "text": "d2"}], returnScores=True)
    check(keys_of(r)[:1] == ["d2#0"] and all("fused" in v.get("scores", {}) for v in r["vectors"]),
          f"hybrid search: {r['vectors']}")

    # --- clean up
    for b in (bucket, legacy_bucket):
        s3v.delete_index(vectorBucketName=b, indexName=index)
        s3v.delete_vector_bucket(vectorBucketName=b)
    check(error_of(s3v.get_vector_bucket, vectorBucketName=bucket)[0] == "NotFoundException", "buckets deleted")

    print(f"check_moto_s3vectors: {passed} checks passed, {len(failures)} failed ({endpoint})")
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # an unexpected error is a failure too
        print(f"FAIL: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
