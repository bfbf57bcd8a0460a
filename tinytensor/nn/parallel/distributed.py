"""DistributedDataParallel: one model trained by N processes, each on its share of every batch.

    dist.init_process_group("mpi")                     # under mpiexec -n N
    model = DistributedDataParallel(model)             # rank 0's weights, on every rank
    for x, y in loader:                                # this rank's share of each batch
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()                # ...and the gradients are averaged
        optimizer.step()                               # the same step on every rank

Why the same gradient. The loss of a batch of B examples is their mean,
L = (1/B) sum_i l_i. Cut the batch into N shards of B/N, one per rank; rank r's
backward gives g_r, the gradient of its shard's mean. The mean of the means is
the whole batch's gradient:

    (1/N) sum_r g_r = (1/N) sum_r (N/B) sum_{i in shard r} grad l_i = (1/B) sum_i grad l_i = grad L

so averaging the ranks' gradients (all_reduce with ReduceOp.AVG) gives every
rank grad L; every rank starts from rank 0's weights (broadcast here, at
construction) and takes the same optimizer step with the same gradient, so the
weights stay the same everywhere, step after step. N processes with B/N
examples each train the model that one process with B examples would, up to
the rounding of sums taken in another order.

Buckets. A model has many parameter tensors (the paper's base Transformer: 187);
one all-reduce each would pay a message's latency 187 times. So the gradients
travel in *buckets*: each bucket is one flat array holding the gradients of
several parameters side by side, about ``bucket_cap_mb`` (25 MB; the first,
1 MB, starts sooner), averaged by one all_reduce.

Overlap. Backward computes the last layer's gradients first. So the buckets are
filled in reverse order of registration (``model.parameters()`` reversed): the
first bucket is full, and its non-blocking all-reduce starts, while backward is
still computing the earlier layers. A hook on each parameter
(``register_post_accumulate_grad_hook``) copies its gradient into its slot of
its bucket as soon as it is complete; a full bucket is launched at once;
backward goes on while the bucket travels. At the end of backward (a callback
queued with ``tinytensor.autograd.queue_callback``) only the last buckets are
still on the way: we wait for them and write the averages back into ``.grad``.

    backward   |== layer 6 ==|== layer 5 ==|== layer 4 ==| ... |== layer 1 ==|
    buckets                  |-- bucket 0 --|              |-- bucket 1 --|      |-- bucket 2 --|
                             launched when full, while backward goes on          only this one is waited for

Every rank must launch the same buckets in the same order (a collective is
matched by its order, and two buckets of one shape launched in another order
would be summed with each other, silently): bucket i is launched only once
buckets 0 to i-1 have been, as PyTorch does.

MPI moves a collective forward only while the process calls into MPI, so each
hook also asks the buckets under way whether they are done (``is_completed``):
that is what makes them travel during backward rather than at its end.

What differs from PyTorch's (torch/nn/parallel/distributed.py and its C++ reducer):

* one process per device (no ``device_ids`` of several GPUs), the default group only;
* buckets keep reverse registration order; PyTorch rebuilds them after the first
  step in the order the gradients actually arrived (the same order for a model
  whose forward follows its registration);
* a parameter that got no gradient is found at the end of backward, not by
  searching the graph after the forward: with ``find_unused_parameters=True`` its
  bucket (and the ones after it) leave at the end of backward; with False, the
  error comes at the end of that backward (PyTorch's at the next forward, after a
  step on gradients that were not averaged);
* ``static_graph=True`` allows unused parameters, as PyTorch's does; it buys
  nothing more here; ``check_reduction`` does nothing (deprecated in PyTorch).
"""
from __future__ import annotations

import contextlib
import functools
import time
import weakref
from typing import Any, Iterator

from ... import backend, distributed as dist
from ...autograd import engine, grad_mode
from ...creation import tensor, zeros
from ...tensor import Tensor
from ..module import Module
from ..parameter import Parameter

MB = 1024 * 1024
FIRST_BUCKET_MB = 1.0   # PyTorch's first bucket: small, so the first all-reduce starts early
BUCKET_CAP_MB = 25.0    # PyTorch's bucket_cap_mb


class Bucket:
    """The gradients of a few parameters of one dtype, side by side in one flat array."""

    def __init__(self, index: int, params: list[Parameter]) -> None:
        self.index, self.params = index, params
        self.offsets, total = [], 0
        for p in params:
            self.offsets.append(total)
            total += p.numel()
        self.buffer = zeros(total, dtype=params[0].dtype, device=params[0].device)  # allocated once
        self.pending = len(params)       # gradients still to come this backward
        self.work: dist.Work | None = None

    def slot(self, i: int) -> Any:
        """The piece of the flat array that holds params[i]'s gradient, in its shape (a view)."""
        p = self.params[i]
        return self.buffer.array[self.offsets[i]:self.offsets[i] + p.numel()].reshape(p.shape)

    def nbytes(self) -> int:
        return self.buffer.numel() * self.buffer.dtype.itemsize


def assign_buckets(params: list[Parameter], caps_mb: list[float]) -> list[list[Parameter]]:
    """Parameters (in the order their gradients should travel) in buckets of one dtype and device each.

    A bucket is closed once it holds ``caps_mb[k]`` MB or more (k: how many buckets of its
    dtype were closed before it; the last cap repeats), so a parameter larger than the cap has
    a bucket of its own. Buckets come in the order of their first parameter.
    """
    filling: dict[Any, tuple[list[Parameter], int]] = {}  # (dtype, device) -> its bucket being filled, bytes
    closed: dict[Any, int] = {}
    buckets: list[list[Parameter]] = []
    for p in params:
        key = (p.dtype, p.device)
        bucket, size = filling.get(key, ([], 0))
        bucket, size = bucket + [p], size + p.numel() * p.dtype.itemsize
        cap = caps_mb[min(closed.get(key, 0), len(caps_mb) - 1)] * MB
        if size >= cap:
            buckets.append(bucket)
            closed[key] = closed.get(key, 0) + 1
            filling.pop(key, None)
        else:
            filling[key] = (bucket, size)
    buckets += [bucket for bucket, _ in filling.values()]
    first = {id(p): i for i, p in enumerate(params)}
    return sorted(buckets, key=lambda bucket: first[id(bucket[0])])


class DistributedDataParallel(Module):
    """Wrap ``module`` so that N processes train it together (as torch.nn.parallel.DistributedDataParallel).

    ``bucket_cap_mb``: the size of a bucket (None: 25 MB, the first 1 MB).
    ``find_unused_parameters``: allow parameters that get no gradient in a step (their
    gradient counts as zero on this rank; a parameter no rank used keeps its ``.grad``);
    with False they are an error. ``gradient_as_bucket_view``: after backward each
    ``.grad`` is a view of its bucket (no copy back, less memory). ``broadcast_buffers``:
    rank 0's buffers reach every rank at construction and before each forward.
    ``init_sync=False`` skips the broadcast at construction. ``device_ids`` and
    ``output_device``: None, or the one device the module is on (a GPU, with NCCL).
    ``dim``, ``check_reduction``: no meaning with one device per process (kept for the signature).
    """

    def __init__(self, module: Module, device_ids: "list | None" = None, output_device: Any = None,
                 dim: int = 0, broadcast_buffers: bool = True, init_sync: bool = True,
                 process_group: None = None, bucket_cap_mb: float | None = None,
                 find_unused_parameters: bool = False, check_reduction: bool = False,
                 gradient_as_bucket_view: bool = False, static_graph: bool = False) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: module must be a tinytensor.nn.Module, got "
                            f"{type(module).__name__}")
        group = dist.process_group.default_group("DistributedDataParallel", process_group)
        self.module = module
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph
        self.dim, self.check_reduction = dim, check_reduction
        self.require_backward_grad_sync = True   # False inside no_sync()
        self.device = _the_device(module, device_ids, output_device, group.engine.device)
        self.device_ids = None if device_ids is None else [self.device]
        self.output_device = None if output_device is None else self.device
        params = [p for p in module.parameters() if p.requires_grad][::-1]  # backward's order
        if not params:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any "
                               "parameter that requires a gradient.")
        caps = [FIRST_BUCKET_MB, BUCKET_CAP_MB] if bucket_cap_mb is None else [bucket_cap_mb]
        if not all(cap > 0 for cap in caps):
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be positive, got {bucket_cap_mb}")
        self._buckets = [Bucket(i, members) for i, members in enumerate(assign_buckets(params, caps))]
        self._params = [p for bucket in self._buckets for p in bucket.params]  # the buckets' order
        self._place = {id(p): (bucket, i) for bucket in self._buckets for i, p in enumerate(bucket.params)}
        self._names = {id(p): name for name, p in module.named_parameters()}
        self._ready: dict[int, bool] = {}       # id(param) -> its gradient is in its bucket (this backward)
        self._expect_hooks = False              # armed by a forward with grad on, outside no_sync
        self._accumulating = False              # armed by a forward with grad on, inside no_sync
        self._used_since_sync: set[int] = set()  # id(param) with a gradient under no_sync since the last sync
        self._backward_started = False
        self._next_bucket = 0                   # the next bucket to launch: they leave in order
        # This step's (event, bucket, time.perf_counter()): "ready" (a gradient into the bucket),
        # "launch", "done" (its all-reduce), with "forward", "backward end" and "averaged" (-1).
        self.timeline: list[tuple[str, int, float]] = []
        if init_sync:
            self._broadcast_from_rank_0(list(module.parameters()) +
                                        (list(module.buffers()) if broadcast_buffers else []))
        # The hooks hold this wrapper weakly, and go when it goes: a wrapper dropped (the model
        # wrapped again, say) leaves no hooks behind that would join a later backward.
        handles = [p.register_post_accumulate_grad_hook(functools.partial(_gradient_ready, weakref.ref(self)))
                   for p in params]
        weakref.finalize(self, _remove_hooks, handles)

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        if grad_mode.is_grad_enabled() and self.require_backward_grad_sync:
            self._prepare_for_backward()
        elif grad_mode.is_grad_enabled():
            self._accumulating = True
        if self.broadcast_buffers and grad_mode.is_grad_enabled():
            self._broadcast_from_rank_0(list(self.module.buffers()))
        return self.module(*inputs, **kwargs)

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Backward inside this block only adds into ``.grad`` on this rank, without communication.

        Gradient accumulation: run k-1 micro-batches under no_sync and the k-th outside it;
        that backward averages the accumulated gradients across ranks, once.
        """
        previous, self.require_backward_grad_sync = self.require_backward_grad_sync, False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    def extra_repr(self) -> str:
        sizes = ", ".join(f"{b.nbytes() / MB:.2f}" for b in self._buckets)
        return f"buckets of {sizes} MB"

    # ------------------------------------------------------------------
    # One backward: hooks fill the buckets, full buckets leave in order, the end waits
    # ------------------------------------------------------------------
    def _prepare_for_backward(self) -> None:
        if self._backward_started:  # a backward that raised midway left buckets on the way
            raise RuntimeError("DistributedDataParallel: the previous backward did not finish (it raised "
                               "an error), so its gradients were never averaged; the ranks may no longer "
                               "agree. End the job and start again from a checkpoint.")
        self._ready = {id(p): False for bucket in self._buckets for p in bucket.params}
        for bucket in self._buckets:
            bucket.pending, bucket.work = len(bucket.params), None
        self._next_bucket = 0
        self._expect_hooks = True
        self.timeline = [("forward", -1, time.perf_counter())]

    def _gradient_ready(self, param: Parameter) -> None:
        """A parameter's hook: its gradient is complete, so into its bucket it goes."""
        if not self._expect_hooks:  # not a forward of ours, under no_sync, or already averaged
            if self._accumulating:  # under no_sync: what it used is averaged at the next sync
                self._used_since_sync.add(id(param))
            return
        if not self._backward_started:
            self._backward_started = True
            engine.queue_callback(self._finish_backward)
        if self._ready[id(param)]:
            raise RuntimeError(f"DistributedDataParallel: the gradient of {self._names[id(param)]} arrived twice "
                               f"in one backward; a parameter may be used in several places, but its hook "
                               f"runs once per backward")
        self._put_in_bucket(param, param.grad)
        self.timeline.append(("ready", self._place[id(param)][0].index, time.perf_counter()))
        self._launch_full_buckets()
        self._poll()

    def _put_in_bucket(self, param: Parameter, grad: "Tensor | None") -> None:
        bucket, i = self._place[id(param)]
        slot = bucket.slot(i)
        if grad is None:
            slot[...] = 0
        else:
            slot[...] = grad.array  # a copy: .grad is replaced, not updated, by the next backward
        self._ready[id(param)] = True
        bucket.pending -= 1

    def _launch_full_buckets(self) -> None:
        """Start the all-reduce of every full bucket whose predecessors have all left: in index order."""
        while self._next_bucket < len(self._buckets) and self._buckets[self._next_bucket].pending == 0:
            bucket = self._buckets[self._next_bucket]
            bucket.work = dist.all_reduce(bucket.buffer, op=dist.ReduceOp.AVG, async_op=True)
            self.timeline.append(("launch", bucket.index, time.perf_counter()))
            self._next_bucket += 1

    def _poll(self, wait: bool = False) -> None:
        """Collect the launched buckets that are done; with ``wait``, wait for each. Polling is what
        moves them forward during backward too: MPI progresses only inside calls into it."""
        for bucket in self._buckets[:self._next_bucket]:
            if bucket.work is not None and (wait or bucket.work.is_completed()):
                bucket.work.wait()
                self.timeline.append(("done", bucket.index, time.perf_counter()))
                bucket.work = None

    def _finish_backward(self) -> None:
        """After backward: the parameters without a gradient, the last buckets, the averages into .grad."""
        self.timeline.append(("backward end", -1, time.perf_counter()))
        self._expect_hooks = self._backward_started = False
        arrived = [self._ready[id(p)] for p in self._params]  # in this backward, on this rank
        missing = [p for p, here in zip(self._params, arrived) if not here]
        if missing and not (self.find_unused_parameters or self.static_graph):
            self._poll(wait=True)  # the buckets already launched: leave the process group in step
            raise RuntimeError(self._unused_message(missing))
        for p in missing:  # counts as zero here (or as what earlier no_sync steps accumulated)
            self._put_in_bucket(p, p.grad)
        self._launch_full_buckets()
        # Used on this rank: in this backward, or in a no_sync one since the last sync, whose
        # gradient waits in .grad to be averaged now.
        used = [here or id(p) in self._used_since_sync for p, here in zip(self._params, arrived)]
        self._accumulating, self._used_since_sync = False, set()
        if self.find_unused_parameters or self.static_graph:  # after every bucket: the same order on all ranks
            used = self._used_on_any_rank(used)
        self._poll(wait=True)
        self.timeline.append(("averaged", -1, time.perf_counter()))
        for p, anywhere in zip(self._params, used):
            if anywhere:  # a parameter no rank used keeps its .grad, as PyTorch's
                bucket, i = self._place[id(p)]
                self._write_back(p, bucket.slot(i))

    def _used_on_any_rank(self, used: list[bool]) -> list[bool]:
        """Which parameters got a gradient on at least one rank this step (one small all-reduce)."""
        flags = tensor(used, dtype=backend.int32, device=self.device)
        dist.all_reduce(flags, op=dist.ReduceOp.MAX)
        return [bool(flag) for flag in flags.tolist()]

    def _write_back(self, param: Parameter, average: Any) -> None:
        """The averaged gradient into ``param.grad``: the bucket's own memory, or a copy of it."""
        if self.gradient_as_bucket_view:
            param.grad = Tensor._make(average, None)
        elif param.grad is None:  # used on another rank only
            param.grad = Tensor._make(backend.copy(average), None)
        else:
            param.grad.array[...] = average

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------
    def _broadcast_from_rank_0(self, tensors: list[Tensor]) -> None:
        works = [dist.broadcast(t, src=0, async_op=True) for t in tensors]
        for work in works:
            work.wait()

    def _unused_message(self, unused: list[Parameter]) -> str:
        names = ", ".join(self._names[id(p)] for p in unused)
        return (f"DistributedDataParallel: backward has finished, but {len(unused)} parameter(s) got no "
                f"gradient on rank {dist.get_rank()}: {names}. They took no part in computing the loss, so "
                f"their buckets could not be averaged, and the ranks' gradients would differ. Pass "
                f"find_unused_parameters=True to DistributedDataParallel (a parameter without a gradient "
                f"then counts as zero in the average), or make every parameter and every output of "
                f"forward take part in the loss.")


def _gradient_ready(wrapper: "weakref.ref[DistributedDataParallel]", param: Parameter) -> None:
    ddp = wrapper()
    if ddp is not None:
        ddp._gradient_ready(param)


def _remove_hooks(handles: list[Any]) -> None:
    for handle in handles:
        handle.remove()


def _the_device(module: Module, device_ids: Any, output_device: Any, engine_device: Any) -> Any:
    """The one device the module's parameters are on, checked against the arguments and the backend."""
    devices = {p.device for p in module.parameters()}
    if len(devices) > 1:
        raise ValueError(f"DistributedDataParallel: the module's parameters are on several devices "
                         f"({', '.join(sorted(map(str, devices)))}); put it on one (module.to(device)): one "
                         f"device per process")
    device = devices.pop() if devices else engine_device
    if device.type != engine_device.type:
        raise ValueError(f"DistributedDataParallel: the module is on {device}, and the process group's "
                         f"backend works on {engine_device.type} tensors: move the module, or "
                         f"init_process_group with the other backend ('mpi' for CPU, 'nccl' for GPU)")
    for name, given in (("device_ids", device_ids), ("output_device", output_device)):
        if given is None:
            continue
        ids = list(given) if name == "device_ids" and isinstance(given, (list, tuple)) else [given]
        named = [backend.Device(f"cuda:{d}" if isinstance(d, int) else d) for d in ids]
        if device.type == "cpu" or len(named) != 1 or named[0] != device:
            raise ValueError(f"DistributedDataParallel: {name}={given!r}, but {name} only names the one "
                             f"GPU a module is on (one device per process); this module is on {device}. "
                             f"Leave {name} out (None) for a CPU module.")
    return device
