"""Run a PyTorch program unchanged, with PyTorch or with tinytensor in its place.

    python tests/programs/launch.py torch        PROGRAM RUN_DIR   # record what torch drew and computed
    python tests/programs/launch.py tinytensor   PROGRAM RUN_DIR   # the same program on tinytensor
    python tests/programs/launch.py torch-replay PROGRAM RUN_DIR   # torch replaying (the harness's self-test)
    python tests/programs/launch.py serve      # torch runs on request, each in a fork (see serve)

With ``tinytensor``, tinytensor.as_torch makes ``import torch``, ``import
torch.nn as nn``, ``from torch.utils.data import DataLoader``... resolve to
tinytensor's modules of the same names (torch.X.Y is tinytensor.X.Y); the real
torch is never imported. The program's text is the same in every run.

Why a replay. Two libraries cannot share random numbers: their generators
differ. Everything else they can share: the same program on the same
starting numbers must compute the same losses, gradients and tokens. So the
torch run records, and the other runs replay, exactly three kinds of random
choice, each at a public API boundary:

* the values returned to the program's own lines by torch.rand, randn,
  randint, randperm, rand_like, randn_like, randint_like, normal, bernoulli
  and multinomial (calls made inside the library are left alone). The replaying
  library's own draw must still have the shape and dtype torch's had and be a
  possible outcome (randint in range, randperm a permutation, multinomial a
  category of nonzero probability); then the recorded values replace it;
* the indices torch.utils.data.RandomSampler yielded (DataLoader's shuffle),
  and the index lists of random_split's Subsets;
* each model's starting weights: the first time a Module is called, every
  parameter of it not seen before is compared with the one torch had at the
  same moment. Equal values (to 1e-4 of the model's largest weight: a model
  trained, saved and loaded here has drifted by float32 rounding) stay.
  Values that came from load_state_dict must be equal. Any others are a fresh
  random initialization: a constant start of two values or more (ones,
  zeros) must match exactly, and a tensor of 256 or more values must have
  torch's spread (standard deviation within a factor 1.43, mean within six
  standard errors) - this is what checks nn.init and Module.apply - and then
  takes torch's values. Parameter names, shapes and tying must match.

Dropout masks are not replayed: the programs train without dropout where
numbers are compared. Observed, for the test to compare with torch's: the
value of every tensor the program calls ``backward()`` on, and the gradient of
every synced parameter after the first such backward that follows its sync
(stdout the test reads itself). ``TT_PROGRAMS_PERTURB=1e-6`` scales every
replayed weight and float draw by (1 + 1e-6): how far a run then drifts says
whether a program is stable enough to compare two float32 libraries (each
program here drifts by at most 2e-5 of the test's 1e-4 tolerances), and the
test's check of itself uses 1e-2, which every comparison must catch.
"""
from __future__ import annotations

import importlib
import os
import pickle
import runpy
import sys
import traceback
from collections import defaultdict, deque
from typing import Any

import numpy as np

DRAWS = ("rand", "randn", "randint", "randperm", "rand_like", "randn_like", "randint_like", "normal",
         "bernoulli", "multinomial")
TAPE, OBSERVED = "tape.pkl", "observed-{mode}.pkl"


class Mismatch(AssertionError):
    """The replaying library asked for, or started from, something other than what torch did."""


# ---------------------------------------------------------------------------
# The tape: what torch drew, in order, one queue per kind
# ---------------------------------------------------------------------------
class Tape:
    def __init__(self, mode: str, run_dir: str) -> None:
        self.recording = mode == "torch"
        self.path = os.path.join(run_dir, TAPE)
        self.streams: dict[str, Any] = defaultdict(list)
        self.used: dict[str, int] = defaultdict(int)
        if not self.recording:
            with open(self.path, "rb") as file:
                self.streams = defaultdict(list, {k: deque(v) for k, v in pickle.load(file).items()})
            self.recorded = {k: len(v) for k, v in self.streams.items()}

    def record(self, stream: str, item: Any) -> None:
        self.streams[stream].append(item)

    def next(self, stream: str, what: str) -> Any:
        if not self.streams[stream]:
            raise Mismatch(f"{what}: torch's run made no more {stream} choices here "
                           f"(it made {self.used[stream]}); this run asks for another")
        self.used[stream] += 1
        return self.streams[stream].popleft()

    def leftovers(self) -> dict[str, str]:
        """Streams this run did not consume to the end (torch drew more than it did)."""
        if self.recording:
            return {}
        return {k: f"used {self.used[k]} of the {self.recorded[k]} torch recorded"
                for k, queue in self.streams.items() if queue}

    def save(self) -> None:
        if self.recording:
            with open(self.path, "wb") as file:
                pickle.dump(dict(self.streams), file)


# ---------------------------------------------------------------------------
# The launcher
# ---------------------------------------------------------------------------
class Launcher:
    def __init__(self, mode: str, program: str, run_dir: str) -> None:
        self.mode, self.program, self.run_dir = mode, os.path.abspath(program), run_dir
        self.perturb = float(os.environ.get("TT_PROGRAMS_PERTURB", "0"))
        if mode == "tinytensor":
            from tinytensor import as_torch  # noqa: PLC0415 - only this mode imports tinytensor
            as_torch.install()
        import torch  # noqa: PLC0415 - tinytensor under torch's name when the hook is in place
        self.lib = torch
        self.tape = Tape(mode, run_dir)
        self.losses: list[np.ndarray] = []
        self.grads: dict[str, Any] = {}
        self.synced_modules: dict[int, Any] = {}  # id -> module, kept alive so ids stay theirs
        self.syncs = 0
        self.synced: dict[int, tuple[str, Any]] = {}  # id(tensor) -> (name, tensor)
        self.loaded: dict[int, Any] = {}  # id -> parameter that load_state_dict wrote
        self.grads_pending = False

    # -- helpers that only use what every library here has --------------------------------
    def numpy(self, t: Any) -> np.ndarray:
        return np.array(t.detach().cpu().numpy())

    def assign(self, t: Any, values: np.ndarray) -> None:
        with self.lib.no_grad():
            t.copy_(self.lib.from_numpy(np.array(values, order="C")).to(t.dtype))  # a copy; 0-d stays 0-d

    def perturbed(self, values: np.ndarray) -> np.ndarray:
        if self.perturb and np.issubdtype(values.dtype, np.floating):
            return values * np.asarray(1 + self.perturb, dtype=values.dtype)
        return values

    def from_program(self, depth: int = 2) -> bool:
        return os.path.abspath(sys._getframe(depth).f_code.co_filename) == self.program

    # -- 1. random draws made by the program ------------------------------------------------
    def hook_draws(self) -> None:
        for name in DRAWS:
            if hasattr(self.lib, name):
                setattr(self.lib, name, self.draw_hook(name, getattr(self.lib, name)))

    def draw_hook(self, name: str, original: Any) -> Any:
        def draw(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            if not self.from_program():
                return result
            mine = self.numpy(result)
            if self.tape.recording:
                self.tape.record("draws", (name, _dtype(result), mine))
                return result
            theirs_name, theirs_dtype, theirs = self.tape.next("draws", f"torch.{name}")
            what = f"torch.{name} (random draw {self.tape.used['draws']})"
            if theirs_name != name:
                raise Mismatch(f"{what}: torch's program called torch.{theirs_name} at this point")
            if mine.shape != theirs.shape or _dtype(result) != theirs_dtype:
                raise Mismatch(f"{what}: gave shape {mine.shape} {_dtype(result)}, torch gave "
                               f"{theirs.shape} {theirs_dtype}")
            _check_possible(name, mine, args, kwargs, self.numpy, what + ": this library's own draw")
            _check_possible(name, theirs, args, kwargs, self.numpy, what + ": torch's draw, for this input")
            self.assign(result, self.perturbed(theirs))
            return result
        return draw

    # -- 2. shuffling and splitting ---------------------------------------------------------
    def hook_data(self) -> None:
        try:
            data = importlib.import_module(self.lib.__name__ + ".utils.data")
        except ImportError:
            return  # the program's own import will say so
        sampler = getattr(data, "RandomSampler", None)
        if sampler is not None:
            original_iter = sampler.__iter__

            def __iter__(sampler_self: Any) -> Any:
                n = len(sampler_self.data_source)
                for index in original_iter(sampler_self):
                    yield self.sampled(int(index), n)
            sampler.__iter__ = __iter__
        if hasattr(data, "random_split"):
            data.random_split = self.split_hook(data.random_split)

    def sampled(self, index: int, n: int) -> int:
        if self.tape.recording:
            self.tape.record("sampler", index)
            return index
        theirs = self.tape.next("sampler", "RandomSampler")
        if not 0 <= index < n or not 0 <= theirs < n:
            raise Mismatch(f"RandomSampler yielded {index} (torch {theirs}) for a dataset of {n}")
        return theirs

    def split_hook(self, original: Any) -> Any:
        def random_split(*args: Any, **kwargs: Any) -> Any:
            subsets = original(*args, **kwargs)
            mine = [[int(i) for i in s.indices] for s in subsets]
            if self.tape.recording:
                self.tape.record("splits", mine)
                return subsets
            theirs = self.tape.next("splits", "random_split")
            sizes = [len(m) for m in mine], [len(t) for t in theirs]
            if sizes[0] != sizes[1] or sorted(sum(mine, [])) != sorted(sum(theirs, [])):
                raise Mismatch(f"random_split: subsets of sizes {sizes[0]}, torch's {sizes[1]}, "
                               f"or of other indices")
            for subset, indices in zip(subsets, theirs):
                subset.indices = indices
            return subsets
        return random_split

    # -- 3. starting weights, 4. observations -----------------------------------------------
    def hook_modules(self) -> None:
        module_class, tensor_class = self.lib.nn.Module, self.lib.Tensor
        original_call, original_load = module_class.__call__, module_class.load_state_dict
        original_backward = tensor_class.backward

        def __call__(module: Any, *args: Any, **kwargs: Any) -> Any:
            if id(module) not in self.synced_modules:
                self.sync(module)
            return original_call(module, *args, **kwargs)

        def load_state_dict(module: Any, *args: Any, **kwargs: Any) -> Any:
            result = original_load(module, *args, **kwargs)
            self.loaded.update((id(p), p) for p in module.parameters())
            return result

        def backward(tensor: Any, *args: Any, **kwargs: Any) -> Any:
            if not self.from_program():  # the library's own calls are its business
                return original_backward(tensor, *args, **kwargs)
            self.losses.append(self.numpy(tensor).astype(np.float64).ravel()[:16])
            result = original_backward(tensor, *args, **kwargs)
            if self.grads_pending:
                self.grads_pending = False
                for name, p in self.synced.values():
                    self.grads.setdefault(name, None if p.grad is None else self.numpy(p.grad))
            return result

        module_class.__call__, module_class.load_state_dict = __call__, load_state_dict
        tensor_class.backward = backward

    def sync(self, module: Any) -> None:
        """At a module's first call: record its new parameters (torch), or start from torch's."""
        self.synced_modules.update((id(m), m) for m in module.modules())
        event, before = f"{type(module).__name__}#{self.syncs}", len(self.synced)
        self.syncs += 1
        if self.tape.recording:
            self.record_weights(module, event)
        else:
            theirs_class, entries = self.tape.next("weights", f"the first call of {type(module).__name__}")
            if theirs_class != type(module).__name__:
                raise Mismatch(f"the first call of a {type(module).__name__}: in torch's run, the module "
                               f"called first at this point was a {theirs_class}")
            scale = max([float(np.abs(theirs).max()) for _, theirs in entries if theirs.size] or [0.0])
            for names, theirs in entries:
                self.replay_weight(module, names, theirs, event, scale)
            extra = [name for name, p in module.named_parameters() if id(p) not in self.synced]
            if extra:
                raise Mismatch(f"{type(module).__name__} has parameters torch's has not: {extra}")
        self.grads_pending = self.grads_pending or len(self.synced) > before

    def record_weights(self, module: Any, event: str) -> None:
        """Each new parameter once, under all its names (a tied weight has several)."""
        names: dict[int, list[str]] = {}
        tensors: dict[int, Any] = {}
        for name, p in module.named_parameters(remove_duplicate=False):
            if id(p) not in self.synced:
                names.setdefault(id(p), []).append(name)
                tensors[id(p)] = p
        self.tape.record("weights", (type(module).__name__,
                                     [(names[key], self.numpy(tensors[key])) for key in names]))
        for key, p in tensors.items():
            self.synced[key] = (f"{event}.{names[key][0]}", p)

    def replay_weight(self, module: Any, names: list[str], theirs: np.ndarray, event: str,
                      scale: float) -> None:
        found = [_resolve(module, name) for name in names]
        p = found[0]
        if any(q is not p for q in found):
            raise Mismatch(f"{names}: one tensor in torch's {type(module).__name__} (tied weights), "
                           f"several here")
        mine = self.numpy(p)
        if mine.shape != theirs.shape:
            raise Mismatch(f"{names[0]}: shape {mine.shape} here, {theirs.shape} in torch")
        # Equal up to float32 drift (a model trained here, saved and loaded, or copied), measured
        # against the model's largest weight: Adam moves a weight whose gradient is rounding noise.
        gap = float(np.abs(mine.astype(np.float64) - theirs).max()) if mine.size else 0.0
        equal = gap <= (1e-4 + 10 * self.perturb) * scale + 1e-12
        loaded = id(p) in self.loaded
        if loaded:  # from a checkpoint: compared, never replaced (a perturbed run saved perturbed ones)
            if not equal:
                raise Mismatch(f"{names[0]}: loaded with load_state_dict, yet {gap:.3g} away from torch's")
        elif not equal or self.perturb:
            problem = "" if equal else _unlike_start(mine, theirs)
            if problem:
                raise Mismatch(f"{names[0]} of {type(module).__name__} starts unlike torch's: {problem}")
            self.assign(p, self.perturbed(theirs))
        self.synced[id(p)] = (f"{event}.{names[0]}", p)

    # -- running -----------------------------------------------------------------------------
    def run(self) -> int:
        self.hook_draws()
        self.hook_data()
        self.hook_modules()
        sys.argv = [self.program]
        sys.path.insert(0, os.path.dirname(self.program))
        code = 0
        try:
            runpy.run_path(self.program, run_name="__main__")
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        except BaseException:  # noqa: BLE001 - every failure of the program is reported the same way
            traceback.print_exc()
            code = 1
        sys.stdout.flush()
        self.tape.save()
        observed = {"losses": self.losses, "grads": self.grads, "leftovers": self.tape.leftovers()}
        with open(os.path.join(self.run_dir, OBSERVED.format(mode=self.mode)), "wb") as file:
            pickle.dump(observed, file)
        return code


def _dtype(t: Any) -> str:
    return str(t.dtype).rsplit(".", 1)[-1]


def _resolve(module: Any, name: str) -> Any:
    """``layers.0.weight`` -> the tensor, through attributes (or [i], ["key"] for containers)."""
    obj = module
    for part in name.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            try:
                obj = obj[int(part)] if part.isdigit() else obj[part]
            except (TypeError, KeyError, IndexError):
                raise Mismatch(f"torch's {type(module).__name__} has a parameter {name!r}; "
                               f"this one has no {part!r} there") from None
    return obj


def _unlike_start(mine: np.ndarray, theirs: np.ndarray) -> str:
    """Why ``mine`` cannot be a start drawn as torch drew ``theirs`` ("" when it can)."""
    mine, theirs = mine.astype(np.float64), theirs.astype(np.float64)
    if theirs.size > 1 and theirs.min() == theirs.max():  # one value alone says nothing about its law
        return f"torch starts all at {theirs.flat[0]}, this has values {mine.min()}..{mine.max()}"
    if theirs.size < 256:
        return ""
    ratio = mine.std() / theirs.std()
    if not 0.7 < ratio < 1.43:
        return f"standard deviation {mine.std():.4g}, torch's {theirs.std():.4g}"
    if abs(mine.mean() - theirs.mean()) > 6 * theirs.std() / np.sqrt(theirs.size):
        return f"mean {mine.mean():.4g}, torch's {theirs.mean():.4g}"
    return ""


def _check_possible(name: str, values: np.ndarray, args: tuple, kwargs: dict, numpy: Any, what: str) -> None:
    """Raise Mismatch when ``values`` cannot come from ``torch.<name>(*args, **kwargs)``."""
    problem = ""
    if name in ("rand", "rand_like") and values.size and not (0 <= values.min() and values.max() < 1):
        problem = "values outside [0, 1)"
    elif name in ("randint", "randint_like"):
        low, high = _randint_bounds(name, args, kwargs)
        if values.size and not (low <= values.min() and values.max() < high):
            problem = f"values outside [{low}, {high})"
    elif name == "randperm" and sorted(values.tolist()) != list(range(values.size)):
        problem = "not a permutation"
    elif name == "bernoulli" and not np.isin(values, (0, 1)).all():
        problem = "values other than 0 and 1"
    elif name == "multinomial":
        probs = numpy(args[0] if args else kwargs["input"])
        probs = probs.reshape(-1, probs.shape[-1])  # (rows, categories)
        rows = values.reshape(probs.shape[0], -1)   # (rows, samples)
        outside = rows.min() < 0 or rows.max() >= probs.shape[1]
        if outside or (np.take_along_axis(probs, rows, axis=1) <= 0).any():
            problem = "a category of zero probability"
    if problem:
        raise Mismatch(f"{what}: {problem}")


def _randint_bounds(name: str, args: tuple, kwargs: dict) -> tuple[int, int]:
    """(low, high) of torch.randint(high, size) / randint(low, high, size) / randint_like(x, [low,] high)."""
    numbers = [a for a in (args[1:] if name == "randint_like" else args) if isinstance(a, int)]
    low = kwargs.get("low", numbers[0] if len(numbers) >= 2 else 0)
    high = kwargs.get("high", numbers[-1] if len(numbers) == 1 else numbers[1] if len(numbers) >= 2 else None)
    return int(low), int(high)


def serve() -> None:
    """Import torch once, then run each requested torch program in a fork of this clean process.

    Each line on stdin, ``mode<TAB>program<TAB>run_dir<TAB>perturbation``, is answered with
    the exit code of that run, whose stdout and stderr go to run_dir/<mode>.stdout and
    .stderr. Importing torch, and the compiler stack its optimizers load on first use,
    takes seconds; a fork starts every program from the state right after those imports,
    each still in a process of its own. For torch and torch-replay only: tinytensor must
    take torch's name before anything imports torch.
    """
    import torch  # noqa: PLC0415
    import torch._dynamo  # noqa: F401, PLC0415 - what torch.optim imports on first use
    for line in sys.stdin:
        mode, program, run_dir, perturbation = line.rstrip("\n").split("\t")
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            os.chdir(run_dir)
            os.environ["TT_PROGRAMS_PERTURB"] = perturbation
            for fd, name in ((1, "stdout"), (2, "stderr")):
                path = os.path.join(run_dir, f"{mode}.{name}")
                os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), fd)
            code = Launcher(mode, program, run_dir).run()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status), flush=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["serve"]:
        serve()
        sys.exit(0)
    mode, program, run_dir = sys.argv[1:4]
    if mode not in ("torch", "tinytensor", "torch-replay"):
        sys.exit(f"error: the library must be torch, tinytensor or torch-replay, not {mode!r}")
    sys.exit(Launcher(mode, program, run_dir).run())
