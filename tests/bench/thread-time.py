#!/usr/bin/env python3
"""thread-time.py PID OUT — samples the scheduler's per-thread accounting of
process PID (/proc/PID/task/*/schedstat: time on a CPU, time waiting for one)
every 20 ms until SIGTERM, then writes one line per thread seen:

    TID NAME START LAST CPU_S RUNQUEUE_S

START and LAST in seconds since boot (thread start, last sample), so that
LAST - START - CPU_S - RUNQUEUE_S is the time the thread slept: for the
agent's client threads in a batch, the time it waited for the CLI's next
request.  A benchmark helper (bench-batch.sh), not a test."""
import os
import signal
import sys
import time

pid, out = sys.argv[1], sys.argv[2]
tick = os.sysconf("SC_CLK_TCK")
seen = {}
stop = False


def on_term(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)
while not stop:
    now = time.clock_gettime(time.CLOCK_BOOTTIME)
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        break
    for t in tids:
        try:
            with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                ss = f.read().split()
            with open(f"/proc/{pid}/task/{t}/stat") as f:
                st = f.read()
        except (FileNotFoundError, ProcessLookupError):
            continue
        name = st[st.index("(") + 1:st.rindex(")")]
        start = int(st.rsplit(")", 1)[1].split()[19]) / tick
        seen[t] = (name, start, now, int(ss[0]) / 1e9, int(ss[1]) / 1e9)
    time.sleep(0.02)
with open(out, "w") as f:
    for t, (name, start, last, cpu, rq) in seen.items():
        f.write(f"{t} {name} {start:.3f} {last:.3f} {cpu:.4f} {rq:.4f}\n")
