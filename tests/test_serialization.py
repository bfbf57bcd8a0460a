"""Checkpoints: tinytensor.save / tinytensor.load round-trip exactly (tensors of every device, the
random state of every device), write atomically, and refuse bad files with a clear error."""
from __future__ import annotations

import io
import json
import math
import os
import struct
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import tinytensor as tt
from tinytensor import backend, optim, serialization


def checkpoint(device: str = "cpu") -> dict:
    return {
        "model": {"weight": tt.randn(3, 4, device=device), "bias": tt.zeros(4, dtype=tt.float64, device=device),
                  "half": tt.randn(5, device=device).to(tt.float16),
                  "ids": tt.arange(6, device=device).reshape(2, 3),
                  "mask": tt.tensor([True, False], device=device), "scalar": tt.tensor(2.5, device=device)},
        "optimizer": {"state": {0: {"step": 3, "exp_avg": tt.randn(3, device=device)}},
                      "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.98), "params": [0]}]},
        "step": 1200, "loss": 2.25, "nan": math.nan, "inf": -math.inf, "name": "tiny ✓",
        "flags": [True, False, None], "nested": ((1, 2), [3, (4,)]), "empty": {}, (1, "a"): "tuple key",
        "rng": tt.get_rng_state(),
    }


def assert_same(a: object, b: object) -> None:
    """Equal nested containers, tensors equal in dtype, device, requires_grad and every bit."""
    if isinstance(a, tt.Tensor):
        assert type(b) is tt.Tensor and a.dtype == b.dtype and a.device == b.device
        assert a.requires_grad == b.requires_grad and a.shape == b.shape
        assert a.numpy().tobytes() == b.numpy().tobytes()
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b)
        for key in a:
            assert_same(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b)
    else:
        assert type(a) is type(b) and a == b


def test_round_trip_is_exact(tmp_path, device):
    tt.rand(2, device=device)  # the device's generator exists: its state is in the checkpoint
    obj = checkpoint(device=device)
    tt.save(obj, tmp_path / "ckpt.npz")
    assert_same(obj, tt.load(tmp_path / "ckpt.npz"))
    assert os.listdir(tmp_path) == ["ckpt.npz"]


def test_a_tensor_saved_twice_comes_back_as_one(tmp_path, device):
    shared = tt.randn(2, requires_grad=True, device=device)
    tt.save({"embedding": shared, "output": shared}, tmp_path / "tied.npz")
    loaded = tt.load(tmp_path / "tied.npz")
    assert loaded["embedding"] is loaded["output"] and loaded["embedding"].requires_grad


def test_map_location_and_devices(tmp_path, device):
    tt.save({"w": tt.randn(3, device=device)}, tmp_path / "c.npz")
    assert tt.load(tmp_path / "c.npz")["w"].device == device
    on_cpu = tt.load(tmp_path / "c.npz", map_location="cpu")["w"]
    assert on_cpu.device == "cpu"
    assert tt.load(tmp_path / "c.npz", map_location=device)["w"].device == device
    assert on_cpu.numpy().tobytes() == tt.load(tmp_path / "c.npz")["w"].numpy().tobytes()


def test_gpu_checkpoint_without_gpu_suggests_map_location(tmp_path, monkeypatch):
    structure = {"format": serialization.FORMAT, "version": serialization.VERSION,
                 "object": {"dict": [["w", {"tensor": "0", "device": "cuda:0"}]]}}
    np.savez(tmp_path / "gpu.npz", **{"0": np.ones(2, dtype=np.float32),
                                       serialization.STRUCTURE: np.frombuffer(json.dumps(structure).encode(),
                                                                              dtype=np.uint8)})
    monkeypatch.setattr(backend, "cuda_is_available", lambda: False)
    with pytest.raises(RuntimeError, match="map_location='cpu'"):
        tt.load(tmp_path / "gpu.npz")
    assert tt.load(tmp_path / "gpu.npz", map_location="cpu")["w"].tolist() == [1.0, 1.0]


def test_model_and_optimizer_state_dicts(tmp_path, device):
    model = tt.nn.Linear(3, 2).to(device)
    opt = optim.Adam(model.parameters(), lr=0.01)
    model(tt.randn(4, 3, device=device)).sum().backward()
    opt.step()
    tt.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, tmp_path / "c.npz")
    loaded = tt.load(tmp_path / "c.npz")
    assert_same(dict(model.state_dict()), loaded["model"])
    assert_same(opt.state_dict(), loaded["optimizer"])


def test_saving_something_else_names_where_it_is(tmp_path):
    with pytest.raises(TypeError, match=r"cannot save the set at obj\['config'\]\['tags'\]"):
        tt.save({"config": {"tags": {"a"}}}, tmp_path / "c.npz")
    assert os.listdir(tmp_path) == []


def test_a_crash_while_saving_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    tt.save({"step": 1, "w": tt.ones(3)}, path)

    def crash_midway(file, arrays):
        file.write(b"PK\x03\x04 half an archive")
        raise KeyboardInterrupt  # as if the process were stopped while writing

    monkeypatch.setattr(backend, "write_npz", crash_midway)
    with pytest.raises(KeyboardInterrupt):
        tt.save({"step": 2, "w": tt.zeros(3)}, path)
    assert os.listdir(tmp_path) == ["ckpt.npz"]  # no temporary file left behind
    old = tt.load(path)
    assert old["step"] == 1 and old["w"].tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("damage", ["truncated", "garbage", "flipped byte", "plain npz", "npy",
                                    "pickled objects", "empty", "other json"])
def test_bad_files_are_refused_clearly(tmp_path, damage):
    path = tmp_path / "bad.npz"
    tt.save(checkpoint(), path)
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(bytes(range(256)) * 4)
    elif damage == "flipped byte":
        with zipfile.ZipFile(path) as archive:
            offset = archive.getinfo("0.npy").header_offset + 200  # inside the first array's data
        path.write_bytes(data[:offset] + bytes([data[offset] ^ 1]) + data[offset + 1:])
    elif damage == "plain npz":
        np.savez(path, weight=np.zeros(3))
    elif damage == "npy":
        with open(path, "wb") as file:
            np.save(file, np.zeros(3))
    elif damage == "pickled objects":
        np.savez(path, __structure__=np.zeros(3, dtype=np.uint8), weights=np.array([{"a": 1}], dtype=object))
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "other json":
        np.savez(path, __structure__=np.frombuffer(b'{"format": "other"}', dtype=np.uint8))
    with pytest.raises(ValueError, match="not a tinytensor checkpoint or corrupted: .*bad.npz") as error:
        tt.load(path)
    assert error.value.__cause__ is None and error.value.__suppress_context__
    if damage in ("garbage", "pickled objects"):
        assert "unpickle" in str(error.value)


def test_a_missing_file_is_not_called_corrupted(tmp_path):
    with pytest.raises(FileNotFoundError):
        tt.load(tmp_path / "nothing.npz")


def test_the_file_is_an_ordinary_npz_without_pickles(tmp_path):
    tt.save({"w": tt.ones(2), "step": 3}, tmp_path / "c.npz")
    with np.load(tmp_path / "c.npz", allow_pickle=False) as archive:
        assert sorted(archive.files) == ["0", serialization.STRUCTURE]
        assert archive["0"].tolist() == [1.0, 1.0]


# ----------------------------------------------------------------------------
# Nothing lost: links, temporary files of killed saves, hostile sizes and depths
# ----------------------------------------------------------------------------
def test_saving_to_a_symlink_writes_its_target_and_keeps_the_link(tmp_path):
    target, link = tmp_path / "runs" / "best.npz", tmp_path / "latest.npz"
    target.parent.mkdir()
    tt.save({"step": 1}, target)
    link.symlink_to(target)
    tt.save({"step": 2}, link)
    assert link.is_symlink() and link.resolve() == target
    assert tt.load(target)["step"] == 2 and tt.load(link)["step"] == 2
    assert sorted(os.listdir(tmp_path)) == ["latest.npz", "runs"] and os.listdir(target.parent) == ["best.npz"]


def leftover(directory, name: str = "ckpt.npz", random: str = "k9_x2a7q") -> "os.PathLike[str]":
    """A temporary file of ours as a save killed with SIGKILL leaves it: named as save names it."""
    path = directory / f".{name}.{random}.tmp"
    path.write_bytes(b"PK\x03\x04 half an archive")
    return path


def test_saving_to_a_directory_says_so_before_writing_anything(tmp_path):
    """It once wrote the whole checkpoint beside the folder, then failed at the rename,
    naming the temporary file."""
    with pytest.raises(IsADirectoryError, match=rf"save: {tmp_path} is a directory; give the file to "
                                                rf"write, e.g. {tmp_path}/checkpoint.pt"):
        tt.save({"w": tt.ones(2)}, tmp_path)
    assert not [n for n in os.listdir(tmp_path.parent) if n.startswith(".") and n.endswith(".tmp")]


def test_temporary_files_of_killed_saves_are_removed_by_the_next_save_or_load(tmp_path):
    path = tmp_path / "ckpt.npz"
    tt.save({"step": 1}, path)
    stale = [leftover(tmp_path), leftover(tmp_path, random="abcd1234")]
    not_ours = [tmp_path / ".ckpt.npz.tmp", tmp_path / ".ckpt.npz.abc.tmp", tmp_path / "ckpt.npz.abcd1234.tmp",
                tmp_path / ".other.npz.abcd1234.tmp", tmp_path / ".ckpt.npz.abcd1234.tmp.bak"]
    for file in not_ours:
        file.write_bytes(b"someone else's")
    tt.save({"step": 2}, path)
    assert not any(file.exists() for file in stale)
    assert all(file.read_bytes() == b"someone else's" for file in not_ours)
    stale = leftover(tmp_path)
    assert tt.load(path)["step"] == 2 and not stale.exists()


def test_a_temporary_file_of_a_save_in_progress_elsewhere_is_left_alone(tmp_path):
    """A save holds a lock (flock) on its temporary file until it is renamed; another process's
    cleanup removes only the files no one holds: those of saves that were killed."""
    pytest.importorskip("fcntl", reason="flock is POSIX; elsewhere temporary files are left as they are")
    path, busy = tmp_path / "ckpt.npz", leftover(tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import fcntl, sys
        file = open({str(busy)!r}, "rb")
        fcntl.flock(file, fcntl.LOCK_EX)
        print("holding", flush=True)
        sys.stdin.read()   # until the test closes our stdin
    """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "holding\n"
        tt.save({"step": 1}, path)
        assert busy.exists() and tt.load(path)["step"] == 1 and busy.exists()
    finally:
        holder.communicate("", timeout=30)
    tt.save({"step": 2}, path)
    assert not busy.exists()


def npz_with_entry(path, name: str, entry: bytes) -> None:
    """A checkpoint whose array entry ``name`` is replaced by the bytes ``entry``."""
    tt.save({"w": tt.ones(1, dtype=tt.float64)}, path)
    with zipfile.ZipFile(path) as archive:
        entries = {info.filename: archive.read(info) for info in archive.infolist()}
    entries[name] = entry
    with zipfile.ZipFile(path, "w") as archive:
        for filename, data in entries.items():
            archive.writestr(filename, data)


def npy_claiming(shape: str) -> bytes:
    """A one-float .npy file whose header claims ``shape``, padded to keep its length."""
    buffer = io.BytesIO()
    np.save(buffer, np.ones(1))
    data = buffer.getvalue()
    length = struct.unpack("<H", data[8:10])[0]
    header = data[10:10 + length].decode("latin1").replace("(1,)", shape)
    header = header.rstrip(" \n")
    header = header + " " * (length - len(header) - 1) + "\n"
    assert len(header) == length
    return data[:10] + header.encode("latin1") + data[10 + length:]


@pytest.mark.parametrize("shape", ["(1000000000000,)", "(100000, 100000, 100000)", "(1180591620717411303424,)"])
def test_a_small_file_claiming_terabytes_is_refused_before_anything_is_allocated(tmp_path, shape):
    path = tmp_path / "bomb.npz"
    npz_with_entry(path, "0.npy", npy_claiming(shape))
    assert path.stat().st_size < 2000
    with pytest.raises(ValueError, match="not a tinytensor checkpoint or corrupted: .*bomb.npz: .*0.npy"):
        tt.load(path)


def test_a_zip_entry_claiming_more_than_the_file_holds_is_refused(tmp_path):
    path = tmp_path / "bomb.npz"
    tt.save({"w": tt.ones(4)}, path)
    data = bytearray(path.read_bytes())
    central = data.index(b"PK\x01\x02")           # the archive's table of contents: 0.npy comes first
    assert data[central + 46:central + 51] == b"0.npy"
    struct.pack_into("<II", data, central + 20, 2**31, 2**31)  # its stored and real sizes: 2 GB
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="not a tinytensor checkpoint or corrupted: .*bomb.npz"):
        tt.load(path)


def test_deeply_nested_structure_is_refused_as_a_bad_checkpoint(tmp_path):
    path = tmp_path / "deep.npz"
    nested = b'{"format": "tinytensor checkpoint", "version": 1, "object": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    np.savez(path, __structure__=np.frombuffer(nested, dtype=np.uint8))
    with pytest.raises(ValueError, match="not a tinytensor checkpoint or corrupted: .*deep.npz: .*nest"):
        tt.load(path)
