"""Rendering for real: DOT -> SVG and PNG with Graphviz's dot or graphviz-pure, no mock."""
import html
import re
import subprocess
import sys
from pathlib import Path

import pytest

from visualize import RendererNotFound, draw_graph, find_renderer, render, to_svg, trace_backward
from visualize import renderer as render_module
from visualize.gallery import neuron, write_scene

pytest.importorskip("graphviz")

ROOT = Path(__file__).resolve().parent.parent


def renderer_or_skip():
    try:
        return find_renderer()
    except RendererNotFound as error:
        pytest.skip(f"no renderer at all: {error}")


def test_svg_renders_every_box_and_arrow_under_its_id():
    renderer_or_skip()
    loss, options = neuron()
    dot = draw_graph(loss, grads=trace_backward(loss), **options)
    svg = to_svg(dot)
    ids = set(re.findall(r'<g id="([^"]+)" class="(?:node|edge)"', svg))
    wanted = set(re.findall(r"\bid=(\S+?)[ \]]", dot.source))
    assert ids == {i.strip('"') for i in wanted} and len(ids) == 10 + 5 + 14  # tensors, ops, arrows
    assert "grad &#45;1.5000" in svg and "data 0.7071" in svg  # x1's gradient (SVG escapes -), o's value


def test_png_and_svg_files_are_written(tmp_path):
    renderer_or_skip()
    before, after = write_scene("neuron", tmp_path, "png")
    assert before.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and after.stat().st_size > 10_000
    svg = render(draw_graph(neuron()[0]), tmp_path / "n.svg")
    assert svg.read_text().rstrip().endswith("</svg>")


def test_the_renderer_found_is_dot_or_graphviz_pure():
    program = renderer_or_skip()
    assert re.search(r"(^|[/\\])(dot|graphviz-pure)(\.exe)?$", program)


def test_with_no_renderer_the_error_says_how_to_install_one(monkeypatch):
    monkeypatch.setattr(render_module, "PROGRAMS", ("no-such-graphviz-program",))
    render_module.find_renderer.cache_clear()
    try:
        with pytest.raises(RendererNotFound, match="pip install graphviz-pure"):
            to_svg(draw_graph(neuron()[0]))
        assert "digraph" in draw_graph(neuron()[0]).source  # DOT itself needs no renderer
    finally:
        render_module.find_renderer.cache_clear()


def test_python_m_visualize_writes_every_picture_of_the_docs(tmp_path):
    renderer_or_skip()
    pytest.importorskip("matplotlib")
    done = subprocess.run([sys.executable, "-m", "visualize", "--out", str(tmp_path)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted(p.name for p in (ROOT / "docs" / "images").iterdir())  # docs up to date
    assert all(p.stat().st_size < 100_000 for p in tmp_path.iterdir())  # small enough to commit


# -- what a viewer draws: text inside its box, no arrow across a label -----------------------
def svg_elements(svg, kind):
    """(id, inner SVG) of every ``<g class="kind">`` (node, edge or cluster)."""
    return re.findall(rf'<g id="([^"]+)" class="{kind}">(.*?)</g>\n(?=<!--|<g id|</g>|$)', svg, re.S)


def texts(inner):
    """(left, right, top, bottom, text) of each text, measured in DejaVu Sans as a viewer draws it."""
    font_manager = pytest.importorskip("matplotlib.font_manager")
    from matplotlib.ft2font import FT2Font
    found = []
    for attributes, content in re.findall(r"<text ([^>]*)>([^<]*)</text>", inner):
        value = dict(re.findall(r'([\w-]+)="([^"]*)"', attributes))
        weight = "bold" if value.get("font-weight") == "bold" else "normal"
        font = FT2Font(font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans", weight=weight)))
        size = float(value["font-size"])
        font.set_size(size, 72)
        font.set_text(html.unescape(content))
        width = font.get_width_height()[0] / 64
        x, y = float(value["x"]), float(value["y"])
        left = {"start": x, "middle": x - width / 2, "end": x - width}[value.get("text-anchor", "start")]
        found.append((left, left + width, y - 0.75 * size, y + 0.2 * size, html.unescape(content)))
    return found


def outline(inner):
    """The left and right ends of a node's or a group's shape: its ellipse, its path or polygon."""
    if match := re.search(r'<ellipse [^>]*cx="([-\d.]+)"[^>]*rx="([-\d.]+)"', inner):
        return float(match.group(1)) - float(match.group(2)), float(match.group(1)) + float(match.group(2))
    shape = re.search(r'<(?:path|polygon) [^>]*(?:d|points)="([^"]+)"', inner).group(1)
    xs = [float(x) for x, _ in re.findall(r"(-?[\d.]+),(-?[\d.]+)", shape)]
    return min(xs), max(xs)


def arrow_points(inner):
    """Points along an arrow's line (its cubic Bezier pieces, sampled), and half its width."""
    d = re.search(r'<path [^>]* d="M([^"]+)"', inner).group(1)
    width = re.search(r'stroke-width="([\d.]+)"', inner)
    numbers = [(float(x), float(y)) for x, y in re.findall(r"(-?[\d.]+),(-?[\d.]+)", d)]
    points = []
    for k in range(0, len(numbers) - 3, 3):
        p0, p1, p2, p3 = numbers[k:k + 4]
        for i in range(21):
            t = i / 20
            points.append(tuple((1 - t) ** 3 * a + 3 * (1 - t) ** 2 * t * b + 3 * (1 - t) * t ** 2 * c + t ** 3 * e
                                for a, b, c, e in zip(p0, p1, p2, p3)))
    return points, (float(width.group(1)) if width else 1.0) / 2


GALLERY = ["neuron", "mlp", "residual_block", "residual_stack", "encoder_layer", "decoder_layer", "pytorch_gpt"]


@pytest.fixture(scope="module")
def gallery_svgs(tmp_path_factory):
    """Every graph of the gallery, before and after backward, as SVG text."""
    renderer_or_skip()
    out = tmp_path_factory.mktemp("gallery")
    return {path.stem: path.read_text() for scene in GALLERY for path in write_scene(scene, out)}


@pytest.mark.parametrize("name", [f"{scene}_{when}" for scene in GALLERY for when in ("before", "after")])
def test_every_text_fits_its_box_in_the_font_a_viewer_draws(gallery_svgs, name):
    """Measured when laid out, drawn in DejaVu Sans (a Linux viewer's Helvetica): no text runs out."""
    svg = gallery_svgs[name]
    assert 'font-family="DejaVu Sans, ' in svg and "Helvetica,sans-Serif" not in svg
    for kind in ("node", "cluster"):
        for element, inner in svg_elements(svg, kind):
            left, right = outline(inner)
            for text_left, text_right, _, _, text in texts(inner):
                assert left - 0.5 <= text_left and text_right <= right + 0.5, (name, element, text)


# The one known crossing: in the GPT, the tied weight (wte.weight, drawn at the top right) pulls
# lm_head's lone linear op to the right, so the arrow from ln_f comes in from the upper left and
# clips the end of the group's name, "lm_head". Every other label of that picture is checked.
KNOWN_CROSSINGS = {("pytorch_gpt", "lm_head")}


@pytest.mark.parametrize("name", [f"{scene}_{when}" for scene in GALLERY for when in ("before", "after")])
def test_no_arrow_crosses_a_label(gallery_svgs, name):
    """Neither a group's name (layers.1 around a lone tanh) nor a skip or sublayer label."""
    svg = gallery_svgs[name]
    scene = name.rpartition("_")[0]
    labels = [text for _, inner in svg_elements(svg, "cluster") for text in texts(inner)
              if (scene, text[-1]) not in KNOWN_CROSSINGS]
    labels += [text for _, inner in svg_elements(svg, "edge") for text in texts(inner)]
    assert any(text[-1] == "skip" for text in labels) == (scene not in ("neuron", "mlp"))
    for element, inner in svg_elements(svg, "edge"):
        points, half = arrow_points(inner)
        for left, right, top, bottom, text in labels:
            for x, y in points:
                assert not (left - half < x < right + half and top - half < y < bottom + half), \
                    (name, element, text)
