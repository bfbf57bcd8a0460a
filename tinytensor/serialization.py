"""Checkpoints: ``tinytensor.save(obj, path)`` and ``tinytensor.load(path)``.

``obj`` is nested dicts, lists and tuples of tensors, numbers, strings, bools
and None: typically

    {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
     "scheduler": scheduler.state_dict(), "step": 1200, "config": {...}}

The file is a NumPy ``.npz`` archive (a zip of ``.npy`` arrays). Each tensor is
one entry, "0", "1", ..., with its exact dtype and bits. The nesting is one
more entry, ``__structure__``: UTF-8 JSON stored as a uint8 array, in which a
tensor appears as ``{"tensor": "3", "device": "cpu"}``. Since JSON has only
lists and string-keyed objects, tuples and dicts are tagged too:
``{"tuple": [...]}`` and ``{"dict": [[key, value], ...]}`` (an optimizer's
state is keyed by int). A tensor saved twice (tied weights) is stored once and
comes back as one tensor.

Why not pickle, as torch.save does: unpickling a file can run any code in it,
so loading a checkpoint from the internet would be as dangerous as running a
script from it. Here arrays are read with ``allow_pickle=False`` and the rest
is JSON: loading only ever makes data.

Why the temporary file: ``save`` writes next to ``path``, flushes it to the
disk (fsync), then renames it over ``path`` in one step (``os.replace``). A
crash in the middle of saving leaves the previous checkpoint whole, never a
half-written one.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
from typing import Any

from . import backend
from .backend import Device
from .tensor import Tensor

STRUCTURE = "__structure__"
FORMAT = "tinytensor checkpoint"
VERSION = 1


def save(obj: Any, path: "str | os.PathLike[str]") -> None:
    """Write ``obj`` to ``path`` atomically: the file is either the old one or the new one."""
    arrays: dict[str, Any] = {}
    structure = {"format": FORMAT, "version": VERSION, "object": _encode(obj, arrays, {}, "obj")}
    text = json.dumps(structure).encode("utf-8")
    arrays[STRUCTURE] = backend.as_array(memoryview(text), dtype="uint8")  # the bytes as an array
    _write_atomically(path, arrays)


def load(path: "str | os.PathLike[str]", map_location: "str | Device | dict | None" = None,
         weights_only: bool | None = None) -> Any:
    """Read what ``save`` wrote. Tensors go to ``map_location`` ("cpu", "cuda"..., or a dict from
    the device saved to the device wanted, {"cuda:0": "cpu"}), else back to where they were saved.

    ``weights_only`` is PyTorch's switch between a safe load and unpickling any object. A
    tinytensor checkpoint holds no pickle, only data, so every load is the safe one, whatever it says.
    """
    device = _placement(map_location)
    with open(path, "rb") as file:  # outside the try: a missing file is not a corrupted one
        try:
            return _read(file, device)
        except KeyError as missing:
            raise _corrupted(path, f"it has no entry {missing}") from None
        except (ValueError, TypeError, AttributeError, EOFError, OSError, NotImplementedError,
                zipfile.BadZipFile) as error:  # what zipfile, NumPy and json raise on bad bytes
            raise _corrupted(path, _reason(error)) from None


def _placement(map_location: Any) -> "Device | dict[Device, Device] | None":
    if map_location is None or isinstance(map_location, (str, Device)):
        return None if map_location is None else Device(map_location)
    if isinstance(map_location, dict):
        return {Device(saved): Device(wanted) for saved, wanted in map_location.items()}
    raise TypeError(f"load: map_location must be a device ('cpu', 'cuda:0') or a dict from saved device "
                    f"to device, got {type(map_location).__name__}")


def _write_atomically(path: "str | os.PathLike[str]", arrays: dict[str, Any]) -> None:
    """Write a temporary file beside ``path``, force it to the disk, then rename it over ``path``.

    The rename is atomic (on one file system), so a reader, or a run that
    crashed, sees the whole old file or the whole new one.
    """
    directory, name = os.path.split(os.path.abspath(path))
    descriptor, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(descriptor, "wb") as file:
            backend.write_npz(file, arrays)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes it private; a checkpoint need not be
        os.replace(temporary, path)
    except BaseException:  # KeyboardInterrupt too: never leave a half-written temporary behind
        os.unlink(temporary)
        raise


def _umask() -> int:
    """The process's umask (reading it means setting it, so set it straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _read(file: Any, device: "Device | dict | None") -> Any:
    arrays = backend.read_npz(file)
    structure = json.loads(arrays.pop(STRUCTURE).tobytes().decode("utf-8"))
    if structure.get("format") != FORMAT:
        raise ValueError(f"its {STRUCTURE} entry does not describe a tinytensor checkpoint")
    if structure["version"] != VERSION:
        raise ValueError(f"it is format version {structure['version']}; this tinytensor "
                         f"reads version {VERSION}")
    return _decode(structure["object"], arrays, device, {})


def _corrupted(path: "str | os.PathLike[str]", reason: str) -> ValueError:
    return ValueError(f"not a tinytensor checkpoint or corrupted: {os.fspath(path)}: {reason}")


def _reason(error: Exception) -> str:
    if "allow_pickle" in str(error):
        return ("it is not an .npz archive of plain arrays (NumPy would have to unpickle it, "
                "which can run code, so it is refused)")
    return f"{type(error).__name__}: {error}"


def _encode(obj: Any, arrays: dict[str, Any], seen: dict[int, str], where: str) -> Any:
    """JSON for ``obj``; tensors go into ``arrays`` (once each, by identity, in ``seen``)."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, Tensor):
        if id(obj) not in seen:
            array = obj.numpy()
            if array.dtype.hasobject:
                raise TypeError(f"save: the tensor at {where} holds Python objects; only numeric "
                                f"tensors can be saved")
            seen[id(obj)] = str(len(arrays))
            arrays[seen[id(obj)]] = array
        entry = {"tensor": seen[id(obj)], "device": str(obj.device)}
        return {**entry, "requires_grad": True} if obj.requires_grad else entry
    if isinstance(obj, (list, tuple)):
        items = [_encode(item, arrays, seen, f"{where}[{i}]") for i, item in enumerate(obj)]
        return items if isinstance(obj, list) else {"tuple": items}
    if isinstance(obj, dict):
        return {"dict": [[_encode(key, arrays, seen, f"{where} key {key!r}"),
                          _encode(value, arrays, seen, f"{where}[{key!r}]")] for key, value in obj.items()]}
    raise TypeError(f"save: cannot save the {type(obj).__name__} at {where}; a checkpoint holds "
                    f"tensors, numbers, strings, bools, None, and lists, tuples and dicts of them")


def _decode(node: Any, arrays: dict[str, Any], device: "Device | dict | None",
            made: dict[str, Tensor]) -> Any:
    """The object ``node`` describes; ``made`` keeps one Tensor per stored array."""
    if isinstance(node, list):
        return [_decode(item, arrays, device, made) for item in node]
    if not isinstance(node, dict):
        return node
    if "tuple" in node:
        return tuple(_decode(item, arrays, device, made) for item in node["tuple"])
    if "dict" in node:
        return {_decode(key, arrays, device, made): _decode(value, arrays, device, made)
                for key, value in node["dict"]}
    key = node["tensor"]
    if key not in made:
        saved = Device(node["device"])
        target = device.get(saved, saved) if isinstance(device, dict) else device or saved
        if target.type == "cuda" and not backend.cuda_is_available():
            raise RuntimeError(f"load: a tensor was saved on {target}, but this machine has no usable "
                               f"GPU; load it with map_location='cpu'")
        made[key] = Tensor._make(backend.as_array(arrays[key], None, target), None)
        made[key].requires_grad_(node.get("requires_grad", False))
    return made[key]
