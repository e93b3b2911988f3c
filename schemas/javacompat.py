"""Java behaviours that show in Debezium's output and that Python has to reproduce: HashMap iteration order.

Debezium serializes some ``java.util.HashMap`` objects as they are (hstore values through pgjdbc, the per-table
counts of transaction END events), so their JSON order is the map's bucket order. Nothing here runs per row.
"""

from __future__ import annotations


def java_string_hash(text: str) -> int:
    """java.lang.String.hashCode(): 31-polynomial over UTF-16 code units, as an unsigned 32-bit value."""
    h = 0
    data = text.encode("utf-16-be")
    for i in range(0, len(data), 2):
        h = (31 * h + (data[i] << 8 | data[i + 1])) & 0xFFFFFFFF
    return h


def java_hashmap_order(keys: list[str]) -> list[str]:
    """``keys`` in the iteration order of a java.util.HashMap they were put into in this order.

    Buckets are (hash ^ hash >>> 16) & (capacity - 1), insertion order within a bucket; the capacity starts at 16
    and doubles whenever the size passes 3/4 of it (resizing keeps the relative order within a bucket).
    """
    capacity = 16
    while len(keys) > capacity * 3 // 4:
        capacity *= 2
    buckets: dict[int, list[str]] = {}
    for key in keys:
        h = java_string_hash(key)
        h ^= h >> 16
        buckets.setdefault(h & (capacity - 1), []).append(key)
    return [key for index in sorted(buckets) for key in buckets[index]]
