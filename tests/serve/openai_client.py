"""The official `openai` Python client against a running `lectern serve`.

Run by tests/it/serve.rs with the server's address, its token file, the collection's name, a
question whose answer is on a known page of a known document, and that page. Every check is an
assertion; the last line printed is a JSON summary the Rust test reads (the chat ids of the
answers, so it can look at what was stored).
"""

import json
import math
import sys

import os

import httpx2 as httpx
import openai
from openai import OpenAI

base_url, token_file, collection, question, document, page, good_pdf, bad_pdf = sys.argv[1:9]
page = int(page)
token = open(token_file).read().strip()
model = f"lectern/{collection}"
client = OpenAI(base_url=f"{base_url}/v1", api_key=token, max_retries=0, timeout=300)
summary = {}


def extension(obj):
    """Lectern's `lectern` field, kept by the client's models as an extra field."""
    extra = obj.model_extra or {}
    assert "lectern" in extra, f"no lectern field in {obj}"
    return extra["lectern"]


# The collections are models; the embedding model is listed too.
ids = [m.id for m in client.models.list()]
assert model in ids, ids
assert "all-MiniLM-L6-v2" in ids, ids

# A whole answer: text with markers, citations and sources with document and page.
reply = client.chat.completions.create(
    model=model,
    messages=[{"role": "user", "content": question}],
    max_tokens=48,
    temperature=0,
)
choice = reply.choices[0]
assert choice.message.role == "assistant"
assert choice.message.content.strip(), reply
assert choice.finish_reason in ("stop", "length"), choice.finish_reason
assert reply.usage.prompt_tokens > 50, reply.usage
ext = extension(reply)
assert ext["answer"] == choice.message.content
sources = ext["sources"]
assert sources, ext
assert sources[0]["n"] == 1 and sources[0]["document"] == document, sources[0]
assert any(s["page"] <= page <= s["last_page"] for s in sources), (page, sources)
for citation in ext["citations"]:
    assert sources[citation["n"] - 1]["cited"] is True, (citation, sources)
    assert f"[{citation['n']}]" in ext["answer"], (citation, ext["answer"])
assert "path" not in json.dumps(ext), "a response names a path on the server"
summary["whole_chat_id"] = ext["chat_id"]

# The same question streamed: sources first, then text, then the whole answer.
chunks = list(
    client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": question}],
        max_tokens=48,
        temperature=0,
        stream=True,
    )
)
first, last = chunks[0], chunks[-1]
assert first.choices[0].delta.role == "assistant", first
assert extension(first)["sources"][0]["document"] == document, first
streamed = "".join(c.choices[0].delta.content or "" for c in chunks)
assert streamed.strip(), chunks
assert last.choices[0].finish_reason in ("stop", "length"), last
assert extension(last)["answer"].strip(), last
summary["streamed_chat_id"] = extension(last)["chat_id"]

# A follow-up the client keeps itself, and one that continues the stored chat.
follow_up = client.chat.completions.create(
    model=model,
    messages=[
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": question},
        {"role": "assistant", "content": ext["answer"]},
        {"role": "user", "content": "Which document says so?"},
    ],
    max_tokens=32,
)
assert follow_up.choices[0].message.content.strip(), follow_up
continued = client.chat.completions.create(
    model=model,
    messages=[{"role": "user", "content": "Which page says so?"}],
    max_tokens=32,
    extra_body={"lectern": {"chat_id": ext["chat_id"]}},
)
assert extension(continued)["chat_id"] == ext["chat_id"], extension(continued)

# Embeddings, in the client's default base64 encoding and as floats.
texts = ["a cat", "a kitten", "quarterly revenue"]
vectors = [d.embedding for d in client.embeddings.create(model="all-MiniLM-L6-v2", input=texts).data]
floats = client.embeddings.create(model="all-MiniLM-L6-v2", input=texts, encoding_format="float")
assert [len(v) for v in vectors] == [384] * 3
for a, b in zip(vectors, (d.embedding for d in floats.data)):
    assert max(abs(x - y) for x, y in zip(a, b)) < 1e-6


def cos(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    return dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


assert cos(vectors[0], vectors[1]) > cos(vectors[0], vectors[2]) + 0.3, vectors

# Failures come as the client's exceptions, in OpenAI's error shape with Lectern's codes.
try:
    OpenAI(base_url=f"{base_url}/v1", api_key="not-the-token", max_retries=0).models.list()
    raise AssertionError("a wrong token was let in")
except openai.AuthenticationError as e:
    assert e.status_code == 401 and e.code == "unauthorized", e
try:
    client.chat.completions.create(model="lectern/no-such", messages=[{"role": "user", "content": "hi"}])
    raise AssertionError("an unknown collection answered")
except openai.NotFoundError as e:
    assert e.code == "not_found", e
try:
    client.chat.completions.create(model=model, messages=[{"role": "user", "content": "x" * (2 << 20)}])
    raise AssertionError("a 2 MiB body was taken")
except openai.APIStatusError as e:
    assert e.status_code == 413 and e.code == "too_large", e
try:
    client.chat.completions.create(model=model, messages=[{"role": "assistant", "content": "hi"}])
    raise AssertionError("a conversation without a question was answered")
except openai.BadRequestError as e:
    assert e.code == "invalid_input", e

# Files sent to a collection are ingested like a drop on the app: one outcome per file, a bad
# one failing alone with its reason; a name with a folder in it is refused.
collection_id = next(c for c in httpx.get(f"{base_url}/v1/collections", headers={"Authorization": f"Bearer {token}"}).json()["data"] if c["name"] == collection)["id"]
uploads = f"{base_url}/v1/collections/{collection_id}/documents"
auth = {"Authorization": f"Bearer {token}"}
with open(good_pdf, "rb") as good, open(bad_pdf, "rb") as bad:
    sent = httpx.post(uploads, headers=auth, timeout=300, files=[
        ("file", (os.path.basename(good_pdf), good, "application/pdf")),
        ("file", (os.path.basename(bad_pdf), bad, "application/pdf")),
    ])
assert sent.status_code == 200, sent.text
outcomes = {f["name"]: f for f in sent.json()["files"]}
assert outcomes[os.path.basename(good_pdf)]["status"] == "indexed", outcomes
assert outcomes[os.path.basename(good_pdf)]["passages"] > 0, outcomes
assert outcomes[os.path.basename(bad_pdf)]["status"] == "failed", outcomes
assert outcomes[os.path.basename(bad_pdf)]["error"]["code"], outcomes
assert "uploads/" not in json.dumps(sent.json()), sent.json()
hits = httpx.post(f"{base_url}/v1/collections/{collection_id}/search", headers=auth, json={"query": "Fresnel lens", "k": 3}).json()["hits"]
assert hits[0]["document"] == os.path.basename(good_pdf), hits
escape = httpx.post(uploads, headers=auth, files=[("file", ("../escape.txt", b"hello", "text/plain"))])
assert escape.status_code == 400 and escape.json()["error"]["code"] == "invalid_input", escape.text

# A long answer: while it streams the queue is full (the server runs with --max-waiting 0), so
# another question is refused at once; then the client goes away mid-answer, which stops it.
long_question = question + " Explain it at length, step by step, with an example of each step."
stream = client.chat.completions.create(
    model=model,
    messages=[{"role": "user", "content": long_question}],
    max_tokens=1500,
    temperature=0,
    stream=True,
)
for chunk in stream:
    if chunk.choices and chunk.choices[0].delta.content:
        break
try:
    client.chat.completions.create(model=model, messages=[{"role": "user", "content": question}])
    raise AssertionError("a second answer was queued past --max-waiting 0")
except openai.RateLimitError as e:
    assert e.code == "busy", e
stream.close()
summary["cut_question"] = long_question

print(json.dumps(summary))
