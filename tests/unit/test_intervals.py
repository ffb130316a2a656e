"""Intervals (packed) behaves exactly like the tuple of (start, end) tuples it stands for."""

from __future__ import annotations

import bisect
import random

import pytest

from op25b.addresses import merge
from op25b.intervals import Intervals

TOP = {"ipv4": (1 << 32) - 1, "ipv6": (1 << 128) - 1}


def sample(family: str, seed: int, count: int) -> list[tuple[int, int]]:
    rng = random.Random(seed)
    top = TOP[family]
    raw = []
    for _ in range(count):
        start = rng.choice([0, top, rng.randrange(top)])
        raw.append((start, min(top, start + rng.randrange(1 << 20))))
    return merge(raw)


@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
@pytest.mark.parametrize("seed", range(20))
def test_packed_reads_like_the_tuple(family, seed):
    plain = tuple(sample(family, seed, seed * 7))
    packed = Intervals.pack(family, plain)
    assert len(packed) == len(plain) and bool(packed) == bool(plain)
    assert list(packed) == list(plain) and list(reversed(packed)) == list(reversed(plain))
    assert packed == plain and plain == packed and packed == list(plain)
    assert packed == Intervals.pack(family, plain) and hash(packed) == hash(plain)
    for i in range(-len(plain), len(plain)):
        assert packed[i] == plain[i]
    for low, high in [(0, 3), (2, -1), (len(plain) // 2, len(plain)), (5, 2)]:
        assert packed[low:high] == plain[low:high]
    assert packed[::2] == plain[::2]
    for probe in [0, TOP[family], *(random.Random(seed).randrange(TOP[family]) for _ in range(20))]:
        key = (probe, 1 << 129)
        assert bisect.bisect_right(packed, key) == bisect.bisect_right(plain, key)
    with pytest.raises(IndexError):
        packed[len(plain)]


def test_a_changed_record_breaks_equality_and_common_ends_find_it():
    plain = [(i << 80, (i << 80) + 5) for i in range(500)]
    changed = list(plain)
    changed[200] = (changed[200][0], changed[200][1] - 1)
    a, b = Intervals.pack("ipv6", plain), Intervals.pack("ipv6", changed)
    assert a != b and a != changed[:-1] and Intervals.pack("ipv4", []) == ()
    assert a.common_ends(b) == (200, len(plain) - 201)
    assert a.common_ends(a) == (len(plain), 0)
    shorter = Intervals.pack("ipv6", plain[:-1])
    assert a.common_ends(shorter) == (len(plain) - 1, 0)


@pytest.mark.parametrize("seed", range(200))
def test_first_overlap_matches_brute_force(seed):
    from op25b.intervals import first_overlap

    rng = random.Random(seed)
    family = rng.choice(["ipv4", "ipv6"])
    sets = [merge((s := rng.randrange(200), s + rng.randrange(6)) for _ in range(rng.randrange(8)))
            for _ in range(rng.randrange(1, 4))]
    union = sorted(i for one in sets for i in one)
    expected = next(((b[0], min(a[1], b[1])) for a, b in zip(union, union[1:], strict=False) if b[0] <= a[1]), None)
    assert first_overlap([Intervals.pack(family, one) for one in sets]) == expected
