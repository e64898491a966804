# bench/timing.py: the one timing rule of the Python benchmarks.
import statistics
import time


def median_ms(fn, repeat):
    """fn once untimed (first touches, threads starting), then the median of @repeat timed calls, in ms."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def paired_ms(ours, theirs, repeat):
    """Each function once untimed, then @repeat rounds that time one call of
    each in turn. Returns the median ms of each and the median of the
    rounds' ratios ours / theirs: a load that comes and goes on a shared
    machine then slows both sides of a round, and leaves the ratio."""
    ours()
    theirs()
    a, b, r = [], [], []
    for _ in range(repeat):
        start = time.perf_counter()
        ours()
        mid = time.perf_counter()
        theirs()
        end = time.perf_counter()
        a.append((mid - start) * 1e3)
        b.append((end - mid) * 1e3)
        r.append((mid - start) / (end - mid))
    return statistics.median(a), statistics.median(b), statistics.median(r)
