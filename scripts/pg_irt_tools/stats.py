"""The benchmark's statistics of its repeated runs, read from stdin one number per line:

    python3 -m pg_irt_tools.stats median          # the middle value (the mean of the two for an even count)
    python3 -m pg_irt_tools.stats quantile 0.9    # the value at rank round(q (n - 1)) + 1
"""
import sys


def median(values):
    v = sorted(values)
    if not v:
        raise ValueError("the median of no values")
    mid = len(v) // 2
    return v[mid] if len(v) % 2 else (v[mid - 1] + v[mid]) / 2


def quantile(values, q):
    """The order statistic nearest to q: rank floor(q (n − 1) + 1.5), within 1 … n."""
    v = sorted(values)
    if not v or not 0 <= q <= 1:
        raise ValueError(f"quantile {q} of {len(v)} values")
    rank = min(int(q * (len(v) - 1) + 1.5), len(v))
    return v[rank - 1]


def main(argv):
    values = [float(line) for line in sys.stdin if line.strip()]
    if argv == ["median"]:
        print(f"{median(values):.10g}")
    elif len(argv) == 2 and argv[0] == "quantile":
        print(f"{quantile(values, float(argv[1])):.10g}")
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
