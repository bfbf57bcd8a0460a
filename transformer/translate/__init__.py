"""The toy translator: Chinese -> English with the Transformer, trained from the command line.

    python -m transformer.translate corpus --out DIR     the toy corpus as TSV files
    python -m transformer.translate train                train (GPU when there is one)
    python -m transformer.translate translate 我有一只猫。  translate, step by step with --steps
    python -m transformer.translate evaluate             BLEU and exact match on a split

grammar.py   the toy language of docs/toy-translation.md, as a seeded generator
corpus.py    the train / valid / test / long splits
tokens.py    tokenizers and vocabularies
"""
