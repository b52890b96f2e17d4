"""The simulator's blocks rendered together: the same draws and bytes as each block alone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taxi_stream.sources import simulator
from taxi_stream.sources.simdraw import BlockDraws
from taxi_stream.sources.simulator import BLOCK_SIZE, Simulator, SimulatorConfig

SIZE = 5  # trips a block in the draw tests


def generators(seed: int, blocks: int) -> list[np.random.Generator]:
    """Fresh generators of ``blocks`` blocks, seeded as the simulator seeds them."""
    return [
        np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(b,))))
        for b in range(blocks)
    ]


CALLS: list[Callable[[Any, int], Any]] = [
    lambda g, n: g.random(n),
    lambda g, n: g.standard_normal(n),
    lambda g, n: g.lognormal(0.5, 0.9, n),
    lambda g, n: g.uniform(0.85, 1.15, n),
    lambda g, n: g.integers(1, 30, size=n, endpoint=True),
    lambda g, n: g.integers(12, size=n),
]


@given(st.integers(0, 2**32), st.integers(1, 6), st.lists(st.sampled_from(CALLS), max_size=12))
def test_block_draws_are_each_generators_own_draws_joined_in_block_order(
    seed: int, blocks: int, calls: list[Callable[[Any, int], Any]]
) -> None:
    """Any sequence of draws over several blocks gives each block what its generator gives alone."""
    together = BlockDraws(generators(seed, blocks), SIZE)
    alone = generators(seed, blocks)
    for call in calls:
        got = call(together, SIZE * blocks)
        expected = np.concatenate([call(generator, SIZE) for generator in alone])
        assert got.dtype == expected.dtype
        assert got.tolist() == expected.tolist()


def test_block_draws_refuse_a_size_that_is_not_one_draw_a_trip_of_every_block() -> None:
    """A draw of another size than blocks x size is an error, not draws cut at random."""
    with pytest.raises(ValueError, match="7 draws for 2 blocks of 5"):
        BlockDraws(generators(1, 2), SIZE).random(7)


configs = st.builds(
    SimulatorConfig,
    seed=st.integers(0, 2**64 - 1),
    vendors=st.sampled_from([("1", "2"), ("1", "2", "CMT"), ("v\u00e9", "007", "9"), ("x",)]),
    start_ms=st.sampled_from([0, 951_782_399_000, 1_730_419_200_000])
    | st.integers(0, 250_000_000_000_000),
    trips_per_second=st.sampled_from([None, 0.001, 3.0, 250.0, 1e6]),
    malformed_fraction=st.sampled_from([0.0, 0.05, 1.0]),
    out_of_order_fraction=st.sampled_from([0.0, 0.1, 0.5]),
    max_out_of_order_s=st.just(20),
    late_fraction=st.sampled_from([0.0, 0.05, 0.5]),
    late_by_s=st.just(300),
)


@settings(max_examples=12, deadline=None)
@given(configs, st.lists(st.integers(1, 3 * BLOCK_SIZE), min_size=1, max_size=4))
def test_blocks_rendered_together_give_the_records_of_blocks_rendered_one_by_one(
    sim: SimulatorConfig, sizes: list[int]
) -> None:
    """Any config, pulled in any sizes over two renders: records, faults and late trips match."""
    n = 2 * simulator.RENDER_BLOCKS * BLOCK_SIZE + 3
    sizes = [*sizes, n - sum(sizes)] if sum(sizes) < n else sizes
    together = Simulator(sim).batch(n)
    with mock.patch.object(simulator, "RENDER_BLOCKS", 1):
        one_by_one = Simulator(sim)
        parts = [one_by_one.batch(size) for size in sizes]
    keys = [key for part in parts for key in part.keys]
    payloads = [data for part in parts for data in part.payloads]
    assert (together.keys, together.payloads) == (keys[:n], payloads[:n])
    offsets = np.cumsum([0, *(len(part.keys) for part in parts)])
    malformed = {
        int(at) + i: r
        for at, p in zip(offsets[:-1], parts, strict=True)
        for i, r in p.malformed.items()
    }
    late = [int(at) + i for at, part in zip(offsets[:-1], parts, strict=True) for i in part.late]
    assert together.malformed == {i: r for i, r in malformed.items() if i < n}
    assert together.late == [i for i in late if i < n]
