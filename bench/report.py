"""Prints each tool's overhead over running /usr/bin/true directly, and jitexec's ratio to sudo."""
import json
import sys

results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
base = results["direct"]["mean"]
print(f"{'':10} {'mean':>10} {'stddev':>10} {'overhead':>10}")
for name in ("direct", "sudo", "doas", "jitexec"):
    r = results[name]
    print(f"{name:10} {r['mean'] * 1000:8.2f}ms {r['stddev'] * 1000:8.2f}ms {(r['mean'] - base) * 1000:8.2f}ms")
sudo = results["sudo"]["mean"] - base
jit = results["jitexec"]["mean"] - base
print(f"jitexec/sudo overhead ratio: {jit / sudo:.2f} (target: at most 0.50)")
