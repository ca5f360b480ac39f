"""Shared async stream helpers for Amaranth-simulator testbenches.

Every block test drives and drains ``amaranth.lib.stream`` ports through these, so
random valid gaps and random back-pressure are the default, not an afterthought.

``gap`` is the probability of idling one cycle before offering each transaction;
``stall`` is the probability of holding ``ready`` low in a given cycle.
"""

import numpy as np

__all__ = ["put", "put_all", "get", "get_all", "get_until", "put_sampled"]


def _rng(rng):
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


async def _offer(ctx, port, payload, rng, gap):
    """Idle with probability ``gap`` (repeatedly), then drive ``payload`` with ``valid``."""
    if gap:
        rng = _rng(rng)
        while rng.random() < gap:
            ctx.set(port.valid, 0)
            await ctx.tick()
    ctx.set(port.payload, payload)
    ctx.set(port.valid, 1)


async def put(ctx, port, payload, *, rng=None, gap=0.0):
    """Offer one transaction on ``port`` and return once it has been accepted."""
    await _offer(ctx, port, payload, rng, gap)
    await ctx.tick().until(port.ready)
    ctx.set(port.valid, 0)


async def put_sampled(ctx, port, payload, *, rng=None, gap=0.0):
    """Like ``put``, but waits for ``ready`` with ``tick().sample()`` instead of
    ``tick().until()``.

    A testbench stopped while it waits (e.g. a watchdog ends a hung simulation) can then be
    closed cleanly: in Amaranth 0.5 closing a coroutine suspended in ``until()`` raises
    "aclose(): asynchronous generator is already running". Unlike ``until()``, a domain
    reset during the wait is not reported.
    """
    await _offer(ctx, port, payload, rng, gap)
    while True:
        *_, ready = await ctx.tick().sample(port.ready)
        if ready:
            break
    ctx.set(port.valid, 0)


async def put_all(ctx, port, payloads, *, rng=None, gap=0.0):
    rng = _rng(rng)
    for payload in payloads:
        await put(ctx, port, payload, rng=rng, gap=gap)


async def get(ctx, port, *, rng=None, stall=0.0):
    """Wait for one transaction on ``port`` (random ``ready`` stalls) and return its payload."""
    rng = _rng(rng) if stall else None
    while True:
        ready = not (stall and rng.random() < stall)
        ctx.set(port.ready, ready)
        *_, valid, payload = await ctx.tick().sample(port.valid, port.payload)
        if ready and valid:
            ctx.set(port.ready, 0)
            return payload


async def get_all(ctx, port, count, *, rng=None, stall=0.0):
    rng = _rng(rng)
    return [await get(ctx, port, rng=rng, stall=stall) for _ in range(count)]


async def get_until(ctx, port, last, *, rng=None, stall=0.0):
    """Collect payloads up to and including the first for which ``last(payload)`` holds."""
    rng = _rng(rng)
    out = []
    while True:
        payload = await get(ctx, port, rng=rng, stall=stall)
        out.append(payload)
        if last(payload):
            return out
