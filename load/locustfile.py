"""askdocs under load: each simulated client is its own account (made by
load/prepare.py before the clock starts) and mixes questions, listings,
reads and uploads. Any answer other than the expected status is an error.

Run by load/run.sh; by hand:
    LOAD_ACCOUNTS=accounts.json locust -f load/locustfile.py --headless -u 50 -r 50 -t 60s --host URL
"""

import itertools
import json
import os
import random
import threading
import urllib.parse
import uuid

from locust import between, task
from locust.contrib.fasthttp import FastHttpUser

with open(os.environ["LOAD_ACCOUNTS"]) as accounts_file:
    SETUP = json.load(accounts_file)
ACCOUNTS = SETUP["clients"]
# `POST /documents?fileName=`, or `/documents/upload?fileName=` on servers from before that route.
DIRECT_UPLOAD_PATH = SETUP["directUploadPath"]
_next_account = itertools.count()
_lock = threading.Lock()

HERE = os.path.dirname(os.path.abspath(__file__))
PDF = open(os.path.join(HERE, "..", "tests", "fixtures", "lighthouse.pdf"), "rb").read()

QUESTIONS = [
    "What does error code E-4012 mean?",
    "When was the diesel generator checked?",
    "What was restocked in the storeroom?",
    "How was the weather on the night the lens was cleaned?",
    "Who inspected the stairs and what was found?",
    "What should I do when the fog pump stalls?",
    "What is the capital of Australia?",  # not in the documents: answered "couldn't find"
]

THINK_MIN = float(os.environ.get("LOAD_THINK_MIN", "0.5"))
THINK_MAX = float(os.environ.get("LOAD_THINK_MAX", "1.5"))


def small_text():
    """A short, unique text file: processing sees new content every time."""
    tag = uuid.uuid4().hex[:8]
    lines = [
        f"Shift report {tag}.",
        f"The keeper on shift {tag} logged {random.randint(1, 40)} ships passing the point.",
        "The lamp was lit at dusk and put out at dawn; the fog horn was tested at noon.",
    ]
    return ("\n\n".join(lines) + "\n").encode()


class Client(FastHttpUser):
    wait_time = between(THINK_MIN, THINK_MAX)
    network_timeout = 60.0
    connection_timeout = 10.0

    def on_start(self):
        with _lock:
            account = ACCOUNTS[next(_next_account) % len(ACCOUNTS)]
        self.auth = {"Authorization": f"Bearer {account['token']}"}
        self.document_ids = list(account["documentIds"])
        self.ready_ids = list(account["documentIds"])

    def expect(self, response, status):
        if response.status_code != status:
            response.failure(f"expected {status}, got {response.status_code}: {(response.text or '')[:200]}")
            return None
        try:
            return response.json() if response.text else {}
        except ValueError:
            response.failure("the body is not JSON")
            return None

    @task(8)
    def ask(self):
        body = {"question": random.choice(QUESTIONS)}
        if random.random() < 0.25:
            body["documentIds"] = [random.choice(self.ready_ids)]
        with self.client.post("/query/ask", json=body, headers=self.auth,
                              name="POST /query/ask", catch_response=True) as response:
            answer = self.expect(response, 200)
            if answer is not None and not answer.get("answer"):
                response.failure("no answer")

    @task(6)
    def list_documents(self):
        with self.client.get("/documents?limit=20", headers=self.auth,
                             name="GET /documents", catch_response=True) as response:
            page = self.expect(response, 200)
            if page is not None and not page.get("documents"):
                response.failure("the list is empty")

    @task(6)
    def get_document(self):
        document_id = random.choice(self.document_ids)
        with self.client.get(f"/documents/{document_id}", headers=self.auth,
                             name="GET /documents/{id}", catch_response=True) as response:
            self.expect(response, 200)

    @task(2)
    def history(self):
        with self.client.get("/query/history?limit=20", headers=self.auth,
                             name="GET /query/history", catch_response=True) as response:
            self.expect(response, 200)

    @task(2)
    def upload_direct(self):
        if random.random() < 0.5:
            name, content_type, data = f"shift-{uuid.uuid4().hex[:6]}.txt", "text/plain", small_text()
        else:
            name, content_type, data = "Lighthouse manual copy.pdf", "application/pdf", PDF
        query = urllib.parse.urlencode({"fileName": name})
        with self.client.post(f"{DIRECT_UPLOAD_PATH}?{query}", data=data,
                              headers={**self.auth, "Content-Type": content_type},
                              name="direct upload (?fileName=)", catch_response=True) as response:
            document = self.expect(response, 201)
            if document is not None:
                self.document_ids.append(document["documentId"])

    @task(1)
    def upload_with_url(self):
        data = small_text()
        request = {"fileName": f"shift-{uuid.uuid4().hex[:6]}.md", "contentType": "text/markdown", "size": len(data)}
        with self.client.post("/documents/upload", json=request, headers=self.auth,
                              name="POST /documents/upload", catch_response=True) as response:
            ticket = self.expect(response, 201)
        if ticket is None:
            return
        # The client sets Content-Length itself; the other signed headers go as given.
        headers = {k: v for k, v in ticket["uploadHeaders"].items() if k.lower() != "content-length"}
        with self.client.request(ticket["uploadMethod"], ticket["uploadUrl"], data=data,
                                 headers=headers, name="PUT upload URL",
                                 catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"expected 200, got {response.status_code}: {(response.text or '')[:200]}")
            else:
                self.document_ids.append(ticket["documentId"])
