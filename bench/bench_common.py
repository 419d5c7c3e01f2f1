"""What the Python benchmarks (run_api_bench.py, run_dispatch_bench.py, run_webhook_bench.py)
share: their command line (BUILD_DIR OUT_DIR), the binaries the integration harness starts, and
percentiles."""
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def setup(name):
    """Reads BUILD_DIR and OUT_DIR (default build/release and BUILD_DIR/bench-results/`name`),
    points the integration harness at that build's wagate and wasim and makes it importable.
    Returns (build, out); `out` exists."""
    sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "build", "release"))
    out = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else os.path.join(build, "bench-results", name))
    os.environ["WA_WAGATE_BIN"] = os.path.join(build, "src", "bin", "wagate")
    os.environ["WA_WASIM_BIN"] = os.path.join(build, "src", "bin", "wasim")
    os.makedirs(out, exist_ok=True)
    return build, out


def percentile(values, p):
    """The nearest-rank percentile; NaN for no values."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def stats(values):
    return {"p50": percentile(values, 50), "p99": percentile(values, 99),
            "max": max(values, default=float("nan")), "n": len(values)}
