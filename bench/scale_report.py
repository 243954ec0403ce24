"""make bench-scale's figures against issue 15's targets: the hot path on a big store within 1.2 x
its time on a fresh one; verify, log --since 1h and requests within their bounds."""
import json
import sys


def load(path):
    return {r["command"]: r for r in json.load(open(path))["results"]}


hot, views = load(sys.argv[1]), load(sys.argv[2])
records, requests = int(sys.argv[3]), int(sys.argv[4])
# Each store was measured twice, in turn with the other (bench/scale.sh).
f = (hot["jitexec-fresh"]["mean"] + hot["jitexec-fresh-2"]["mean"]) / 2
h = (hot["jitexec-history"]["mean"] + hot["jitexec-history-2"]["mean"]) / 2
print(f"store: {records} audit records, {requests} decided requests with their grants")
rows = [
    ("jitexec -n /usr/bin/true, fresh store", f, None),
    ("jitexec -n /usr/bin/true, big store", h, None),
    ("  big / fresh", h / f, 1.2),
    ("jitctl verify", views["verify"]["mean"], 3.0),
    ("jitctl log --since 1h", views["log --since 1h"]["mean"], 0.2),
    ("jitctl requests", views["requests"]["mean"], 0.2),
]
for what, value, target in rows:
    if target is None:
        print(f"{what:40} {value * 1000:9.2f}ms")
    elif what.startswith("  "):
        verdict = "ok" if value <= target else "OVER"
        print(f"{what:40} {value:9.2f}x   (target: at most {target}x) {verdict}")
    else:
        verdict = "ok" if value <= target else "OVER"
        print(f"{what:40} {value:9.3f}s   (target: at most {target}s) {verdict}")
