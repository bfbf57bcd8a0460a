"""translator: a toy Chinese -> English translator, an application of the Transformer.

    python -m translator train                   train the small preset (on the GPU when there is one)
    python -m translator translate 我有一只猫。  translate; --steps shows each decoding step,
                                                 --beam 4 searches, --attention FILE.png draws
    python -m translator evaluate                BLEU (sacrebleu) and exact match on the test split
    python -m translator corpus --out DIR        the toy corpus's splits as TSV files

It makes a language whose every sentence has one right translation (docs/toy-translation.md),
trains the paper's model on it as the paper trains (section 5), and translates with greedy or
beam search (section 6.1).

The layers, bottom to top; nothing imports from a layer above its own:

    tinytensor/    the engine: tensors, autograd, nn, optim, devices
    transformer/   the model of "Attention Is All You Need", built from tinytensor, and only that
    translator/    this package, the model put to work; beside it, on the same layer,
    visualize/     the pictures: graphs, backprop, attention

The translator draws its attention heat maps with visualize/, which knows nothing of the
translator (tests/test_layers.py checks the layers).

Read in this order, data first, then training, then the trained model at work:

    grammar.py     the toy language, table by table: realize, enumerate, count and sample sentences
    corpus.py      the train / valid / test / long splits, sampled per construction; TSV files
    tokens.py      Chinese by character, English by word, and the vocabularies that number them
    data.py        pairs as token ids: src, tgt_in and tgt_out (teacher forcing), padded batches
    configs.py     the presets (tiny, small, base, paper) and the paper's training recipe
    train.py       the Trainer: steps, evaluation, checkpoints, Ctrl-C, SIGTERM and --resume
    run_folder.py  a run's folder: one trainer at a time, never a trained model replaced unasked
    translate.py   the Translator: a checkpoint from Chinese text to English text, step by step
    evaluate.py    corpus BLEU with its signature, exact match, the worst translations
    __main__.py    the command line above

Each file is named for what it does, the command line's verbs among them: train.py trains,
translate.py translates, evaluate.py evaluates. (translator/translator.py would say the
package's name twice and nothing about what the file does.)
"""
from .configs import PRESETS, Config
from .corpus import build_corpus, read_tsv, write_tsv
from .evaluate import Score, score
from .tokens import Vocab
from .train import Trainer
from .translate import CheckpointError, Translator

__all__ = ["PRESETS", "CheckpointError", "Config", "Score", "Trainer", "Translator", "Vocab", "build_corpus",
           "read_tsv", "score", "write_tsv"]
