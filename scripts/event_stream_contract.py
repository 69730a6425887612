"""POST /query/ask as server-sent events, checked against openapi.yaml.

schemathesis reads JSON answers; this reads the event stream the way a client
does and checks it against what openapi.yaml says of it: every event's data
against the schema its name maps to (`x-events` of the `text/event-stream`
response), the order (`citations`, then `answer` pieces, then one `done` or
`error`), and that a request wrong before any answer is written gets its JSON
error instead of a stream.

    python scripts/event_stream_contract.py BASE_URL TOKEN openapi.yaml

Run by scripts/schemathesis.sh against the server it started.
"""

import json
import sys
import time
import urllib.error
import urllib.request

import jsonschema_rs
import yaml

base, token, spec_path = sys.argv[1:4]
with open(spec_path) as spec_file:
    spec = yaml.safe_load(spec_file)
operation = spec["paths"]["/query/ask"]["post"]
stream_media = operation["responses"]["200"]["content"]["text/event-stream"]
problems = []


def validator(ref):
    """A validator for the component `ref` names, its own $refs resolved."""
    return jsonschema_rs.validator_for({"$ref": ref, "components": spec["components"]})


event_validators = {name: validator(schema["$ref"]) for name, schema in stream_media["x-events"].items()}
error_validator = validator("#/components/schemas/Error")


def request(method, path, body=None, content_type="application/json", accept="application/json"):
    data = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else None)
    headers = {"Authorization": f"Bearer {token}", "Accept": accept}
    if data is not None:
        headers["Content-Type"] = content_type
    return urllib.request.Request(base + path, data=data, headers=headers, method=method)


def call(method, path, body=None, content_type="application/json"):
    for _ in range(30):
        try:
            with urllib.request.urlopen(request(method, path, body, content_type), timeout=60) as response:
                payload = response.read()
                return json.loads(payload) if payload else None
        except urllib.error.HTTPError as error:
            if error.code == 429:
                time.sleep(float(error.headers.get("Retry-After") or 1))
                continue
            raise SystemExit(f"{method} {path}: {error.code} {error.read().decode()}")
    raise SystemExit(f"{method} {path}: still rate limited")


def events_of(text):
    """(name, data) of each event of a text/event-stream body."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        if data:
            events.append((name, json.loads("\n".join(data))))
    return events


def ask_for_events(label, body):
    """Asks for events; checks the stream; returns its events."""
    try:
        response = urllib.request.urlopen(request("POST", "/query/ask", body, accept="text/event-stream"), timeout=60)
    except urllib.error.HTTPError as error:
        problems.append(f"{label}: answered {error.code}, not a stream: {error.read().decode()[:300]}")
        return []
    with response:
        kind = response.headers.get("Content-Type", "")
        if not kind.startswith("text/event-stream"):
            problems.append(f"{label}: Content-Type {kind!r}, not text/event-stream")
        events = events_of(response.read().decode())
    names = [name for name, _ in events]
    if not names or names[0] != "citations" or names[-1] not in ("done", "error") \
            or any(name != "answer" for name in names[1:-1]) or len(names) < 2 \
            or (names[-1] == "done" and len(names) < 3):
        problems.append(f"{label}: events in the wrong order: {names}")
    for index, (name, data) in enumerate(events):
        check = event_validators.get(name)
        if check is None:
            problems.append(f"{label}: event {index} {name!r} is not one openapi.yaml names")
            continue
        for error in check.iter_errors(data):
            problems.append(f"{label}: event {index} {name!r} breaks its schema: {error} ({json.dumps(data)[:300]})")
    return events


# A document that answers, then one question it answers and one it does not.
text = (b"Lighthouse manual\n\nError code E-4012 means the fog pump stalled. "
        b"Close valve three to clear it, then restart the pump.\n\n"
        b"The keeper logs the tide every six hours.\n")
document = call("POST", "/documents?fileName=event-stream-contract.txt", text, "text/plain")
for _ in range(120):
    if call("GET", f"/documents/{document['documentId']}")["status"] in ("ready", "failed"):
        break
    time.sleep(0.5)

answered = ask_for_events("an answered question", {"question": "What does error code E-4012 mean?",
                                                   "documentIds": [document["documentId"]]})
if answered:
    names = [name for name, _ in answered]
    streamed = "".join(data["text"] for name, data in answered if name == "answer")
    if names[-1] != "done" or "fog pump stalled" not in streamed:
        problems.append(f"an answered question: no answer streamed: {names} {streamed!r}")
    elif not answered[0][1]["citations"]:
        problems.append("an answered question: its citations event names no passage")
    else:
        filed = call("GET", f"/query/history?conversationId={answered[-1][1]['conversationId']}")["items"]
        if [item["queryId"] for item in filed] != [answered[-1][1]["queryId"]]:
            problems.append(f"an answered question: history does not hold it: {filed}")
ask_for_events("a question the documents do not answer",
               {"question": "Which colour is the harbour master's boat?", "documentIds": [document["documentId"]]})

# Wrong before any answer is written: a JSON error, not a stream.
for label, body, status in [
    ("an empty question", {"question": "  "}, 400),
    ("an unknown field", {"question": "Why?", "colour": "red"}, 400),
    ("another's document", {"question": "Why?", "documentIds": ["0f0e0d0c-0000-4000-8000-000000000000"]}, 404),
]:
    try:
        urllib.request.urlopen(request("POST", "/query/ask", body, accept="text/event-stream"), timeout=60).close()
        problems.append(f"{label}: answered 200, not {status}")
    except urllib.error.HTTPError as error:
        kind = error.headers.get("Content-Type", "")
        payload = error.read().decode()
        if error.code != status or not kind.startswith("application/json"):
            problems.append(f"{label}: {error.code} {kind}, not {status} JSON")
        else:
            for problem in error_validator.iter_errors(json.loads(payload)):
                problems.append(f"{label}: the error breaks the Error schema: {problem}")

call("DELETE", f"/documents/{document['documentId']}")
for problem in problems:
    print(f"event stream: {problem}", file=sys.stderr)
if problems:
    sys.exit(1)
print("event stream: POST /query/ask as events matches openapi.yaml "
      f"({len(answered)} events for the answered question)", file=sys.stderr)
