"""Side by side, paired (bench/ab.sh): `ab.py ROUNDS PASSWORD NAME=JITEXEC...` runs, in each of
ROUNDS rounds, /usr/bin/true, `sudo -n /usr/bin/true` and `JITEXEC -n /usr/bin/true` for every named
build, once each in a new random order, and prints each one's overhead over /usr/bin/true (mean,
median, slowest), its ratio to sudo's, and for the last build against the first the paired difference: the
mean of the per-round differences with its 95% interval, and their median. A round's commands run
within a few milliseconds of each other, so the machine's drift (larger between minutes than what
one change to jitexec moves) cancels out of the pairs. Run by the bench user in a terminal session:
each build's credential cache is made fresh first (jitexec -S -v, PASSWORD on stdin).
"""
import math
import os
import random
import statistics
import subprocess
import sys
import time


def main(argv):
    rounds, password = int(argv[0]), argv[1]
    builds = dict(arg.split("=", 1) for arg in argv[2:])
    commands = {"true": ["/usr/bin/true"], "sudo": ["/usr/bin/sudo", "-n", "/usr/bin/true"]}
    for name, jitexec in builds.items():
        subprocess.run([jitexec, "-S", "-v"], input=(password + "\n").encode(), stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=True)
        commands[name] = [jitexec, "-n", "/usr/bin/true"]
    for argv_ in commands.values():  # warm the page cache and each store
        for _ in range(10):
            subprocess.run(argv_, check=True)
    times = {name: [] for name in commands}
    order = list(commands)
    for _ in range(rounds):
        random.shuffle(order)
        for name in order:
            start = time.perf_counter_ns()
            pid = os.posix_spawn(commands[name][0], commands[name], os.environ)
            _, status = os.waitpid(pid, 0)
            times[name].append((time.perf_counter_ns() - start) / 1e6)
            if status != 0:
                sys.exit(f"bench-ab: {' '.join(commands[name])} failed ({status})")
    true = times["true"]
    over = {name: [t - b for t, b in zip(times[name], true)] for name in commands if name != "true"}
    sudo = statistics.mean(over["sudo"])
    print(f"{'':18} {'overhead mean':>14} {'median':>8} {'slowest':>8} {'ratio to sudo':>14}")
    for name, values in over.items():
        mean = statistics.mean(values)
        print(f"{name:18} {mean:11.3f} ms {statistics.median(values):8.3f} {max(values):8.3f}"
              f" {mean / sudo:14.3f}")
    names = list(builds)
    if len(names) >= 2:
        first, last = names[0], names[-1]
        pairs = [a - b for a, b in zip(times[last], times[first])]
        mean = statistics.mean(pairs)
        half = 1.96 * statistics.stdev(pairs) / math.sqrt(len(pairs))
        print(f"{last} - {first}: {mean:+.3f} ms a run (95% interval {mean - half:+.3f} to {mean + half:+.3f}),"
              f" median of the pairs {statistics.median(pairs):+.3f} ms; {rounds} rounds")


if __name__ == "__main__":
    main(sys.argv[1:])
