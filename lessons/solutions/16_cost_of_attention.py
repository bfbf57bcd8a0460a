"""Lesson 16's exercise: the feed-forward sublayer's memory, linear in n, against attention's n².

(How these files work: lessons/README.md, "How a lesson is built".)
"""
import tinytensor as tt


class FeedForward(tt.nn.Module):
    """The position-wise feed-forward network, called like the attention."""

    def __init__(self, d_model):
        super().__init__()
        self.net = tt.nn.Sequential(tt.nn.Linear(d_model, 4 * d_model), tt.nn.ReLU(),
                                    tt.nn.Linear(4 * d_model, d_model))

    def forward(self, query, key, value, need_weights=False):
        return self.net(query), None


def feed_forward_memory(ns):
    tt.manual_seed(0)
    network = FeedForward(ns["d_model"])
    ns["ffn_peaks"] = {n: ns["peak_bytes"](network, n) for n in ns["lengths"]}
    ns["attention_costs_more_from"] = next(n for n in ns["lengths"] if ns["peaks"][n] > ns["ffn_peaks"][n])


def check_feed_forward_memory(ffn_peaks, attention_costs_more_from, peaks, lengths, slope, peak_bytes, d_model):
    assert sorted(ffn_peaks) == sorted(lengths), f"ffn_peaks needs one peak for each n of lengths: {lengths}"
    tt.manual_seed(0)
    reference = peak_bytes(FeedForward(d_model), 256)
    assert abs(ffn_peaks[256] - reference) < 0.05 * reference, \
        (f"ffn_peaks[256] = {ffn_peaks[256]:,} bytes, but the network Linear(64, 256), ReLU, Linear(256, 64) "
         f"peaks at {reference:,}")
    exponent = slope(lengths[-3:], [ffn_peaks[n] for n in lengths[-3:]])
    assert 0.8 < exponent < 1.2, f"the feed-forward exponent is {exponent:.2f}"
    first = next(n for n in lengths if peaks[n] > ffn_peaks[n])
    assert attention_costs_more_from == first, \
        f"attention_costs_more_from = {attention_costs_more_from}, but attention costs more from n = {first}"
    assert first == d_model and peaks[1024] > 4 * ffn_peaks[1024]
    return (f"the feed-forward network's memory grows as n^{exponent:.2f}, attention's as n²: attention costs "
            f"more from n = {first} = d_model on, {peaks[1024] / ffn_peaks[1024]:.1f} times more at n = 1024")


def wrong_feed_forward_memory(ns):
    """The crossing read the wrong way round: the first n where the feed-forward network costs more."""
    feed_forward_memory(ns)
    ns["attention_costs_more_from"] = next(n for n in ns["lengths"] if ns["peaks"][n] < ns["ffn_peaks"][n])
