"""Prints each tool's overhead over running /usr/bin/true directly, and each jitexec run's ratio to
sudo's overhead in the same hyperfine runs (on means, the target's, and on medians); with a second
file (the floor run, bench/bench.sh), the breakdown: what each piece of the floor costs, what the
floor adds up to, and jitexec's phases; on the fleet store (bench/fleet.sh) the floor file holds
the store's own pieces (libpq's load, a connection, a first statement) instead. The first argument may name several hyperfine files,
separated by commas (rounds of the same commands): each command's runs are merged.
"""
import json
import statistics
import sys


def load(paths):
    times = {}
    for path in paths.split(","):
        for r in json.load(open(path))["results"]:
            times.setdefault(r["command"], []).extend(r["times"])
    return {
        name: {"mean": statistics.mean(t), "stddev": statistics.stdev(t) if len(t) > 1 else 0.0,
               "median": statistics.median(t), "max": max(t)}
        for name, t in times.items()
    }


def table(results, base):
    print(f"{'':24} {'mean':>10} {'stddev':>10} {'overhead':>10} {'median':>10} {'max':>10}")
    for name, r in results.items():
        print(f"{name:24} {r['mean'] * 1000:8.2f}ms {r['stddev'] * 1000:8.2f}ms {(r['mean'] - base) * 1000:8.2f}ms"
              f" {r['median'] * 1000:8.2f}ms {r['max'] * 1000:8.2f}ms")


results = load(sys.argv[1])
base = results["direct"]["mean"]
sudo = results["sudo"]["mean"] - base
# The target is on means. Medians beside them show how much of a mean a few slow runs make: a run
# whose fsync the disk held for 100 ms or more moves jitexec's mean, and sudo does not fsync.
median_base = results["direct"]["median"]
median_sudo = results["sudo"]["median"] - median_base
table(results, base)
for name in [n for n in results if n.startswith("jitexec") and n not in ("jitexec-start", "jitexec-decide")]:
    print(f"{name}/sudo overhead ratio: {(results[name]['mean'] - base) / sudo:.2f} (target: at most 0.75)")
    print(f"  on medians: {(results[name]['median'] - median_base) / median_sudo:.2f};"
          f" slowest run {results[name]['max'] * 1000:.1f} ms")

if len(sys.argv) > 2:
    floor = load(sys.argv[2])
    fbase = floor["direct"]["mean"]
    ms = lambda seconds: seconds * 1000

    def over(name, minus="direct"):
        return floor[name]["mean"] - floor[minus]["mean"]

    def show(pieces):
        for what, seconds in pieces.items():
            print(f"  {what:58} {ms(seconds):6.2f}ms")
        return sum(pieces.values())

    print()
    print("floor (as root, same terminal session):")
    table(floor, fbase)
    if "pq-connect" in floor:
        # The fleet store's own pieces (bench/fleet.sh): what any run on it pays before its first
        # statement, libpq loaded as jitexec loads it.
        total = show({
            "libpq and the libraries it needs, loaded (dlopen)": over("pq-load", "c-process"),
            "a connection: TCP, the server's new backend, SCRAM": over("pq-connect", "pq-load"),
            "a first statement on it (SELECT 1)": over("pq-query", "pq-connect"),
        })
        print(f"  {'the three together':58} {ms(total):6.2f}ms = {total / sudo:.2f} x sudo's overhead")
    else:
        total = show({
            "Swift start (static runtime over a C process)": over("swift-start", "c-process"),
            "a process of its own (C, over /usr/bin/true)": over("c-process"),
            "PAM account + session (pamtester, less its own process)": over("pam-account-session", "c-process"),
            "one fsync": over("fsync", "c-process"),
            "fork/exec and wait of the command": over("fork-exec", "c-process"),
            "a pty for it": over("pty-fork-exec", "fork-exec"),
        })
        print(f"  {'the floor: all of the above':58} {ms(total):6.2f}ms = {total / sudo:.2f} x sudo's overhead")
    runs = [n for n in results if n.startswith("jitexec-") and n not in ("jitexec-start", "jitexec-decide")]
    if runs and "jitexec-start" in results and "jitexec-decide" in results:
        name = runs[0]
        run = results[name]["mean"] - base
        start = results["jitexec-start"]["mean"] - base
        decide = results["jitexec-decide"]["mean"] - results["jitexec-start"]["mean"]
        rest = results[name]["mean"] - results["jitexec-decide"]["mean"]
        print(f"jitexec's phases ({name}, same run as sudo):")
        print(f"  {'start-up to main (jitexec -V over /usr/bin/true)':58} {ms(start):6.2f}ms")
        print(f"  {'policy, identity, store, grant lookup (-l over -V)':58} {ms(decide):6.2f}ms")
        # A run opens the store beside PAM (on a thread of its own); -l opens it before anything.
        print(f"  {'PAM, exec.start, pty, the command, exec.end (run over -l)':58} {ms(rest):6.2f}ms")
        beyond = "jitexec over the three" if "pq-connect" in floor else "jitexec over the floor"
        print(f"  {beyond:58} {ms(run - total):6.2f}ms")
