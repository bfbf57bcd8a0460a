"""The backprop page: one self-contained file, one frame per backward step, in the engine's order."""
import json
import re

import pytest

from tinytensor.autograd import observe, topological_order
from visualize import RendererNotFound, find_renderer, render_backprop
from visualize.gallery import neuron, residual_block

pytest.importorskip("graphviz")


@pytest.fixture(autouse=True)
def renderer():
    try:
        find_renderer()
    except RendererNotFound as error:
        pytest.skip(f"no renderer at all: {error}")


def frames_of(page):
    found = re.search(r'<script id="frames" type="application/json">(.*?)</script>', page, re.S)
    return json.loads(found.group(1))


@pytest.mark.parametrize("scene", [neuron, residual_block])
def test_one_frame_per_backward_step_in_the_engines_order(tmp_path, scene):
    loss, options = scene()
    place = {node: i for i, node in enumerate(topological_order([loss.grad_fn]))}  # box t<i>
    seen = []
    with observe(lambda node, grad, sent: seen.append(node)):  # watching the same backward
        page = render_backprop(loss, tmp_path / "page.html", **options).read_text(encoding="utf-8")
    frames = frames_of(page)
    assert [f["node"] for f in frames] == [f"t{place[node]}" for node in seen]
    svg_ids = set(re.findall(r'<g id="([^"]+)" class="(?:node|edge)"', page))
    assert all(set(f["ids"]) <= svg_ids for f in frames)  # every highlight finds its element
    assert frames[0]["grad"] == "grad 1.0000"


def test_each_frame_shows_the_gradient_just_computed(tmp_path):
    loss, options = neuron()
    frames = frames_of(render_backprop(loss, tmp_path / "page.html", **options).read_text())
    by_name = {f["what"].split(",")[0]: f["grad"] for f in frames}
    assert by_name["dL/d(x1)"] == "grad -1.5000" and by_name["dL/d(w1)"] == "grad 1.0000"
    assert by_name["dL/d(n)"] == "grad 0.5000" and by_name["dL/d(w2)"] == "grad 0.0000"


def test_the_page_is_self_contained(tmp_path):
    loss, options = neuron()
    page = render_backprop(loss, tmp_path / "page.html", **options).read_text(encoding="utf-8")
    assert not re.search(r"https?://", page)           # no address at all, so nothing to fetch
    assert not re.search(r"<(script|link|img|iframe)[^>]*\b(src|href)=", page)
    assert page.count("<svg") == 1 and "<script>" in page  # inline SVG, inline script
