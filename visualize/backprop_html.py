"""A web page that replays backward one node at a time, in the engine's real order.

``render_backprop(loss, "backprop.html")`` runs ``loss.backward()`` under
``trace_backward`` and writes ONE self-contained file: the graph as inline SVG
(every gradient already printed on it) and a small inline script, with no
network access and nothing else to download.

Step k of the replay is the k-th node whose gradient the engine completed
(the order ``observe`` reported). At that step the node's boxes glow, the page
says which gradient was just computed and what happens to it next, and the
arrows into the node light up: its op's backward sends the gradient on to its
inputs. Nodes still waiting for their gradient are faded. Buttons, the slider
and the arrow keys move between steps.

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
from .graph import Box, Picture, build_picture
from .renderer import to_svg
from .trace import BackwardTrace, trace_backward

# What an SVG file carries that a page does not need: the XML prolog, the DOCTYPE,
# comments and namespace declarations (HTML parses inline SVG without them). Removing
# them also leaves no http:// address anywhere in the page.
SVG_PREAMBLE = re.compile(r"<\?xml.*?\?>|<!DOCTYPE.*?>|<!--.*?-->|\s+xmlns(:\w+)?=\"[^\"]*\"", re.S)


def render_backprop(loss: Tensor, path: "str | Path", *, params: Mapping[str, Tensor] | None = None,
                    model: Any = None, names: Mapping[str, Tensor] | None = None,
                    depth: int | None = None, rankdir: str = "LR",
                    title: str = "Backprop, step by step") -> Path:
    """Run ``loss.backward()`` and write the page replaying it to ``path`` (options as draw_graph)."""
    trace = trace_backward(loss)
    picture = build_picture([loss], params=params, model=model, names=names, grads=trace, depth=depth)
    svg = SVG_PREAMBLE.sub("", to_svg(to_digraph(picture, rankdir)))
    frames = [frame(picture, trace, node) for node in trace.order]
    page = (PAGE.replace("{{title}}", html.escape(title))
                .replace("{{svg}}", svg)
                .replace("{{frames}}", json.dumps(frames).replace("</", "<\\/")))
    path = Path(path)
    path.write_text(page, encoding="utf-8")
    return path


def frame(picture: Picture, trace: BackwardTrace, node: Any) -> dict[str, Any]:
    """One step: which SVG elements light up, and the sentences that explain it."""
    box = picture.boxes[picture.tensor_box[node]]
    if isinstance(node, Function):
        parents = sum(p is not None for p in node.parents)
        after = f"{node.name}'s backward now sends it to {parents} input{'s' * (parents != 1)}."
    else:
        after = "A leaf: the gradient stops here, in .grad."
    return {"node": box.id, "ids": picture.lit_by(node),
            "what": f"dL/d({_name(box, node)}), {describe.shape(tuple(node.shape), node.dtype)}",
            "grad": describe.gradient(trace.grads[node].data), "after": after}


def _name(box: Box, node: Any) -> str:
    """How the page calls a tensor: its name, else what made it (and where, if hidden in a module)."""
    if box.kind == "tensor" and box.title:
        return box.title
    made = f"the output of {node.name}" if isinstance(node, Function) else "an input"
    return made if box.kind == "tensor" else f"{made} inside {box.title}"


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{title}}</title>
<style>
  body { font-family: Helvetica, Arial, sans-serif; margin: 1em; color: #212121; }
  #controls { position: sticky; top: 0; background: #fff; padding: .5em 0; border-bottom: 1px solid #ddd; }
  #controls button { font-size: 1em; min-width: 3em; }
  #slider { width: 40%; vertical-align: middle; }
  #explain { margin: .4em 0; min-height: 3.6em; }
  #grad { color: #b71c1c; font-family: monospace; }
  #picture { overflow: auto; }
  #picture svg { max-width: 100%; height: auto; }
  #picture.full svg { max-width: none; }
  .pending { opacity: .18; }
  .current { filter: drop-shadow(0 0 5px #e91e63) drop-shadow(0 0 2px #e91e63); }
  g.node, g.edge { transition: opacity .25s; }
</style></head>
<body>
<h2>{{title}}</h2>
<div id="controls">
  <button id="first" title="before backward (Home)">&#x23EE;</button>
  <button id="prev" title="previous step (Left)">&#x25C0;</button>
  <button id="play" title="play / pause (Space)">&#x25B6;</button>
  <button id="next" title="next step (Right)">&#x25B6;&#x25B6;</button>
  <input id="slider" type="range" min="0" value="0">
  <span id="counter"></span>
  <label><input id="full" type="checkbox"> full size</label>
  <div id="explain"></div>
</div>
<div id="picture">{{svg}}</div>
<script id="frames" type="application/json">{{frames}}</script>
<script>
(function () {
  var frames = JSON.parse(document.getElementById("frames").textContent);
  var firstLit = {};  // element id -> the first step that lights it
  frames.forEach(function (f, k) {
    f.ids.forEach(function (id) { if (!(id in firstLit)) firstLit[id] = k + 1; });
  });
  var all = document.querySelectorAll("#picture g.node, #picture g.edge");
  var slider = document.getElementById("slider"), step = 0, timer = null;
  slider.max = frames.length;

  function show(k) {
    step = Math.max(0, Math.min(frames.length, k));
    slider.value = step;
    var current = step > 0 ? frames[step - 1].ids : [];
    all.forEach(function (el) {
      var lit = firstLit[el.id];
      el.classList.toggle("pending", lit === undefined || lit > step);
      el.classList.toggle("current", current.indexOf(el.id) >= 0);
    });
    document.getElementById("counter").textContent = "step " + step + " of " + frames.length;
    var box = document.getElementById("explain");
    if (step === 0) {
      box.innerHTML = "Before backward: no gradient yet. Press &#x25B6;&#x25B6; to start at the loss.";
      return;
    }
    var f = frames[step - 1];
    box.innerHTML = "";
    [["b", f.what + " is complete: "], ["span", f.grad], ["div", f.after]].forEach(function (p) {
      var el = document.createElement(p[0]);
      el.textContent = p[1];
      if (p[0] === "span") el.id = "grad";
      box.appendChild(el);
    });
  }
  function play() {
    if (timer) { clearInterval(timer); timer = null; return; }
    if (step === frames.length) show(0);
    timer = setInterval(function () {
      if (step >= frames.length) { clearInterval(timer); timer = null; } else show(step + 1);
    }, 900);
  }
  document.getElementById("first").onclick = function () { show(0); };
  document.getElementById("prev").onclick = function () { show(step - 1); };
  document.getElementById("next").onclick = function () { show(step + 1); };
  document.getElementById("play").onclick = play;
  document.getElementById("full").onchange = function (e) {
    document.getElementById("picture").classList.toggle("full", e.target.checked);
  };
  slider.oninput = function () { show(parseInt(slider.value, 10)); };
  document.addEventListener("keydown", function (e) {
    if (e.key === "ArrowRight") show(step + 1);
    else if (e.key === "ArrowLeft") show(step - 1);
    else if (e.key === "Home") show(0);
    else if (e.key === "End") show(frames.length);
    else if (e.key === " ") { e.preventDefault(); play(); }
  });
  show(0);
})();
</script>
</body></html>
"""
