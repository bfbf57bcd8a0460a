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
half-written one. Saving to a symbolic link writes the file it points to (the
link stays a link). A save killed outright (kill -9, a power cut) leaves its
temporary file, ``.NAME.XXXXXXXX.tmp``: the next save or load of NAME removes
those of its files that no live save holds (a save holds a lock, flock, on its
temporary file until it has renamed it; on systems without flock they stay).

Why the sizes are checked before reading: an archive says how big each array
is, and NumPy allocates that much before reading it, so a file of a few hundred
bytes could ask for terabytes. ``load`` first checks every entry against the
bytes the file really holds, and refuses the file if they do not add up.
"""
from __future__ import annotations

import ast
import json
import math
import os
import re
import struct
import tempfile
import zipfile
from typing import Any, BinaryIO

try:
    import fcntl  # POSIX file locks: they tell a live save's temporary file from a killed one's
except ImportError:  # Windows: no flock, so temporary files of killed saves are left as they are
    fcntl = None

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
    _write_atomically(os.path.realpath(path), arrays)  # a link: write the file it points to


def load(path: "str | os.PathLike[str]", map_location: "str | Device | dict | None" = None,
         weights_only: bool | None = None) -> Any:
    """Read what ``save`` wrote. Tensors go to ``map_location`` ("cpu", "cuda"..., or a dict from
    the device saved to the device wanted, {"cuda:0": "cpu"}), else back to where they were saved.

    ``weights_only`` is PyTorch's switch between a safe load and unpickling any object. A
    tinytensor checkpoint holds no pickle, only data, so every load is the safe one, whatever it says.
    """
    device = _placement(map_location)
    _remove_stale_temporaries(*os.path.split(os.path.realpath(path)))
    with open(path, "rb") as file:  # outside the try: a missing file is not a corrupted one
        try:
            _check_sizes(file)
            return _read(file, device)
        except KeyError as missing:
            raise _corrupted(path, f"it has no entry {missing}") from None
        except RecursionError:
            raise _corrupted(path, "its structure nests deeper than Python's recursion limit "
                                   "(tinytensor.save never writes that)") from None
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


def _write_atomically(path: str, arrays: dict[str, Any]) -> None:
    """Write a temporary file beside ``path``, force it to the disk, then rename it over ``path``.

    The rename is atomic (on one file system), so a reader, or a run that
    crashed, sees the whole old file or the whole new one.
    """
    directory, name = os.path.split(path)
    _remove_stale_temporaries(directory, name)
    descriptor, temporary = _locked_temporary(directory, name)
    try:
        with os.fdopen(descriptor, "wb") as file:
            backend.write_npz(file, arrays)
            file.flush()
            os.fsync(file.fileno())
            os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes it private; a checkpoint need not be
            if fcntl is not None:  # rename it still locked: no cleanup ever finds it unlocked by this name
                os.replace(temporary, path)
        if fcntl is None:  # Windows renames no open file (and has no flock, so nothing to race with)
            os.replace(temporary, path)
    except BaseException:  # KeyboardInterrupt too: never leave a half-written temporary behind
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _locked_temporary(directory: str, name: str) -> tuple[int, str]:
    """A new temporary file for ``name``, locked until closed. Made again in the rare case a
    cleanup in another process removed it between its creation and the lock."""
    while True:
        descriptor, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
        if fcntl is None:
            return descriptor, temporary
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        if os.fstat(descriptor).st_nlink:  # still has its name
            return descriptor, temporary
        os.close(descriptor)


def _remove_stale_temporaries(directory: str, name: str) -> None:
    """Remove the temporary files that killed saves of ``name`` left in ``directory``: exactly
    mkstemp's names for them (``.NAME.`` + 8 random characters + ``.tmp``), and only those
    that no live save holds locked."""
    if fcntl is None:
        return
    ours = re.compile(rf"\.{re.escape(name)}\.[a-z0-9_]{{8}}\.tmp")
    try:
        entries = os.listdir(directory or ".")
    except OSError:
        return
    for entry in filter(ours.fullmatch, entries):
        path = os.path.join(directory, entry)
        try:
            descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:  # gone already, a link, or not ours to read
            continue
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError: a save is writing it
            if os.path.samestat(os.fstat(descriptor), os.stat(path)):
                os.unlink(path)
        except OSError:  # held by a live save, or a read-only folder: leave it
            pass
        finally:
            os.close(descriptor)


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


NPY_MAGIC = b"\x93NUMPY"
NPY_DTYPE = re.compile(r"[<>|=]?[biufc](\d+)")  # the dtypes tensors have: kind and size in bytes


def _check_sizes(file: BinaryIO) -> None:
    """Refuse the archive if any entry claims more bytes than the file holds, before anything
    is allocated for it: each entry must be stored uncompressed inside the file, and each
    array's header (shape and dtype) must describe exactly the bytes its entry holds."""
    size = os.fstat(file.fileno()).st_size
    if file.read(len(NPY_MAGIC)) == NPY_MAGIC:  # NumPy would allocate what its header says
        raise ValueError("it holds a single array (.npy), not an .npz archive")
    file.seek(0)
    if not zipfile.is_zipfile(file):
        file.seek(0)
        return  # not an archive at all: reading it says what it is
    with zipfile.ZipFile(file) as archive:
        for info in archive.infolist():
            where = f"its entry {info.filename}"
            if info.compress_type != zipfile.ZIP_STORED:
                raise ValueError(f"{where} is compressed; tinytensor.save stores arrays uncompressed")
            if info.file_size != info.compress_size or info.header_offset + info.compress_size > size:
                raise ValueError(f"{where} claims {info.file_size:,} bytes; the whole file has {size:,}")
            with archive.open(info) as entry:
                header, shape, itemsize = _npy_header(entry, info.file_size, where)
            if header + math.prod(shape) * itemsize != info.file_size:
                raise ValueError(f"{where} claims an array of shape {shape} ({math.prod(shape) * itemsize:,} "
                                 f"bytes) but holds {info.file_size - header:,} bytes")
    file.seek(0)


def _npy_header(entry: BinaryIO, size: int, where: str) -> tuple[int, tuple[int, ...], int]:
    """The header's length in bytes, the shape and the item size of the .npy file ``entry``."""
    start = entry.read(len(NPY_MAGIC) + 2)
    if start[:len(NPY_MAGIC)] != NPY_MAGIC or start[-2] not in (1, 2, 3):
        raise ValueError(f"{where} is not a NumPy array")
    length_format = "<H" if start[-2] == 1 else "<I"
    length = struct.unpack(length_format, entry.read(struct.calcsize(length_format)))[0]
    header = len(start) + struct.calcsize(length_format) + length
    if header > min(size, 65536):
        raise ValueError(f"{where} has a header of {length:,} bytes")
    try:
        fields = ast.literal_eval(entry.read(length).decode("utf-8" if start[-2] == 3 else "latin1"))
        shape, dtype = tuple(fields["shape"]), NPY_DTYPE.fullmatch(fields["descr"])
    except (SyntaxError, ValueError, TypeError, KeyError):
        raise ValueError(f"{where} has an unreadable array header") from None
    if "O" in str(fields["descr"]):
        raise ValueError(f"{where} holds Python objects, which NumPy would have to unpickle (that can "
                         f"run code), so it is refused")
    if dtype is None or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise ValueError(f"{where} holds an array of dtype {fields['descr']!r} and shape {shape}, "
                         f"not a tensor's")
    return header, shape, int(dtype.group(1))


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
