"""The backprop page: one self-contained file, one frame per backward step, in the engine's order."""
import json
import re

import pytest

from tinytensor.autograd import observe, topological_order
import tinytensor as tt
from visualize import RendererNotFound, find_renderer, render_backprop
from visualize.backprop_html import MIN_SCALE, PX_PER_PT
from visualize.gallery import mlp, neuron, residual_block

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
    assert all(set(f["ids"] + f["done"]) <= svg_ids for f in frames)  # every highlight finds its element
    assert frames[0]["grad"] == "grad 1.0000"


def test_each_frame_shows_the_gradient_just_computed(tmp_path):
    loss, options = neuron()
    frames = frames_of(render_backprop(loss, tmp_path / "page.html", **options).read_text())
    by_name = {f["what"].split(",")[0]: f["grad"] for f in frames}
    assert by_name["dL/d(x1)"] == "grad -1.5000" and by_name["dL/d(w1)"] == "grad 1.0000"
    assert by_name["dL/d(n)"] == "grad 0.5000" and by_name["dL/d(w2)"] == "grad 0.0000"


def test_the_page_calls_the_residual_add_as_the_picture_does(tmp_path):
    loss, options = residual_block()
    frames = frames_of(render_backprop(loss, tmp_path / "page.html", **options).read_text())
    y = next(f for f in frames if f["what"].startswith("dL/d(y),"))
    assert y["after"] == "residual add's backward now sends it to 2 inputs."


def test_the_page_is_self_contained(tmp_path):
    loss, options = neuron()
    page = render_backprop(loss, tmp_path / "page.html", **options).read_text(encoding="utf-8")
    assert not re.search(r"https?://", page)           # no address at all, so nothing to fetch
    assert not re.search(r"<(script|link|img|iframe)[^>]*\b(src|href)=", page)
    assert page.count("<svg") == 1 and "<script>" in page  # inline SVG, inline script


def script_of(page):
    return re.search(r"<script>(.*?)</script>", page, re.S).group(1)


def test_a_leaf_is_done_at_the_step_its_last_user_ran_and_the_steps_keep_the_engines_order(tmp_path):
    """The neuron's bias: add (step 2) sends its share, the engine reaches b at step 3; the
    weights of the products are done at steps 5 and 8, reached at 6 and 9."""
    loss, options = neuron()
    page = render_backprop(loss, tmp_path / "page.html", **options).read_text()
    frames = frames_of(page)
    names = [f["what"].split(",")[0] for f in frames]
    assert names[1] == "dL/d(n)" and names[2] == "dL/d(b)"     # the engine's order, unchanged
    assert names[5] == "dL/d(w2)" and names[8] == "dL/d(w1)"
    b = frames[2]["node"]
    assert frames[1]["done"] == [b] and "completes dL/d(b)" in frames[1]["after"]
    assert "complete at step 2" in frames[2]["after"]
    assert [step for step, f in enumerate(frames, 1) if b in f["done"]] == [2]
    assert "f.ids.concat(f.done)" in script_of(page)  # lit (and glowing) from that step on


def test_stepping_keeps_the_current_node_in_view(tmp_path):
    loss, options = residual_block()  # a tall graph: the loss is far below the fold
    script = script_of(render_backprop(loss, tmp_path / "page.html", **options).read_text())
    show = re.search(r"function show\(k\) \{(.*?)\n  \}", script, re.S).group(1)
    assert "keepInView(document.getElementById(f.node))" in show
    keep = re.search(r"function keepInView\(el\) \{(.*?)\n  \}", script, re.S).group(1)
    assert "window.scrollBy(" in keep and "picture.scrollLeft" in keep  # up and down, and sideways
    assert "e.preventDefault()" in script  # End and Home would scroll the page away again


def test_a_wide_graph_is_shrunk_no_further_than_readable(tmp_path):
    x = tt.tensor([1.0, 2.0], requires_grad=True)
    y = x
    for _ in range(30):  # a long chain, left to right: many times wider than a window
        y = (y * 1.01).tanh()
    page = render_backprop(y.sum(), tmp_path / "page.html").read_text()
    width = float(re.search(r'<svg width="([\d.]+)pt"', page).group(1))
    assert width * PX_PER_PT > 4 * 1280
    shown = float(re.search(r"#picture svg \{ max-width: 100%; min-width: ([\d.]+)px;", page).group(1))
    assert shown == pytest.approx(width * PX_PER_PT * MIN_SCALE, abs=1)
    assert 11 * PX_PER_PT * MIN_SCALE >= 11   # an 11-point label stays at least 11 pixels high
    assert "overflow-x: auto" in page           # and the rest scrolls sideways


def test_the_buttons_say_what_they_do_in_words_every_font_has(tmp_path):
    loss, options = neuron()
    page = render_backprop(loss, tmp_path / "page.html", **options).read_text(encoding="utf-8")
    buttons = re.findall(r"<button [^>]*>([^<]*)</button>", page)
    assert buttons == ["first", "back", "play", "next"]
    assert "&#x23EE;" not in page and "\u23ee" not in page  # the first-step glyph many fonts lack


def test_the_page_opens_at_the_step_in_its_address_and_data_is_never_faded(tmp_path):
    loss, options = mlp()
    page = render_backprop(loss, tmp_path / "page.html", **options).read_text()
    script = script_of(page)
    assert "/step=(\\d+)/.exec(location.hash)" in script and "show(fromAddress())" in script
    data = json.loads(re.search(r'<script id="data" type="application/json">(.*?)</script>', page).group(1))
    boxes = set(re.findall(r'<g id="(d\d+_\d+)" class="node"', page))
    assert len(boxes) == 3 and boxes <= set(data)           # x, the target, the 2 of ** 2
    assert all(i in boxes or i.split("__")[0] in boxes for i in data)  # and their arrows
    assert not set(data) & {i for f in frames_of(page) for i in f["ids"]}  # no gradient lights them
