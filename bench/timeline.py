"""Reads `perf script` output of bench/timeline.sh (comm, pid, time, event, trace) and prints the
median of each phase of a jitexec run, from its exec to its exit, with the probes that bound them.
Events are grouped by process: the store opens on a thread of its own while PAM checks the account.
A run counts when it reached every boundary once in the expected order; the first run (the
credential refresh) never does, since it starts no command."""
import statistics
import sys

PHASES = [
    ("start-up to main", "exec", "main"),
    ("identity, policy, PAM service file (main to pam_start)", "main", "pam_start"),
    ("PAM start and account check", "pam_start", "acct_ret"),
    ("grant read, rest of the store's open (to pam_setcred)", "acct_ret", "setcred"),
    ("PAM credentials and session", "setcred", "session_ret"),
    ("exec.start committed (its last fsync returned)", "session_ret", "last_sync_ret"),
    ("pty, last grant check, start of the command", "last_sync_ret", "fork"),
    ("the command, until jitexec closes the session", "fork", "close_session"),
    ("PAM close, exec.end, exit", "close_session", "exit"),
]


def runs(lines):
    by_pid = {}
    for line in lines:
        fields = line.split()
        if len(fields) < 4:
            continue
        comm, pid, time, event = fields[0], int(fields[1]), float(fields[2].rstrip(":")), fields[3].rstrip(":")
        if comm != "jitexec":
            continue
        # perf names a return probe EVENT__return.
        by_pid.setdefault(pid, []).append((time, event.split(":", 1)[1].removesuffix("__return")))
    for events in by_pid.values():
        # Calls probed on entry and return (fdatasync, getgrouplist): [entry, return] per call.
        marks, calls, forks = {}, {"sync": [], "groups": []}, []
        for time, event in events:
            if event == "sched_process_fork":
                forks.append(time)
            elif event == "sched_process_exit":
                marks["exit"] = time
            elif event == "sched_process_exec":
                marks.setdefault("exec", time)
            elif event in calls:
                calls[event].append([time, None])
            elif (call := calls.get(event.removesuffix("_ret"))) is not None and event.endswith("_ret"):
                if call:
                    call[-1][1] = time
            else:
                marks.setdefault(event, time)
        syncs, groups = calls["sync"], calls["groups"]
        # The command's fork is the first after the session opened; the thread that opens the
        # store while PAM checks the account is created (a fork event too) before PAM starts.
        command = [t for t in forks if "session_ret" in marks and t > marks["session_ret"]]
        if not command:
            continue
        marks["fork"] = command[0]
        before = [s for s in syncs if s[1] is not None and s[1] < marks["fork"]]
        if not before or not groups or groups[0][1] is None:
            continue
        marks["last_sync_ret"] = before[-1][1]
        order = [PHASES[0][1]] + [p[2] for p in PHASES]
        if all(k in marks for k in order) and all(marks[a] <= marks[b] for a, b in zip(order, order[1:])):
            yield marks, syncs, groups


found = list(runs(open(sys.argv[1])))
if not found:
    print("timeline: no complete run was recorded")
    sys.exit(0)
ms = lambda seconds: seconds * 1000
print(f"jitexec's timeline (uprobes, median of {len(found)} runs; the probes' own cost, mostly inserting"
      " them at each exec, makes every phase, start-up most, longer than without them):")
for what, start, end in PHASES:
    print(f"  {what:58} {ms(statistics.median(m[end] - m[start] for m, _, _ in found)):6.2f}ms")
total = statistics.median(m["exit"] - m["exec"] for m, _, _ in found)
print(f"  {'exec to exit':58} {ms(total):6.2f}ms")
lookup = "of which the invoking user's group lookup (getgrouplist)"
print(f"  {lookup:58} {ms(statistics.median(g[0][1] - g[0][0] for _, _, g in found)):6.2f}ms")
synced = [sum(e - s for s, e in syncs if e is not None) for _, syncs, _ in found]
print(f"  {'of which fsync (mean a run, checkpoints included)':58} {ms(statistics.mean(synced)):6.2f}ms"
      f" in {statistics.mean(len(s) for _, s, _ in found):.2f} calls")
