"""Rendering for real: DOT -> SVG and PNG with Graphviz's dot or graphviz-pure, no mock."""
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
