"""visualize: pictures of the computation graph, of backprop and of attention.

The top of the project's layers, beside the application: tinytensor/ (the engine) ->
transformer/ (the model) -> translator/ (the application) and visualize/ (the pictures).
It draws the engine's graphs and the model's attention, and imports nothing of translator/,
which draws its heat maps with it.

Three lines draw a graph with every gradient on it::

    trace = visualize.trace_backward(loss)                  # loss.backward(), watched
    dot = visualize.draw_graph(loss, model=model, grads=trace)
    visualize.render(dot, "graph.svg")                      # or .png; dot.source is DOT

and ``visualize.render_backprop(loss, "backprop.html")`` writes a page that
replays backward one node at a time. ``visualize.plot_attention(weights, x_tokens,
y_tokens, "attention.png")`` draws what each head of a Transformer looks at.
``python -m visualize`` draws the gallery of docs/visualize.md.

Read in this order:
    trace.py          watching backward: every gradient, in the engine's order, and when each was complete
    describe.py       a tensor in a few words (values, or shape and norm)
    graph.py          from the engine's graph to boxes, arrows and module groups
    residual.py       which adds are residual connections, x + sublayer(x), read from the graph
    ink.py            gradient norm -> arrow width and colour
    dot.py            draw_graph: the picture in Graphviz's DOT language
    renderer.py       DOT -> SVG/PNG with Graphviz's dot or graphviz-pure
    backprop_html.py  the step-by-step replay page
    gradient_flow.py  vanishing gradients in a deep stack, with and without residuals
    norm_placement.py post-norm against pre-norm: the gradient in a deep Transformer encoder
    fonts.py          a font with every character of the labels (Chinese too, from pip)
    attention.py      plot_attention: heat maps of attention weights, head by head, layer by layer
    reversal.py       a tiny Transformer learns to reverse words; its three kinds of attention
    gallery.py        the pictures of the docs, and __main__.py that writes them
"""
from .attention import plot_attention
from .backprop_html import render_backprop
from .dot import draw_graph
from .gradient_flow import plot_gradient_flow
from .graph import build_picture
from .norm_placement import plot_norm_placement
from .renderer import RendererNotFound, find_renderer, render, render_bytes, to_svg
from .trace import BackwardTrace, trace_backward

__all__ = ["BackwardTrace", "RendererNotFound", "build_picture", "draw_graph", "find_renderer",
           "plot_attention", "plot_gradient_flow", "plot_norm_placement", "render", "render_backprop",
           "render_bytes", "to_svg", "trace_backward"]
