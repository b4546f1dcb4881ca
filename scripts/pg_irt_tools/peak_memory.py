"""Samples a process's private memory (RssAnon) every 10 ms until told to stop (SIGTERM), then
prints the peak above the first sample, in kB.

One process reading /proc: the shell loop it replaces forked awk every 10 ms, and on a 2-core
machine that took a share of a core from the run it measured.

    python3 -m pg_irt_tools.peak_memory PID     (scripts/ on PYTHONPATH)
"""
import signal
import sys
import time


def rss_anon(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def main():
    pid = int(sys.argv[1])
    stopped = False

    def stop(*_):
        nonlocal stopped
        stopped = True

    signal.signal(signal.SIGTERM, stop)
    base = rss_anon(pid) or 0
    peak = base
    while not stopped:
        rss = rss_anon(pid)
        if rss is not None and rss > peak:
            peak = rss
        time.sleep(0.01)
    print(peak - base)


if __name__ == "__main__":
    main()
