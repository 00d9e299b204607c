"""Raw timing values kept locally so latency percentiles can be computed (moto's CloudWatch has none).

CloudWatch computes ``p50``/``p99`` from every value it received; moto stores the values but answers no
percentile statistic. So the local metrics publisher keeps, per series and per :data:`BUCKET_S`-second
bucket, the count of values and a uniform reservoir sample of at most :data:`RESERVOIR` of them, for the
last :data:`RETENTION_S` seconds. A percentile over a span is the weighted percentile of the samples of
the buckets that start in it (each sample stands for ``count / len(sample)`` values): exact while a
bucket holds at most :data:`RESERVOIR` values, and placed in time to within :data:`BUCKET_S` seconds. The store is saved as one JSON file in the run folder so that other processes
(``movierec monitor``) read the same figures as the in-process alarm evaluator.
"""

from __future__ import annotations

import json
import os
import random
import threading
from collections import defaultdict
from pathlib import Path

BUCKET_S = 10
RESERVOIR = 200
RETENTION_S = 2 * 3600
FILE_NAME = "percentiles.json"

#: (namespace, metric name, ((dimension, value), ...)) -- the identity of a CloudWatch series.
SeriesKey = tuple[str, str, tuple[tuple[str, str], ...]]


def series_key(namespace: str, metric: str, dimensions: dict[str, str]) -> SeriesKey:
    return namespace, metric, tuple(sorted(dimensions.items()))


def _encode(key: SeriesKey) -> str:
    return json.dumps([key[0], key[1], [list(d) for d in key[2]]])


def _decode(text: str) -> SeriesKey:
    ns, metric, dims = json.loads(text)
    return ns, metric, tuple((k, v) for k, v in dims)


class _Bucket:
    __slots__ = ("count", "sample")

    def __init__(self, count: int = 0, sample: list[float] | None = None) -> None:
        self.count = count
        self.sample = sample if sample is not None else []

    def add(self, value: float, rng: random.Random) -> None:
        self.count += 1
        if len(self.sample) < RESERVOIR:
            self.sample.append(value)
        else:
            slot = rng.randrange(self.count)
            if slot < RESERVOIR:
                self.sample[slot] = value


class PercentileStore:
    """Per-series, per-bucket reservoirs of raw values; thread-safe."""

    def __init__(self, path: Path | None = None, seed: int = 0) -> None:
        self.path = path
        self._buckets: dict[SeriesKey, dict[int, _Bucket]] = defaultdict(dict)
        self._lock = threading.Lock()
        self._rng = random.Random(seed)

    @classmethod
    def in_run_dir(cls, run_dir: Path) -> "PercentileStore":
        """The store of the local stack whose run folder is ``run_dir``, loaded if it was saved before."""
        store = cls(run_dir / "metrics" / FILE_NAME)
        store.load()
        return store

    def add(self, key: SeriesKey, timestamp_s: float, value: float) -> None:
        bucket = int(timestamp_s // BUCKET_S)
        with self._lock:
            self._buckets[key].setdefault(bucket, _Bucket()).add(value, self._rng)

    def percentile(self, key: SeriesKey, q: float, start_s: float, end_s: float) -> tuple[float, int] | None:
        """(q-th percentile, value count) of the buckets starting in [start_s, end_s); None if none."""
        with self._lock:
            buckets = [
                m for t, m in self._buckets.get(key, {}).items() if start_s <= t * BUCKET_S < end_s and m.sample
            ]
            weighted = sorted((v, m.count / len(m.sample)) for m in buckets for v in m.sample)
            count = sum(m.count for m in buckets)
        if not weighted:
            return None
        target = q / 100.0 * sum(w for _, w in weighted)
        running = 0.0
        for value, weight in weighted:
            running += weight
            if running >= target:
                return value, count
        return weighted[-1][0], count

    def prune(self, now_s: float) -> None:
        oldest = int((now_s - RETENTION_S) // BUCKET_S)
        with self._lock:
            for buckets in self._buckets.values():
                for t in [t for t in buckets if t < oldest]:
                    del buckets[t]

    def save(self) -> None:
        """Write the store atomically (write then rename), so a reader never sees half a file."""
        if self.path is None:
            return
        with self._lock:
            data = {
                _encode(k): {str(t): [m.count, m.sample] for t, m in buckets.items()}
                for k, buckets in self._buckets.items()
                if buckets
            }
            text = json.dumps(data, separators=(",", ":"))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, self.path)

    def load(self) -> bool:
        """Replace the contents by the saved file; False when there is none."""
        if self.path is None or not self.path.exists():
            return False
        data = json.loads(self.path.read_text() or "{}")
        with self._lock:
            self._buckets = defaultdict(dict)
            for k, buckets in data.items():
                self._buckets[_decode(k)] = {int(t): _Bucket(c, list(s)) for t, (c, s) in buckets.items()}
        return True

    def has_data(self) -> bool:
        with self._lock:
            return any(self._buckets.values())
