"""The translator: a trained model and its two vocabularies, from Chinese text to English text.

    translator = Translator.load("runs/zh-en/best.npz")
    translator.translate(["我有一只猫。"])          ['I have a cat.']
    translator.translate("我有一只猫。")            'I have a cat.' (a string is one sentence)
    print(translator.steps("我有一只猫。"))         how the sentence was written, step by step

A checkpoint holds everything a translation needs: the weights, the
vocabularies (lists of tokens) and the config, so ``load`` needs nothing else.
``translate`` encodes each sentence by character, decodes greedily (or with a
beam, ``beam=4``) on the whole batch at once, and joins the English words back
into a sentence. Lines it cannot translate get an empty output line and a
warning saying why: an empty line, a line with no character the model knows,
a sentence longer than the model takes. A batch holds about ``BATCH``
hypotheses: the sentences times the beam, so a wide beam decodes fewer
sentences at once, and a beam wider than the target vocabulary is narrowed to
it (with a warning): memory stays the same whatever the beam.

``steps`` prints the decoding as the seeds draw it: at each step the prefix
written so far, the word chosen with its probability, and the runners-up.
``attention`` draws the cross-attention of the decoder's layers for one
sentence: which Chinese characters each English word looked at.
"""
from __future__ import annotations

import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import tinytensor as tt
from tinytensor import Tensor
from transformer import Seq2SeqTransformer, beam_search, greedy_decode

from .configs import Config
from .data import padded
from .tokens import Vocab, detokenize_en, tokenize_zh

KIND = "tinytensor zh-en translator"   # written into every checkpoint, checked on loading
BATCH = 256                            # hypotheses decoded at once: sentences x beam


class CheckpointError(Exception):
    """A checkpoint is missing, unreadable, or not a translator's."""


class Translator:
    def __init__(self, model: Seq2SeqTransformer, src_vocab: Vocab, tgt_vocab: Vocab, config: Config,
                 device: str = "cpu") -> None:
        self.model, self.src_vocab, self.tgt_vocab = model, src_vocab, tgt_vocab
        self.config, self.device = config, device

    # ------------------------------------------------------------------
    # Checkpoints
    # ------------------------------------------------------------------
    @classmethod
    def load(cls, path: "str | Path", device: str = "cpu") -> "Translator":
        checkpoint = read_checkpoint(path, device)
        with fitting(path):
            config = Config.from_dict(checkpoint["config"])
            src_vocab = Vocab.from_list(checkpoint["src_vocab"], unit="characters")
            tgt_vocab = Vocab.from_list(checkpoint["tgt_vocab"], unit="words")
            model = Seq2SeqTransformer(len(src_vocab), len(tgt_vocab), pad_id=Vocab.pad_id,
                                       **config.model_arguments()).to(device)
            model.load_state_dict(checkpoint["model"])
        model.eval()
        return cls(model, src_vocab, tgt_vocab, config, device)

    # ------------------------------------------------------------------
    # Translating
    # ------------------------------------------------------------------
    def translate(self, sentences: "str | Sequence[str]", beam: int = 1,
                  first_line: int = 1) -> "str | list[str]":
        """One English sentence per Chinese one ("" where a line cannot be translated, with a
        warning naming its line, counted from ``first_line``). A string is one sentence, and
        gets one string back."""
        if isinstance(sentences, str):
            return self.translate([sentences], beam, first_line)[0]
        if beam > len(self.tgt_vocab):
            warnings.warn(f"beam {beam} is wider than the {len(self.tgt_vocab)} words of the target "
                          f"vocabulary; searching with {len(self.tgt_vocab)}", stacklevel=2)
            beam = len(self.tgt_vocab)
        encoded = [self._encode(sentence, line) for line, sentence in enumerate(sentences, first_line)]
        out = [""] * len(sentences)
        usable = sorted((i for i, ids in enumerate(encoded) if ids), key=lambda i: len(encoded[i]))
        at_once = max(1, BATCH // beam)
        for start in range(0, len(usable), at_once):  # similar lengths together: little padding
            rows = usable[start:start + at_once]
            for i, ids in zip(rows, self._decode([encoded[i] for i in rows], beam)):
                out[i] = detokenize_en(self.tgt_vocab.decode(ids))
        return out

    def steps(self, sentence: str, runners_up: int = 3) -> str:
        """The greedy decoding of one sentence, step by step, as text."""
        ids = self._encode(sentence, 1)
        if not ids:
            return ""
        decoded, steps = greedy_decode(self.model, self._batch([ids]), max_len=self.max_len(len(ids)),
                                       bos_id=Vocab.bos_id, eos_id=Vocab.eos_id, return_steps=True)
        lines = [f"{sentence}  ->  {' '.join(tokenize_zh(sentence))}", ""]
        prefix = ["<bos>"]
        for t, step in enumerate(steps, 1):
            probs = step.probs[0]
            top = probs.topk(min(runners_up + 1, probs.shape[0]))
            words = [self.tgt_vocab.to_list()[i] for i in top.indices.tolist()]
            chances = top.values.tolist()
            others = ", ".join(f"{w} {p:.3f}" for w, p in zip(words[1:], chances[1:]))
            lines.append(f"step {t:2d}  {' '.join(prefix):<40} -> {words[0]:<10} {chances[0]:.3f}"
                         f"   (then: {others})")
            prefix.append(words[0])
            if words[0] == "<eos>":
                break
        lines += ["", detokenize_en(self.tgt_vocab.decode(decoded[0].tolist()))]
        return "\n".join(lines)

    def attention(self, sentence: str, path: "str | Path") -> Path:
        """Write the cross-attention heat map of ``sentence``'s translation (one panel per head and layer)."""
        from visualize import plot_attention  # noqa: PLC0415 - the pictures need matplotlib

        ids = self._encode(sentence, 1)
        if not ids:
            raise ValueError(f"attention: nothing to translate in {sentence!r}")
        decoded, steps = greedy_decode(self.model, self._batch([ids]), max_len=self.max_len(len(ids)),
                                       bos_id=Vocab.bos_id, eos_id=Vocab.eos_id, return_steps=True)
        words = [self.tgt_vocab.to_list()[t] for t in decoded[0].tolist()]
        layers = {}
        for name in steps[0].attention:
            if name.endswith("multihead_attn"):  # the decoder's cross-attention, one row per step
                rows = tt.cat([step.attention[name][0] for step in steps], 1)  # (heads, T, S)
                layers[name.replace("transformer.decoder.layers.", "decoder layer ").split(".")[0]] = rows
        return plot_attention(layers, [self.src_vocab.to_list()[i] for i in ids], words, path,
                              title=f"cross-attention: {sentence} -> {detokenize_en(self.tgt_vocab.decode(decoded[0].tolist()))}")

    def max_len(self, source_length: int) -> int:
        """How many tokens decoding may write for a source this long (its words, with room to spare)."""
        return 2 * source_length + 4

    def _decode(self, sources: list[list[int]], beam: int) -> list[list[int]]:
        src = self._batch(sources)
        options = dict(max_len=self.max_len(src.shape[1]), bos_id=Vocab.bos_id, eos_id=Vocab.eos_id)
        ids = greedy_decode(self.model, src, **options) if beam == 1 else \
            beam_search(self.model, src, beam_size=beam, **options)
        return ids.tolist()

    def _batch(self, sources: list[list[int]]) -> Tensor:
        return tt.tensor(padded(sources), device=self.device)

    def _encode(self, sentence: str, line: int) -> list[int]:
        """The character ids of one line, or [] (with a warning) when it cannot be translated."""
        characters = tokenize_zh(sentence)
        if not characters:
            warnings.warn(f"line {line}: empty, nothing to translate", stacklevel=3)
            return []
        if len(characters) > self.config.max_source_tokens:
            warnings.warn(f"line {line}: {len(characters)} characters, longer than the "
                          f"{self.config.max_source_tokens} this model takes; split it into sentences",
                          stacklevel=3)
            return []
        ids = self.src_vocab.encode(characters)
        if all(i == Vocab.unk_id for i in ids):
            warnings.warn(f"line {line}: no character the model knows in {sentence!r}", stacklevel=3)
            return []
        return ids


@contextmanager
def fitting(path: "str | Path") -> Iterator[None]:
    """Building a model from a checkpoint's parts: what goes wrong there (a config that does not
    match the weights, vocabularies of another size...) becomes a CheckpointError naming the file."""
    try:
        yield
    except (TypeError, ValueError, RuntimeError, KeyError) as error:
        detail = " ".join(str(error).split())
        detail = detail if len(detail) <= 160 else detail[:160] + "..."
        raise CheckpointError(f"{path}: its config, vocabularies and weights do not fit together ({detail}); "
                              f"give a checkpoint written by `python -m translator train`") from None


def read_checkpoint(path: "str | Path", device: str = "cpu") -> dict[str, Any]:
    """A translator checkpoint's contents, or CheckpointError saying what is wrong with the file."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}: train one first with "
                              f"`python -m translator train` (or give --checkpoint PATH)")
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder; give a checkpoint in it, e.g. {path / 'best.npz'}")
    try:
        checkpoint = tt.load(path, map_location=device)
    except (ValueError, OSError) as error:
        raise CheckpointError(f"cannot read the checkpoint {path}: {error}") from None
    if not isinstance(checkpoint, dict) or checkpoint.get("kind") != KIND:
        found = sorted(checkpoint)[:6] if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise CheckpointError(f"{path} is a tinytensor checkpoint but not a translator's (it holds "
                              f"{found}); give a checkpoint written by `python -m translator train`")
    return checkpoint
