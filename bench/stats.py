"""Latency samples and the figures quoted from them."""
import statistics
import time


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def summary(samples: list[float]) -> dict:
    """Median and p99 in milliseconds."""
    return {
        "n": len(samples),
        "median_ms": statistics.median(samples) * 1000,
        "p99_ms": percentile(samples, 0.99) * 1000,
    }


def interleaved(functions: dict, rounds: int, warmup: int = 20) -> dict:
    """Time each function once per round, alternating, so that drift of the
    machine (other processes, GC) falls on all of them alike."""
    return {name: summary(values) for name, values in interleaved_samples(functions, rounds, warmup).items()}


def interleaved_samples(functions: dict, rounds: int, warmup: int = 20) -> dict[str, list[float]]:
    names = list(functions)
    for i in range(warmup):
        for name in names:
            functions[name](i)
    samples = {name: [] for name in names}
    clock = time.perf_counter
    for i in range(rounds):
        order = names if i % 2 == 0 else names[::-1]
        for name in order:
            start = clock()
            functions[name](i)
            samples[name].append(clock() - start)
    return samples


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")
