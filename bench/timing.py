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
