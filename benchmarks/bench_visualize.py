#!/usr/bin/env python
"""How long does a picture of a big graph take? Draw and render about 2,000 engine nodes.

    python benchmarks/bench_visualize.py                 # 2,000-node graph, SVG
    python benchmarks/bench_visualize.py --nodes 5000 --format png

The graph is a stack of pre-norm residual blocks (the gallery's, 16 wide), as many
as it takes to reach ``--nodes`` engine nodes (ops plus leaf tensors; each op is
drawn as two boxes, the op and its result). Wall and CPU time, in seconds, for each phase:

    trace    loss.backward() under trace_backward (every gradient kept)
    draw     draw_graph: the picture model and the DOT text
    render   the renderer (Graphviz's dot, else graphviz-pure) laying it out to SVG/PNG
"""
from __future__ import annotations

import argparse
import math
import resource
import time
from typing import Any, Callable

import tinytensor as tt
from tinytensor.autograd import topological_order
from visualize import draw_graph, find_renderer, render_bytes, trace_backward
from visualize.gallery import Stack


def stack(depth: int) -> tuple:
    """(loss, model) for ``depth`` blocks on a batch of 8."""
    tt.manual_seed(0)
    model = Stack(width=16, depth=depth)
    return (model(tt.randn(8, 16, requires_grad=True)) ** 2).mean(), model


def size(loss: tt.Tensor) -> int:
    return len(topological_order([loss.grad_fn]))


def build(nodes: int) -> tuple:
    """The smallest stack whose graph has at least ``nodes`` nodes: each block adds as many."""
    one, two = size(stack(1)[0]), size(stack(2)[0])
    return stack(1 + max(0, math.ceil((nodes - one) / (two - one))))


def timed(what: str, work: Callable[[], Any]) -> Any:
    """Run ``work()``, print its wall time and the CPU time it used (ours plus the renderer's).

    On a machine busy with other jobs the CPU time varies much less than the wall time.
    """
    start, cpu = time.perf_counter(), _cpu_seconds()
    result = work()
    print(f"{what:<8}{time.perf_counter() - start:7.2f} s   (CPU {_cpu_seconds() - cpu:.2f} s)")
    return result


def _cpu_seconds() -> float:
    """User + system time of this process and of the finished child processes (the renderer)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=2000)
    parser.add_argument("--format", default="svg", choices=("svg", "png"))
    args = parser.parse_args()
    loss, model = build(args.nodes)
    engine_nodes = size(loss)
    print(f"graph: {engine_nodes} engine nodes, {len(model.blocks)} blocks; renderer {find_renderer()}")
    start = time.perf_counter()
    trace = timed("trace", lambda: trace_backward(loss))
    dot = timed("draw", lambda: draw_graph(loss, model=model, grads=trace))
    print(f"        {dot.source.count(' -> ')} arrows")
    image = timed("render", lambda: render_bytes(dot, args.format))
    written = f"{len(image) / 1e6:.1f} MB of {args.format.upper()}"
    print(f"total   {time.perf_counter() - start:7.2f} s  ({written})")


if __name__ == "__main__":
    main()
