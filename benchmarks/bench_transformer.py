#!/usr/bin/env python
"""tinytensor's Transformer against torch.nn.Transformer (CPU): training step, greedy decoding, memory.

    python benchmarks/bench_transformer.py                 # both cases, 3 sizes, 1 and 2 threads
    python benchmarks/bench_transformer.py --quick         # a fast smoke run (fewer, shorter repeats)
    python benchmarks/bench_transformer.py --cases train --sizes 128 --threads 1 --profile 25
    python benchmarks/bench_transformer.py --json out.json # also write the figures as JSON

The model is a translation Transformer (vocabulary 1000 for source and target, pad id 0,
bos 1): token embedding * sqrt(d_model) + sinusoidal positions, dropout 0.1, a post-norm
relu nn.Transformer (batch first), and an output Linear tied to the target embedding.
tinytensor's is ``transformer.Seq2SeqTransformer``; torch's is written here from
nn.Embedding, the same sinusoids, ``torch.nn.Transformer`` and nn.Linear, with the same
parameter names, so torch's initial weights load into tinytensor's model key for key.
Sizes (``--sizes``): d_model 64 with 2 + 2 layers, 128 with 3 + 3, 256 with 3 + 3; nhead =
d_model / 32, dim_feedforward = 4 * d_model. The batch: 64 sentences, source and target
length 20, random token ids, each sentence 12..20 tokens then padding (the same NumPy
arrays in both frameworks).

The cases (``--list`` prints them):

train    one training step: forward, label-smoothed cross-entropy (0.1, ignoring padding),
         backward, Adam (betas 0.9, 0.98, eps 1e-9), in ms. Before timing, with dropout
         set to 0, both frameworks compute loss and gradients from the same weights, which
         must agree to 1e-3 (relative). Also measured: the peak resident set size of each
         worker process (ru_maxrss; printed with the size before the first step: imports,
         model, data), and the peak live memory during one step above what was live at its
         start: tinytensor's by tracemalloc (which sees NumPy's arrays and Python objects),
         torch's from the profiler's allocation events (profile_memory=True: the bytes its
         CPU allocator holds for tensors).
decode   greedy decoding of the 64 source sentences to 20 tokens, in eval mode under no_grad,
         in ms: tinytensor's ``greedy_decode`` with its key-value cache and without it
         (use_cache=False: the decoder reruns the whole prefix every step), against torch's
         straightforward loop (nn.Transformer has no cache: encode once, run the decoder
         over the whole prefix each step, the generator on the last position). The eos id
         is one no model produces, so every sentence takes all 20 steps. Printed: the share
         of tokens equal to torch's (ties aside, the same weights give the same tokens).

How it measures is bench_engine.py's (harness.py): each (case, size, thread count,
framework) runs in a fresh worker process, torch's first (it writes the initial weights
tinytensor's copies), in ``--rounds`` alternating rounds of ``--repeat`` repeats of at least
``--min-time`` seconds after ``--warmup`` calls; the figure is the median. ``--threads 1 2``
runs everything at each count: NumPy's BLAS pinned with threadpoolctl,
torch.set_num_threads. The ratio is tinytensor / torch: below 1 means tinytensor is faster.
Targets: a training step <= 1.0 at 1 thread; decoding with the cache <= 0.3.

PyTorch is only a yardstick here: when it is not installed, tinytensor's figures print
alone. This script never changes tinytensor.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import resource
import sys
import tempfile
import tracemalloc
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# The shared machinery (machine info, timing, worker processes, printing) is in harness.py,
# which also puts the tinytensor to time (this checkout's, or --engine DIR) on sys.path.
import harness

import numpy as np

import tinytensor as tt

VOCAB, PAD, BOS = 1000, 0, 1
EOS = VOCAB                        # an id outside the vocabulary: never produced, so decoding
BATCH, SRC_LEN, TGT_LEN = 64, 20, 20  # runs all of its max_len steps
MIN_WORDS = 12                     # sentences have 12..20 tokens, then padding
LAYERS = {64: 2, 128: 3, 256: 3}   # d_model -> encoder layers (as many decoder layers)
DROPOUT, LABEL_SMOOTHING = 0.1, 0.1
LR, BETAS, EPS = 5e-4, (0.9, 0.98), 1e-9
CASES = {
    "train": "training step: forward, label-smoothed cross-entropy, backward, Adam",
    "decode": f"greedy decoding of {BATCH} sentences to {TGT_LEN} tokens (eval, no_grad)",
}
TARGETS = {"train": 1.0, "decode": 0.3}  # ratio targets: a step at 1 thread, decoding with the cache
PROFILE_CALLS = {"train": 5, "decode": 3}


def shape(d_model: int) -> dict:
    """The Transformer's settings for one size."""
    return dict(d_model=d_model, nhead=d_model // 32, layers=LAYERS[d_model],
                dim_feedforward=4 * d_model)


def batch(seed: int = 0) -> dict[str, np.ndarray]:
    """Source ids (B, S), decoder input and target ids (B, T): random words, then padding."""
    rng = np.random.default_rng(seed)

    def sentences(length: int, lengths: np.ndarray) -> np.ndarray:
        ids = rng.integers(3, VOCAB, (BATCH, length))          # 0, 1, 2: pad, bos, (eos)
        ids[np.arange(length) >= lengths[:, None]] = PAD
        return ids

    src = sentences(SRC_LEN, rng.integers(MIN_WORDS, SRC_LEN + 1, BATCH))
    tgt = sentences(TGT_LEN + 1, rng.integers(MIN_WORDS, TGT_LEN + 1, BATCH) + 1)
    tgt[:, 0] = BOS                                            # "<bos> words pad..."
    return {"src": src, "tgt_in": tgt[:, :-1], "target": tgt[:, 1:]}


def sinusoids(length: int, d_model: int) -> np.ndarray:
    """PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(...): (length, d_model) float32."""
    angles = np.arange(length, dtype=np.float64)[:, None] * np.exp(
        np.arange(0, d_model, 2, dtype=np.float64) * (-math.log(10000.0) / d_model))
    pe = np.stack([np.sin(angles), np.cos(angles)], axis=2).reshape(length, -1)
    return pe[:, :d_model].astype(np.float32)


# ----------------------------------------------------------------------------
# The two frameworks, behind the same few calls
# ----------------------------------------------------------------------------
class Tiny:
    """tinytensor's transformer package, on ``device`` (gpu_check.py uses "cuda")."""

    name = "tinytensor"

    def __init__(self, device: str = "cpu") -> None:
        import transformer

        self.transformer, self.device = transformer, device

    def model(self, d_model: int) -> Any:
        s = shape(d_model)
        return self.transformer.Seq2SeqTransformer(
            VOCAB, VOCAB, d_model, s["nhead"], s["layers"], s["layers"], s["dim_feedforward"],
            DROPOUT, pad_id=PAD, tie_embeddings=True).to(self.device)

    @staticmethod
    def load(model: Any, state: dict[str, np.ndarray]) -> None:
        model.load_state_dict({k: tt.tensor(v) for k, v in state.items()})

    def ids(self, array: np.ndarray) -> Any:
        return tt.tensor(array, dtype=tt.int64, device=self.device)

    @staticmethod
    def loss(logits: Any, target: Any) -> Any:
        return tt.functional.cross_entropy(logits.reshape(-1, VOCAB), target.reshape(-1),
                                           ignore_index=PAD, label_smoothing=LABEL_SMOOTHING)

    @staticmethod
    def adam(model: Any) -> Any:
        return tt.optim.Adam(model.parameters(), lr=LR, betas=BETAS, eps=EPS)

    def dropout_slots(self, model: Any) -> list[tuple[Any, str]]:
        """(module, attribute) of every dropout probability: Dropout.p, attention's dropout."""
        return [(m, "p") if isinstance(m, tt.nn.Dropout) else (m, "dropout") for m in model.modules()
                if isinstance(m, (tt.nn.Dropout, self.transformer.MultiheadAttention))]

    @staticmethod
    def numpy(t: Any) -> np.ndarray:
        return np.asarray(t.numpy())

    def decoders(self, model: Any, src: Any) -> dict[str, Callable[[], Any]]:
        def greedy(use_cache: bool) -> Callable[[], Any]:
            return lambda: self.transformer.greedy_decode(model, src, max_len=TGT_LEN, bos_id=BOS,
                                                          eos_id=EOS, use_cache=use_cache)
        return {"cache": greedy(True), "no cache": greedy(False)}

    @staticmethod
    def peak_live(step: Callable[[], Any]) -> int:
        """Peak bytes traced above the start of one step (the step before it is traced too, so
        that what it leaves, e.g. gradients freed by zero_grad, is counted when freed)."""
        tracemalloc.start()
        try:
            step()
            start = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            step()
            return tracemalloc.get_traced_memory()[1] - start
        finally:
            tracemalloc.stop()

    @staticmethod
    def threads() -> Any:
        return harness.numpy_blas()[0]


class Torch:
    """The same model from torch.nn parts, on ``device``."""

    name = "torch"

    def __init__(self, torch: Any, device: str = "cpu") -> None:
        self.torch, self.device = torch, device
        warnings.filterwarnings("ignore", module=r"torch\.nn\.modules\.transformer")

    def model(self, d_model: int) -> Any:
        s = shape(d_model)
        model = self.seq2seq(VOCAB, VOCAB, d_model, s["nhead"], s["layers"], s["layers"],
                             s["dim_feedforward"], DROPOUT, max_len=max(SRC_LEN, TGT_LEN))
        return model.to(self.device)

    def seq2seq(self, src_vocab: int, tgt_vocab: int, d_model: int, nhead: int, num_encoder_layers: int,
                num_decoder_layers: int, dim_feedforward: int, dropout: float, *, max_len: int,
                pad_id: int = PAD, norm_first: bool = False) -> Any:
        """Seq2SeqTransformer's twin from torch.nn parts, with its parameter names; positions up
        to ``max_len`` (bench_translate.py builds its translator with it too)."""
        torch, nn = self.torch, self.torch.nn

        class TokenEmbedding(nn.Module):
            """nn.Embedding * sqrt(d_model), weights N(0, 1/d_model), the pad row zero."""

            def __init__(self, vocab: int) -> None:
                super().__init__()
                self.embedding = nn.Embedding(vocab, d_model, padding_idx=pad_id)
                nn.init.normal_(self.embedding.weight, 0.0, d_model ** -0.5)
                with torch.no_grad():
                    self.embedding.weight[pad_id] = 0

            def forward(self, ids: Any) -> Any:
                return self.embedding(ids) * math.sqrt(d_model)

        class Seq2Seq(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.src_embed, self.tgt_embed = TokenEmbedding(src_vocab), TokenEmbedding(tgt_vocab)
                self.register_buffer("pe", torch.tensor(sinusoids(max_len, d_model)), persistent=False)
                self.dropout = nn.Dropout(dropout)
                self.transformer = nn.Transformer(d_model, nhead, num_encoder_layers, num_decoder_layers,
                                                  dim_feedforward, dropout, batch_first=True,
                                                  norm_first=norm_first)
                self.generator = nn.Linear(d_model, tgt_vocab)
                self.generator.weight = self.tgt_embed.embedding.weight

            def embed(self, embedding: Any, ids: Any) -> Any:
                return self.dropout(embedding(ids) + self.pe[:ids.shape[1]])

            def forward(self, src: Any, tgt_in: Any) -> Any:
                padding = src == pad_id
                causal = nn.Transformer.generate_square_subsequent_mask(tgt_in.shape[1],
                                                                        device=tgt_in.device)
                y = self.transformer(self.embed(self.src_embed, src), self.embed(self.tgt_embed, tgt_in),
                                     tgt_mask=causal, src_key_padding_mask=padding,
                                     memory_key_padding_mask=padding)
                return self.generator(y)

        return Seq2Seq()

    def load(self, model: Any, state: dict[str, np.ndarray]) -> None:
        model.load_state_dict({k: self.torch.tensor(v) for k, v in state.items()})

    def ids(self, array: np.ndarray) -> Any:
        return self.torch.tensor(array, dtype=self.torch.int64, device=self.device)

    def loss(self, logits: Any, target: Any) -> Any:
        return self.torch.nn.functional.cross_entropy(
            logits.reshape(-1, VOCAB), target.reshape(-1), ignore_index=PAD,
            label_smoothing=LABEL_SMOOTHING)

    def adam(self, model: Any) -> Any:
        return self.torch.optim.Adam(model.parameters(), lr=LR, betas=BETAS, eps=EPS)

    def dropout_slots(self, model: Any) -> list[tuple[Any, str]]:
        nn = self.torch.nn
        return [(m, "p") if isinstance(m, nn.Dropout) else (m, "dropout") for m in model.modules()
                if isinstance(m, (nn.Dropout, nn.MultiheadAttention))]

    @staticmethod
    def numpy(t: Any) -> np.ndarray:
        return t.detach().cpu().numpy()

    def decoders(self, model: Any, src: Any) -> dict[str, Callable[[], Any]]:
        torch, nn = self.torch, self.torch.nn

        def greedy() -> Any:
            model.eval()
            with torch.no_grad():
                padding = src == PAD
                memory = model.transformer.encoder(model.embed(model.src_embed, src),
                                                   src_key_padding_mask=padding)
                ys = torch.full((src.shape[0], 1), BOS, dtype=torch.int64, device=src.device)
                for _ in range(TGT_LEN):  # all the steps: nothing stops at EOS
                    causal = nn.Transformer.generate_square_subsequent_mask(ys.shape[1],
                                                                            device=src.device)
                    y = model.transformer.decoder(model.embed(model.tgt_embed, ys), memory,
                                                  tgt_mask=causal, memory_key_padding_mask=padding)
                    token = model.generator(y[:, -1]).argmax(-1)
                    ys = torch.cat([ys, token[:, None]], 1)
            return ys[:, 1:]
        return {"greedy": greedy}

    def peak_live(self, step: Callable[[], Any]) -> int:
        """Peak bytes torch's CPU allocator holds above the start of one step, from the
        profiler's allocation events (each carries the allocator's running total; like
        tracemalloc, it counts only blocks allocated while profiling, hence the step before)."""
        from torch._C._profiler import _EventType
        from torch.profiler import ProfilerActivity, profile, record_function

        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            step()
            with record_function("measured step"):
                step()
        allocations, measured = [], []

        def walk(nodes: list) -> None:
            for node in nodes:
                if node.tag == _EventType.Allocation:
                    allocations.append(node)
                elif node.name == "measured step":
                    measured.append(node)
                walk(node.children)
        walk(prof.profiler.kineto_results.experimental_event_tree())
        begin, end = measured[0].start_time_ns, measured[0].end_time_ns
        allocations.sort(key=lambda n: n.start_time_ns)
        before = [n.extra_fields.total_allocated for n in allocations if n.start_time_ns < begin]
        during = [n.extra_fields.total_allocated for n in allocations if begin <= n.start_time_ns <= end]
        start = before[-1] if before else 0
        return max(during, default=start) - start

    def threads(self) -> Any:
        return self.torch.get_num_threads()


@contextlib.contextmanager
def no_dropout(lib: Any, model: Any) -> Iterator[None]:
    """Every dropout probability of the model at 0 for the block, then back."""
    slots = lib.dropout_slots(model)
    saved = [getattr(m, attr) for m, attr in slots]
    for m, attr in slots:
        setattr(m, attr, 0.0)
    try:
        yield
    finally:
        for (m, attr), value in zip(slots, saved):
            setattr(m, attr, value)


def load_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as f:
        return dict(f)


def peak_rss_bytes() -> int:
    """This process's peak resident set size so far (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


# ----------------------------------------------------------------------------
# The worker: one (case, size, thread count, framework) in a fresh process
# ----------------------------------------------------------------------------
def worker(args: argparse.Namespace) -> int:
    work, case, d_model, framework = Path(args.work), args.case, args.size, args.worker
    torch = harness.start_worker(framework, args.threads)
    lib: Any = Torch(torch) if framework == "torch" else Tiny()
    model = lib.model(d_model)
    init = work / f"init.{d_model}.npz"       # torch's initial weights, for tinytensor's model
    copied = False
    if framework == "torch" and not init.exists():
        np.savez(init, **{k: v.numpy() for k, v in model.state_dict().items()})
    elif init.exists():  # (torch's later workers load it too: the same weights in every round)
        lib.load(model, load_npz(init))
        copied = framework == "tinytensor"
    data = {k: lib.ids(v) for k, v in batch().items()}
    result: dict = {"copied": copied, "params": sum(int(np.prod(p.shape)) for p in model.parameters()),
                    "rss_setup": peak_rss_bytes(), "steps": {}}
    prefix = f"{case}.{d_model}.{args.threads}"

    if case == "train":
        opt = lib.adam(model)

        def step() -> None:
            opt.zero_grad()
            loss = lib.loss(model(data["src"], data["tgt_in"]), data["target"])
            loss.backward()
            opt.step()

        check = work / f"check.{d_model}.{framework}.npz"
        if not check.exists():  # loss and gradients without dropout, before any step
            with no_dropout(lib, model):
                opt.zero_grad()
                loss = lib.loss(model(data["src"], data["tgt_in"]), data["target"])
                loss.backward()
                np.savez(check, loss=lib.numpy(loss),
                         **{name: lib.numpy(p.grad) for name, p in model.named_parameters()})
                opt.zero_grad()
        steps = {"step": step}
    else:
        steps = lib.decoders(model, data["src"])
        for variant, decode in steps.items():
            tokens = work / f"tokens.{d_model}.{framework}.{variant}.npy"
            if not tokens.exists():
                np.save(tokens, lib.numpy(decode()))

    for variant, step_fn in steps.items():
        wall, cpu = harness.measure(step_fn, args.repeat, args.warmup, args.min_time)
        result["steps"][variant] = {"times": [t * 1e3 for t in wall], "cpu": [t * 1e3 for t in cpu]}
    result["rss_peak"] = peak_rss_bytes()
    result["threads"] = lib.threads()
    if args.live and case == "train":
        try:
            result["live_peak"] = lib.peak_live(steps["step"])
        except Exception as error:  # noqa: BLE001  (a private torch API may change: say so)
            result["live_error"] = f"{type(error).__name__}: {error}"
    if args.profile and framework == "tinytensor":
        first = next(iter(steps.values()))   # train: the step; decode: with the cache
        (work / f"{prefix}.profile.txt").write_text(
            harness.profile_text(first, PROFILE_CALLS[case], args.profile, args.profile_sort))
    (work / f"{prefix}.{framework}.json").write_text(json.dumps(result))
    return 0


# ----------------------------------------------------------------------------
# The parent
# ----------------------------------------------------------------------------
def run(case: str, d_model: int, threads: int, args: argparse.Namespace, work: Path,
        have_torch: bool) -> dict:
    result: dict = {"case": case, "d_model": d_model, "layers": LAYERS[d_model], "threads": threads}
    frameworks = (["torch"] if have_torch else []) + ["tinytensor"]  # torch first: its initial
                                                                      # weights are copied
    prefix = f"{case}.{d_model}.{threads}"

    def run_one(framework: str, round_: int) -> dict | None:
        profile = args.profile if round_ == args.rounds - 1 else 0
        options = ["--case", case, "--size", str(d_model), "--work", str(work),
                   *harness.worker_options(args, threads, profile)] + (["--live"] if round_ == 0 else [])
        return harness.run_worker(__file__, framework, options, work / f"{prefix}.{framework}.json")

    runs, failed = harness.alternate(f"{case} d_model {d_model}, {threads} thread(s)", frameworks,
                                     args.rounds, run_one)
    if failed:
        result["failed"] = failed
        return result
    for framework, figures in runs.items():
        first = figures[0]
        result["params"] = first["params"]
        memory = {"rss_setup": max(f["rss_setup"] for f in figures),
                  "rss_peak": max(f["rss_peak"] for f in figures),
                  **{k: first[k] for k in ("live_peak", "live_error") if k in first}}
        for variant in first["steps"]:
            name = framework if variant in ("step", "greedy") else f"{framework} {variant}"
            result[name] = harness.summarize(
                [t for f in figures for t in f["steps"][variant]["times"]],
                [t for f in figures for t in f["steps"][variant]["cpu"]])
            result[name]["threads"] = sorted({f["threads"] for f in figures}, key=str)
        if case == "train":
            result[f"{framework} memory"] = memory
    if have_torch:
        if case == "train":
            result.update(harness.ratios(result["tinytensor"], result["torch"]))
            result["check"] = compare_gradients(work, d_model, runs["tinytensor"][0]["copied"])
        else:
            for variant in ("cache", "no cache"):
                result[variant] = harness.ratios(result[f"tinytensor {variant}"], result["torch"])
                result[variant]["equal tokens"] = equal_tokens(work, d_model, variant)
    profile = work / f"{prefix}.profile.txt"
    if profile.exists():
        result["profile"] = profile.read_text()
    return result


def compare_gradients(work: Path, d_model: int, copied: bool) -> str:
    if not copied:
        return "not compared: torch's weights were not copied"
    ours = load_npz(work / f"check.{d_model}.tinytensor.npz")
    theirs = load_npz(work / f"check.{d_model}.torch.npz")
    if set(ours) != set(theirs):
        return f"MISMATCH: different parameters: {sorted(set(ours) ^ set(theirs))}"
    diffs = {k: harness.max_difference([ours[k]], [theirs[k]]) for k in theirs}
    worst = max(diffs, key=diffs.get)
    return (harness.check_text(diffs[worst]) + f" without dropout; loss {float(ours['loss']):.6f} vs "
            f"{float(theirs['loss']):.6f}; worst: {worst}")


def equal_tokens(work: Path, d_model: int, variant: str) -> dict:
    ours = np.load(work / f"tokens.{d_model}.tinytensor.{variant}.npy")
    theirs = np.load(work / f"tokens.{d_model}.torch.greedy.npy")
    if ours.shape != theirs.shape:
        return {"share": 0.0, "sentences": 0, "note": f"shapes {ours.shape} vs {theirs.shape}"}
    return {"share": float((ours == theirs).mean()),
            "sentences": int((ours == theirs).all(axis=1).sum()), "of": int(ours.shape[0])}


def print_tables(results: list[dict], have_torch: bool) -> None:
    def ms(r: dict, name: str) -> str:
        return f"{r[name]['median']:.1f}" if name in r else ("failed" if "failed" in r else "n/a")

    def times(x: dict | None) -> str:
        return f"{x['ratio']:.2f}x" if x else ""

    def target(case: str, x: dict | None) -> str:
        return f"<= {TARGETS[case]}" + (f": {'yes' if x['ratio'] <= TARGETS[case] else 'no'}" if x else "")

    def size(r: dict) -> tuple[str, str]:
        return str(r["d_model"]), f"{r['layers']}+{r['layers']}"

    train = [r for r in results if r["case"] == "train"]
    if train:
        print(f"{CASES['train']}; batch {BATCH} x {SRC_LEN}/{TGT_LEN} tokens, vocabulary {VOCAB}; "
              f"ms/step")
        rows = [("d_model", "layers", "params", "threads", "tinytensor", "torch", "ratio",
                 "target (1 thread)", "min ratio", "cpu ratio")]
        for r in train:
            rows.append((*size(r), f"{r.get('params', 0):,}", str(r["threads"]), ms(r, "tinytensor"),
                         ms(r, "torch"), times(r if "ratio" in r else None),
                         target("train", r if "ratio" in r else None) if r["threads"] == 1 else "-",
                         f"{r['ratio_min']:.2f}x" if "ratio" in r else "",
                         f"{r['ratio_cpu']:.2f}x" if "ratio" in r else ""))
        harness.print_rows(rows)
        print()
        for d_model in dict.fromkeys(r["d_model"] for r in train):
            note = next((r["check"] for r in train if r["d_model"] == d_model and "check" in r),
                        "no check (torch missing or a worker failed)")
            print(f"d_model {d_model}: {note}")
        print()

    decode = [r for r in results if r["case"] == "decode"]
    if decode:
        print(f"{CASES['decode']}; ms per batch")
        rows = [("d_model", "layers", "threads", "tt cache", "tt no cache", "torch", "cache ratio",
                 "target (cache)", "no-cache ratio", "cpu ratios", "equal tokens (cache, no cache)")]
        for r in decode:
            cache, plain = r.get("cache"), r.get("no cache")
            rows.append((*size(r), str(r["threads"]), ms(r, "tinytensor cache"),
                         ms(r, "tinytensor no cache"), ms(r, "torch"), times(cache), target("decode", cache),
                         times(plain),
                         f"{cache['ratio_cpu']:.2f}x, {plain['ratio_cpu']:.2f}x" if cache else "",
                         ", ".join(f"{x['equal tokens']['share']:.1%}" for x in (cache, plain))
                         if cache else ""))
        harness.print_rows(rows)
        print()

    if train:
        mib = 2.0 ** 20
        print("memory during the training step, MiB: peak RSS of each worker (in brackets: before "
              "the first step), and the peak live\nmemory one step adds to what was live at its "
              "start (tinytensor: tracemalloc; torch: profiler allocation events)")
        rows = [("d_model", "threads", "tt peak RSS", "torch peak RSS", "tt step live peak",
                 "torch step live peak", "live ratio", "params+grads+Adam")]
        for r in train:
            m = {f: r.get(f"{f} memory", {}) for f in ("tinytensor", "torch")}

            def rss(f: str) -> str:
                return (f"{m[f]['rss_peak'] / mib:.0f} ({m[f]['rss_setup'] / mib:.0f})" if m[f]
                        else "n/a")

            def live(f: str) -> str:
                return (f"{m[f]['live_peak'] / mib:.1f}" if "live_peak" in m[f]
                        else ("error" if "live_error" in m[f] else "n/a"))
            both = all("live_peak" in m[f] for f in m)
            rows.append((str(r["d_model"]), str(r["threads"]), rss("tinytensor"), rss("torch"),
                         live("tinytensor"), live("torch"),
                         f"{m['tinytensor']['live_peak'] / m['torch']['live_peak']:.2f}x" if both
                         else "", f"{4 * 4 * r.get('params', 0) / mib:.1f}"))
        harness.print_rows(rows)
        for r in train:
            for f in ("tinytensor", "torch"):
                if "live_error" in r.get(f"{f} memory", {}):
                    print(f"  d_model {r['d_model']}, {f}: live memory not measured: "
                          f"{r[f'{f} memory']['live_error']}")
        print()
    if have_torch:
        print("ratio = tinytensor / torch of the medians; min ratio: of the fastest repeats; cpu "
              "ratio: of the process\nCPU times (all threads), which resist other load on the "
              "machine when both run one thread")


def main(argv: list[str] | None = None) -> int:
    parser = harness.make_parser(__doc__)
    harness.add_case_arguments(parser, CASES)
    parser.add_argument("--sizes", nargs="+", type=int, choices=list(LAYERS), default=list(LAYERS),
                        metavar="D_MODEL", help="model sizes, by d_model (default: 64 128 256)")
    harness.add_timing_arguments(
        parser, threads=dict(type=int, nargs="+", default=[1, 2], metavar="N",
                             help="thread counts to run each case at, for NumPy's BLAS and for "
                                  "torch (default: 1 2)"),
        profile_help="also cProfile tinytensor's training step (decode: with the cache) and "
                     "print the top N functions (default N: 25)")
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--live", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        args.threads = args.threads[0]
        return worker(args)
    if args.list:
        for name, title in CASES.items():
            print(f"{name:8} {title}")
        return 0
    harness.apply_quick(args)
    threads, blas_text = harness.thread_settings(args.threads)
    have_torch = not args.no_torch and harness.torch_version() is not None
    info = harness.machine(blas_text, ", ".join(map(str, threads)), have_torch)
    harness.print_header("tinytensor Transformer benchmark", info, args, have_torch)

    with tempfile.TemporaryDirectory(prefix="tinytensor-bench-") as tmp:
        results = [run(case, d_model, n, args, Path(tmp), have_torch)
                   for case in args.cases for d_model in args.sizes for n in threads]
    print_tables(results, have_torch)
    print(f"load average at the end: {harness.load_average()}")
    if args.json:
        harness.write_json(args.json, info, args.quick, results)
    for r in results:
        if "profile" in r:
            print(f"\n=== cProfile of tinytensor, {r['case']}, d_model {r['d_model']}, "
                  f"{r['threads']} thread(s) ===\n{r['profile']}")
    return 1 if any("failed" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
