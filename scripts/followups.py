#!/usr/bin/env python3
"""Follow-up retrieval on a pairs file (docs/BENCHMARKS.md, "Follow-ups: joined or rewritten").

Usage: scripts/followups.py DATA_DIR COLLECTION PAIRS.jsonl K   (runs target/release/lectern)
"""
# Follow-up retrieval: gold page among k sources when the follow-up is searched alone, joined
# to the previous question, and as the model rewrites it (lectern ask --chat).
import json, subprocess, sys
data, coll, pairs, k = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
def lectern(*args):
    out = subprocess.run(["target/release/lectern", "--data-dir", data, "--json", *args], capture_output=True, text=True, check=True).stdout
    return [json.loads(l) for l in out.splitlines()]
def hit(hits, page):
    return any((h.get("page") or -1) <= page <= (h.get("last_page") or h.get("page") or -1) for h in hits)
tot = {"alone": 0, "joined": 0, "rewritten": 0}
n = 0
for line in open(pairs):
    p = json.loads(line); n += 1
    alone = lectern("search", "-c", coll, "--k", k, p["follow_up"])[0]["hits"]
    joined = lectern("search", "-c", coll, "--k", k, p["first"] + " " + p["follow_up"])[0]["hits"]
    a = lectern("ask", "-c", coll, "--k", k, p["first"])[0]
    b = lectern("ask", "-c", coll, "--k", k, "--chat", str(a["chat_id"]), p["follow_up"])[0]
    r = {"alone": hit(alone, p["pdf_page"]), "joined": hit(joined, p["pdf_page"]), "rewritten": hit(b["sources"], p["pdf_page"])}
    for key in tot: tot[key] += r[key]
    print(json.dumps({"follow_up": p["follow_up"], "search_query": b["search_query"], **r}), flush=True)
print(json.dumps({"pairs": n, **tot}))
