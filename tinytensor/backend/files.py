"""Checkpoint files: named arrays in a NumPy .npz archive, never pickles."""
from __future__ import annotations

import numpy


def write_npz(file: Any, arrays: dict[str, numpy.ndarray]) -> None:
    """Write ``arrays`` into the open binary ``file`` as an uncompressed .npz archive."""
    numpy.savez(file, **arrays)


def read_npz(file: Any) -> dict[str, numpy.ndarray]:
    """Every array of the .npz archive in ``file``; refuses pickled objects (they can run code)."""
    loaded = numpy.load(file, allow_pickle=False)
    if not isinstance(loaded, numpy.lib.npyio.NpzFile):
        raise ValueError("it holds a single array (.npy), not an .npz archive")
    with loaded as archive:
        return {name: archive[name] for name in archive.files}
