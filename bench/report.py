"""Prints each tool's overhead over running /usr/bin/true directly, and each jitexec run's ratio to
sudo's overhead in the same hyperfine run."""
import json
import sys

results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
base = results["direct"]["mean"]
sudo = results["sudo"]["mean"] - base
print(f"{'':20} {'mean':>10} {'stddev':>10} {'overhead':>10}")
for name, r in results.items():
    print(f"{name:20} {r['mean'] * 1000:8.2f}ms {r['stddev'] * 1000:8.2f}ms {(r['mean'] - base) * 1000:8.2f}ms")
for name in [n for n in results if n.startswith("jitexec")]:
    print(f"{name}/sudo overhead ratio: {(results[name]['mean'] - base) / sudo:.2f} (target: at most 0.75)")
