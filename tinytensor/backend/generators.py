"""Random numbers: one seeded generator per device, and their states for a checkpoint.

``manual_seed(s)`` seeds them all, so runs repeat bit for bit (as torch.manual_seed).
The CPU's is NumPy's ``default_rng``, each GPU's CuPy's; a generator is made from
the seed the first time its device draws. ``get_rng_state``/``set_rng_state``
carry every generator's state through a checkpoint, so a resumed run draws the
same dropout masks as the run that was saved.
"""
from __future__ import annotations

from typing import Any

import numpy

from .arrays import CPU, Device, _cupy, cuda_device_count, float32, float64, int64, on_device
from .checks import to_host

_generators: dict[Device, Any] = {}
_seed: int | None = None


def forget_gpu_generators() -> None:
    """Drop the GPU generators made so far (``use_cuda_module``: they belonged to the other module)."""
    for device in [d for d in _generators if d.type == "cuda"]:
        del _generators[device]


def manual_seed(seed: int) -> None:
    """Seed every device's generator, so runs repeat bit for bit (as torch.manual_seed)."""
    global _seed
    _seed = int(seed)
    _generators.clear()


def seed_gpu(device: Device, seed: int) -> None:
    """Restart one GPU's generator from ``seed`` (as torch.cuda.manual_seed), the others untouched.

    The same stream as ``manual_seed(seed)`` gives that GPU: a generator made from the seed.
    """
    with on_device(device):
        _generators[device] = _cupy().random.default_rng(int(seed))


def generator(device: Device) -> Any:
    """The random generator of ``device``, created from the seed on first use."""
    gen = _generators.get(device)
    if gen is None:
        if device.type == "cpu":
            gen = numpy.random.default_rng(_seed)
        else:
            with on_device(device):
                gen = _cupy().random.default_rng(_seed)
        _generators[device] = gen
    return gen


def uniform(shape: tuple[int, ...], dtype: numpy.dtype, device: Device) -> Any:
    """Samples from U[0, 1)."""
    with on_device(device):
        return generator(device).random(shape, dtype=_sampled(dtype)).astype(dtype, copy=False)


def normal(shape: tuple[int, ...], dtype: numpy.dtype, device: Device) -> Any:
    """Samples from N(0, 1)."""
    with on_device(device):
        return generator(device).standard_normal(shape, dtype=_sampled(dtype)).astype(dtype, copy=False)


def integers(low: int, high: int, shape: tuple[int, ...], device: Device) -> Any:
    """int64 samples, each of low..high-1 equally likely."""
    with on_device(device):
        return generator(device).integers(low, high, size=shape, dtype=int64)


def permutation(n: int, device: Device) -> Any:
    """0..n-1 in a random order (int64).

    CuPy's Generator has no ``permutation``: on the GPU, the order that sorts n
    random floats is the permutation (a tie, rare in float64, still gives one).
    """
    with on_device(device):
        if device.type == "cpu":
            return generator(device).permutation(n).astype(int64, copy=False)
        return generator(device).random(n).argsort().astype(int64, copy=False)


def _sampled(dtype: numpy.dtype) -> numpy.dtype:
    """The generators sample float32 and float64 only: float16 is sampled as float32, then cast."""
    if dtype.kind != "f":
        raise TypeError(f"random tensors must have a floating dtype, got {dtype}")
    return float64 if dtype == float64 else float32


def new_generator(seed: int) -> Any:
    """A CPU generator of one's own, apart from manual_seed's (as torch.Generator().manual_seed)."""
    return numpy.random.default_rng(seed)


def get_rng_state() -> dict[str, Any]:
    """Every device's generator state, as plain data to save in a checkpoint.

    ``{"seed": manual_seed's seed, "cpu": NumPy's state (str and int), "cuda:0":
    the GPU generator's state (an int8 NumPy array), ...}``, for the GPU
    generators made so far; the others will be made from the seed, as they
    would have been in the run that is saved.
    """
    state: dict[str, Any] = {"seed": _seed, "cpu": generator(CPU).bit_generator.state}
    for device, gen in _generators.items():
        if device.type == "cuda":
            with on_device(device):
                state[str(device)] = to_host(_cuda_state(gen))
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Continue every generator from a state ``get_rng_state`` returned.

    The states of GPUs this machine lacks are passed over: a GPU run resumed on
    the CPU draws from the CPU generator. A state without a "seed" is the CPU
    generator's alone, as checkpoints held it before the GPUs' were saved too.
    """
    global _seed
    if "seed" not in state:
        state = {"seed": _seed, "cpu": state}
    _seed = state["seed"]
    _generators.clear()
    for name, saved in state.items():
        if name == "seed":
            continue
        device = Device(name)
        if device.type == "cpu":
            generator(device).bit_generator.state = saved
            continue
        if device.index >= cuda_device_count():
            continue
        with on_device(device):
            current = _cuda_state(generator(device))
            if current.shape != saved.shape:
                raise ValueError(f"set_rng_state: the saved state of {device}'s generator has "
                                 f"{saved.size} bytes, this GPU's has {current.size} (another GPU "
                                 f"model?), so its numbers cannot continue; leave {name!r} out of "
                                 f"the state to start that generator from the seed")
            current[...] = _cupy().asarray(saved)


def _cuda_state(gen: Any) -> Any:
    """The device array that holds a CuPy generator's whole state, which every draw updates.

    CuPy has no public way to save a Generator (cupy/cupy#5430); its XORWOW bit
    generator keeps its cuRAND states in ``_state`` (cupy/random/_bit_generator.pyx),
    so copying that array out and back in resumes the stream exactly.
    """
    return gen.bit_generator._state
