"""``cupy.random`` of the stand-in: ``default_rng`` and the Generator methods CuPy 14 has.

What CuPy 14's ``cupy.random.Generator`` offers (cupy/random/_generator_api.pyx,
v14.2.0) and tinytensor uses: ``random`` (float64, else float32 then cast),
``standard_normal`` (float32 and float64 only) and ``integers``. It has no
``permutation``, ``shuffle`` or ``choice``, so neither has this one.

The bit generator keeps its whole state in ``bit_generator._state``, a device
array of bytes (CuPy's XORWOW keeps its cuRAND states there), read and written
back by every draw; copying that array out and back in is the only way to save
and restore a CuPy generator (cupy/cupy#5430). The numbers come from NumPy's
PCG64 on a stream of their own, never the one ``numpy.random.default_rng(seed)``
gives, because CuPy's numbers differ from NumPy's for the same seed too.
"""
from __future__ import annotations

from typing import Any

import numpy

from . import core, cuda

_STREAM = (0xC0DA,)  # the spawn key that keeps the stand-in's numbers apart from NumPy's
_PACKED = 40         # bytes of state: PCG64's 128-bit state and increment, then has_uint32, uinteger


class XORWOW:
    """The bit generator: its state lives on the device that was current when it was made."""

    def __init__(self, seed: Any = None) -> None:
        self._current_device_id = cuda.get_device_id()
        bits = numpy.random.PCG64(numpy.random.SeedSequence(seed, spawn_key=_STREAM))
        self._state = core.new(_pack(bits.state))

    def _check_device(self) -> None:
        if cuda.get_device_id() != self._current_device_id:
            raise RuntimeError("This Generator state is allocated in a different device")

    def _draw(self, draw: Any) -> numpy.ndarray:
        """Run ``draw(numpy_generator)`` from the state on the device, and store the new state there."""
        self._check_device()
        bits = numpy.random.PCG64()
        bits.state = _unpack(self._state._array)
        values = draw(numpy.random.Generator(bits))
        self._state._array[...] = _pack(bits.state)
        return numpy.asarray(values)


def _pack(state: dict[str, Any]) -> numpy.ndarray:
    inner = state["state"]
    raw = (inner["state"].to_bytes(16, "little") + inner["inc"].to_bytes(16, "little")
           + state["has_uint32"].to_bytes(4, "little") + state["uinteger"].to_bytes(4, "little"))
    return numpy.frombuffer(raw, dtype=numpy.int8).copy()


def _unpack(packed: numpy.ndarray) -> dict[str, Any]:
    if packed.shape != (_PACKED,):
        raise ValueError(f"a stand-in generator state has {_PACKED} bytes, got shape {packed.shape}")
    raw = packed.tobytes()

    def number(start: int, end: int) -> int:
        return int.from_bytes(raw[start:end], "little")

    return {"bit_generator": "PCG64", "state": {"state": number(0, 16), "inc": number(16, 32)},
            "has_uint32": number(32, 36), "uinteger": number(36, 40)}


class Generator:
    def __init__(self, bit_generator: XORWOW) -> None:
        self.bit_generator = bit_generator

    def random(self, size: Any = None, dtype: Any = numpy.float64) -> core.ndarray:
        dtype = numpy.dtype(dtype)
        sampled = numpy.float64 if dtype.char == "d" else numpy.float32
        values = self.bit_generator._draw(lambda rng: rng.random(size, dtype=sampled))
        return core.new(values.astype(dtype, copy=False))

    def standard_normal(self, size: Any = None, dtype: Any = numpy.float64) -> core.ndarray:
        dtype = numpy.dtype(dtype)
        if dtype.char not in "fd":
            raise TypeError(f"Unsupported dtype {dtype.name} for standard_normal")
        return core.new(self.bit_generator._draw(lambda rng: rng.standard_normal(size, dtype=dtype)))

    def integers(self, low: int, high: int | None = None, size: Any = None, dtype: Any = numpy.int64,
                 endpoint: bool = False) -> core.ndarray:
        low, high = (0, int(low)) if high is None else (int(low), int(high))
        if low > high - (0 if endpoint else 1):
            raise ValueError("low >= high")
        return core.new(self.bit_generator._draw(
            lambda rng: rng.integers(low, high, size, dtype=dtype, endpoint=endpoint)))


def default_rng(seed: Any = None) -> Generator:
    """A Generator with the default bit generator, on the current device."""
    return Generator(XORWOW(seed))
