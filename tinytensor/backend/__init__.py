"""The backend: the one package where NumPy (CPU) and CuPy (GPU) are imported, and differ.

No other module imports NumPy or CuPy (tests/test_backend_isolation.py checks it),
so a reader who wants to port tinytensor to another array library reads this
package only. The rest of tinytensor reaches it as ``backend.<name>``; each name
lives in one of

* arrays.py: which library holds an array and on which device, making and
  moving arrays, the current GPU (``on_device``; the one "cuda" names,
  ``set_current_gpu``), scatter-add;
* checks.py: checks of values that never make the host wait for a GPU (their
  verdict waits on the device), and ``to_host``, the one way values leave a
  GPU, which reports them;
* generators.py: one seeded random generator per device, and their states for
  a checkpoint;
* files.py: arrays written to and read from a checkpoint file (.npz, no pickles);
* memory.py: the one setting that reaches outside tinytensor, glibc's malloc
  keeping freed blocks for the next array, made below, at import.

CuPy is imported lazily: ``import tinytensor`` never needs it.
"""
from __future__ import annotations

import os

from .arrays import (CPU, DEFAULT_FLOAT, Device, _cupy, arange, array_module, as_array, bool_, copy,
                     cuda_device_count, cuda_is_available, cuda_unavailable_reason, current_gpu,
                     device_of, ensure_array, eye, float16, float32, float64, full, gpu_name, int8,
                     int16, int32, int64, is_array, is_floating, linspace, ndarray, on_device,
                     python_number, resolve_dtype, same_device, scalar, scatter_add, set_current_gpu,
                     to_device, uint8, use_cuda_module, xp_of)
from .checks import check, synchronize, to_host
from .files import read_npz, write_npz
from .generators import (generator, get_rng_state, integers, manual_seed, new_generator, normal,
                         permutation, seed_gpu, set_rng_state, uniform)
from .memory import ENVIRONMENT_SWITCH, keep_freed_memory

# What importing tinytensor changes outside itself: glibc's malloc keeps freed blocks for the
# next step's arrays (memory.py says why). TINYTENSOR_KEEP_FREED_MEMORY=0 in the environment
# skips it; tinytensor.backend.keep_freed_memory(False) undoes it later.
if os.environ.get(ENVIRONMENT_SWITCH) != "0":
    keep_freed_memory()
