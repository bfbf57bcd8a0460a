"""A web page that replays backward one node at a time, in the engine's real order.

``render_backprop(loss, "backprop.html")`` runs ``loss.backward()`` under
``trace_backward`` and writes ONE self-contained file: the graph as inline SVG
(every gradient already printed on it) and a small inline script, with no
network access and nothing else to download.

Step k of the replay is the k-th node whose gradient the engine completed
(the order ``observe`` reported). At that step the node's boxes glow, the page
says which gradient was just computed and what happens to it next, and the
arrows into the node light up: its op's backward sends the gradient on to its
inputs. Nodes still waiting for their gradient are faded; data (inputs that
need no gradient) never waits, so it is never faded. Buttons, the slider and
the arrow keys move between steps, and ``page.html#step=5`` opens at step 5.

A leaf has no backward to run: the engine's step at a leaf only writes
``.grad``, and its walk may reach the leaf long after the last op that uses it
has sent its share. The gradient was complete then (``BackwardTrace.complete_at``),
so the page shows the leaf done at that earlier step, and says so, while the
steps keep the engine's order.

The page keeps the current node in view: each step scrolls the window (and the
picture, when it is wider than the window) to it. A wide graph is shrunk to the
window's width, but never below ``MIN_SCALE`` of its size, where the text would
be too small to read (at half size an 11-point label is 7 pixels high); past
that the picture scrolls sideways.

The script finds each node by the id of its SVG element: ``dot.py`` gives every
box and arrow an explicit id (``t7``, ``op7``, ``t3__op7``), and Graphviz
writes it as ``<g id="t7">``.
"""
from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any, Mapping

from tinytensor import Tensor
from tinytensor.autograd import Function

from . import describe
from .dot import to_digraph
from .graph import Picture, build_picture
from .renderer import to_svg
from .trace import BackwardTrace, trace_backward

# What an SVG file carries that a page does not need: the XML prolog, the DOCTYPE,
# comments and namespace declarations (HTML parses inline SVG without them). Removing
# them also leaves no http:// address anywhere in the page.
SVG_PREAMBLE = re.compile(r"<\?xml.*?\?>|<!DOCTYPE.*?>|<!--.*?-->|\s+xmlns(:\w+)?=\"[^\"]*\"", re.S)
MIN_SCALE = 0.8  # the smallest fit-to-width scale: 11-point text (14.7 px) stays 11.7 px high
PX_PER_PT = 4 / 3  # CSS: 96 pixels to the inch, 72 points


def render_backprop(loss: Tensor, path: "str | Path", *, params: Mapping[str, Tensor] | None = None,
                    model: Any = None, names: Mapping[str, Tensor] | None = None,
                    depth: int | None = None, rankdir: str = "LR",
                    title: str = "Backprop, step by step") -> Path:
    """Run ``loss.backward()`` and write the page replaying it to ``path`` (options as draw_graph)."""
    trace = trace_backward(loss)
    picture = build_picture([loss], params=params, model=model, names=names, grads=trace, depth=depth)
    svg = SVG_PREAMBLE.sub("", to_svg(to_digraph(picture, rankdir)))
    frames = replay(picture, trace)
    data = [box.id for box in picture.boxes.values() if box.role == "data"]
    data += [arrow.id for arrow in picture.arrows.values() if arrow.data]
    page = (PAGE.replace("{{title}}", html.escape(title))
                .replace("{{min_width}}", f"{min_width(svg):.0f}")
                .replace("{{svg}}", svg)
                .replace("{{frames}}", _json(frames))
                .replace("{{data}}", _json(data)))
    path = Path(path)
    path.write_text(page, encoding="utf-8")
    return path


def min_width(svg: str) -> float:
    """The picture's narrowest width on the page, in CSS pixels: MIN_SCALE of its own."""
    points = float(re.search(r'<svg width="([\d.]+)pt"', svg).group(1))
    return points * PX_PER_PT * MIN_SCALE


def replay(picture: Picture, trace: BackwardTrace) -> list[dict[str, Any]]:
    """One frame per node of ``trace.order``; a leaf is also done in the frame of its last user."""
    complete = trace.complete_at()
    steps = {node: step for step, node in enumerate(trace.order, 1)}
    early: dict[int, list] = {}  # step -> the leaves whose gradient that step completed
    for node, at in complete.items():
        if not isinstance(node, Function) and at < steps[node]:
            early.setdefault(at, []).append(node)
    return [frame(picture, trace, node, step, early.get(step, []), complete, steps)
            for step, node in enumerate(trace.order, 1)]


def frame(picture: Picture, trace: BackwardTrace, node: Any, step: int, leaves: list,
          complete: Mapping[Any, int], steps: Mapping[Any, int]) -> dict[str, Any]:
    """Step ``step``: which SVG elements light up, and the sentences that explain it.

    ``leaves``: the leaves whose last user is ``node``; their gradient is complete now,
    although the engine writes it into their ``.grad`` only at their own step.
    """
    box = picture.boxes[picture.tensor_box[node]]
    shape = describe.shape(tuple(node.shape), node.dtype)
    if isinstance(node, Function):
        parents = sum(p is not None for p in node.parents)
        what = f"dL/d({_name(picture, node)}), {shape}, is complete: "
        after = [f"{picture.op_name(node)}'s backward now sends it to {parents} input{'s' * (parents != 1)}."]
    else:
        what = f"dL/d({_name(picture, node)}), {shape}, goes into its .grad: "
        after = ["A leaf: the gradient stops here."]
        if complete[node] < step:
            user = trace.order[complete[node] - 1]
            after.append(f"It was complete at step {complete[node]}, when {picture.op_name(user)}, the last op "
                         f"that uses it, sent its share; the engine's walk reaches it only now.")
    for leaf in leaves:
        after.append(f"That completes dL/d({_name(picture, leaf)}) too: "
                     f"{picture.op_name(node)} was the last op that uses it (the engine writes it into .grad "
                     f"at step {steps[leaf]}).")
    return {"node": box.id, "ids": picture.lit_by(node),
            "done": [picture.tensor_box[leaf] for leaf in leaves],
            "what": what, "grad": describe.gradient(trace.grads[node].array), "after": " ".join(after)}


def _name(picture: Picture, node: Any) -> str:
    """How the page calls a tensor: its name, else what made it (and where, if hidden in a module)."""
    box = picture.boxes[picture.tensor_box[node]]
    if box.kind == "tensor" and box.title:
        return box.title
    made = f"the output of {picture.op_name(node)}" if isinstance(node, Function) else "an input"
    return made if box.kind == "tensor" else f"{made} inside {box.title}"


def _json(value: Any) -> str:
    """JSON that is safe inside a <script> element (no "</" to end it early)."""
    return json.dumps(value).replace("</", "<\\/")


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{title}}</title>
<style>
  body { font-family: "DejaVu Sans", Arial, Helvetica, sans-serif; margin: 1em; color: #212121; }
  #controls { position: sticky; top: 0; z-index: 1; background: #fff; padding: .5em 0;
              border-bottom: 1px solid #ddd; }
  #controls button { font-size: 1em; min-width: 4.5em; }
  #slider { width: 35%; vertical-align: middle; }
  #explain { margin: .4em 0; min-height: 4.8em; }
  #grad { color: #b71c1c; font-family: monospace; }
  #picture { overflow-x: auto; }
  /* Fit to the window's width, but never below MIN_SCALE of the picture's size: past that, scroll. */
  #picture svg { max-width: 100%; min-width: {{min_width}}px; height: auto; }
  #picture.full svg { max-width: none; min-width: 0; }
  .pending { opacity: .18; }
  .current { filter: drop-shadow(0 0 5px #e91e63) drop-shadow(0 0 2px #e91e63); }
  g.node, g.edge { transition: opacity .25s; }
</style></head>
<body>
<h2>{{title}}</h2>
<div id="controls">
  <!-- Words, not symbols: a glyph such as U+23EE (first) is missing from many fonts and shows as a box. -->
  <button id="first" title="before backward (Home)">first</button>
  <button id="prev" title="previous step (Left)">back</button>
  <button id="play" title="play / pause (Space)">play</button>
  <button id="next" title="next step (Right)">next</button>
  <input id="slider" type="range" min="0" value="0">
  <span id="counter"></span>
  <label><input id="full" type="checkbox"> full size</label>
  <div id="explain"></div>
</div>
<div id="picture">{{svg}}</div>
<script id="frames" type="application/json">{{frames}}</script>
<script id="data" type="application/json">{{data}}</script>
<script>
(function () {
  var frames = JSON.parse(document.getElementById("frames").textContent);
  var data = JSON.parse(document.getElementById("data").textContent);  // never waits for a gradient
  var firstLit = {};  // element id -> the first step that lights it (a leaf: its last user's step)
  frames.forEach(function (f, k) {
    f.ids.concat(f.done).forEach(function (id) { if (!(id in firstLit)) firstLit[id] = k + 1; });
  });
  var all = document.querySelectorAll("#picture g.node, #picture g.edge");
  var picture = document.getElementById("picture"), controls = document.getElementById("controls");
  var slider = document.getElementById("slider"), step = 0, timer = null;
  slider.max = frames.length;

  // Bring the current node into view, in the middle of what the sticky controls leave free,
  // when it is out of sight: the window scrolls up and down, the picture sideways.
  function keepInView(el) {
    var box = el.getBoundingClientRect(), top = controls.getBoundingClientRect().bottom;
    if (box.top < top || box.bottom > window.innerHeight) {
      window.scrollBy(0, box.top + box.height / 2 - (top + window.innerHeight) / 2);
    }
    var frame = picture.getBoundingClientRect();
    if (box.left < frame.left || box.right > frame.right) {
      picture.scrollLeft += box.left + box.width / 2 - (frame.left + frame.right) / 2;
    }
  }

  function show(k) {
    step = Math.max(0, Math.min(frames.length, k));
    slider.value = step;
    var f = step > 0 ? frames[step - 1] : null, current = f ? f.ids.concat(f.done) : [];
    all.forEach(function (el) {
      var lit = firstLit[el.id];
      el.classList.toggle("pending", data.indexOf(el.id) < 0 && (lit === undefined || lit > step));
      el.classList.toggle("current", current.indexOf(el.id) >= 0);
    });
    document.getElementById("counter").textContent = "step " + step + " of " + frames.length;
    try { history.replaceState(null, "", "#step=" + step); } catch (e) { /* some file:// pages */ }
    var box = document.getElementById("explain");
    if (!f) {
      box.textContent = "Before backward: no gradient yet. Press next (or the Right key) to start at the loss.";
      return;
    }
    box.innerHTML = "";
    [["b", f.what], ["span", f.grad], ["div", f.after]].forEach(function (p) {
      var el = document.createElement(p[0]);
      el.textContent = p[1];
      if (p[0] === "span") el.id = "grad";
      box.appendChild(el);
    });
    keepInView(document.getElementById(f.node));
  }
  function play() {
    var button = document.getElementById("play");
    if (timer) { clearInterval(timer); timer = null; button.textContent = "play"; return; }
    if (step === frames.length) show(0);
    button.textContent = "pause";
    timer = setInterval(function () {
      if (step >= frames.length) { clearInterval(timer); timer = null; button.textContent = "play"; }
      else show(step + 1);
    }, 900);
  }
  function fromAddress() {  // page.html#step=5 opens at step 5
    var asked = /step=(\\d+)/.exec(location.hash);
    return asked ? parseInt(asked[1], 10) : 0;
  }
  document.getElementById("first").onclick = function () { show(0); };
  document.getElementById("prev").onclick = function () { show(step - 1); };
  document.getElementById("next").onclick = function () { show(step + 1); };
  document.getElementById("play").onclick = play;
  document.getElementById("full").onchange = function (e) {
    picture.classList.toggle("full", e.target.checked);
    if (step > 0) keepInView(document.getElementById(frames[step - 1].node));
  };
  slider.oninput = function () { show(parseInt(slider.value, 10)); };
  var keys = {ArrowRight: function () { show(step + 1); }, ArrowLeft: function () { show(step - 1); },
              Home: function () { show(0); }, End: function () { show(frames.length); }, " ": play};
  document.addEventListener("keydown", function (e) {
    if (!(e.key in keys) || (e.target === slider && e.key.indexOf("Arrow") === 0)) return;  // the slider steps itself
    e.preventDefault();  // else the browser scrolls too (End: to the bottom), away from the current node
    keys[e.key]();
  });
  window.addEventListener("hashchange", function () { if (fromAddress() !== step) show(fromAddress()); });
  show(fromAddress());
})();
</script>
</body></html>
"""
