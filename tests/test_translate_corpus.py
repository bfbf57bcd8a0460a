"""The toy translation corpus: the grammar says exactly what the spec says, the splits keep their
promises (deterministic, disjoint, length limits, every word and construction in train), and the
tokenizers and vocabularies give back what they were given."""
from __future__ import annotations

import collections
import itertools
import warnings

import pytest

from translator import grammar
from translator.corpus import build_corpus, read_tsv, write_tsv
from translator.grammar import (Bare, Clause, Counted, Cups, Description, Location, NoPossession,
                                Owned, Pointed, count, every_sentence, generate, realize)
from translator.tokens import Vocab, detokenize_en, tokenize_en, tokenize_zh

# Every example of the spec (shared/toy-translation.md), as written there.
SPEC_SENTENCES = [
    (Clause("statement", "我", "有", (Counted("猫"),)), "我有一只猫。", "I have a cat."),
    (Clause("negation", "她", "喜欢", (Bare("猫"),)), "她不喜欢猫。", "She does not like cats."),
    (NoPossession("他", "车"), "他没有车。", "He does not have a car."),
    (Clause("question", "你", "有", (Counted("猫"),)), "你有一只猫吗？", "Do you have a cat?"),
    (Clause("past", "我", "买", (Counted("书"),)), "昨天我买了一本书。", "Yesterday I bought a book."),
    (Clause("future", "他", "喝", (Cups("茶"),)), "明天他会喝一杯茶。", "Tomorrow he will drink a cup of tea."),
    (Location(Bare("猫"), "桌子", "上"), "猫在桌子上。", "The cat is on the table."),
    (Description(Pointed("书"), "新"), "这本书很新。", "This book is very new."),
]
SPEC_PHRASES = [
    (Counted("猫", adjective="黑色的"), "一只黑色的猫", "a black cat"),
    (Counted("车", adjective="旧"), "一辆旧车", "an old car"),
    (Counted("苹果"), "一个苹果", "an apple"),
    (Counted("苹果", adjective="红色的"), "一个红色的苹果", "a red apple"),
    (Owned("猫", "我"), "我的猫", "my cat"),
    (Pointed("狗", "这"), "这只狗", "this dog"),
    (Counted("猫", "两"), "两只猫", "two cats"),
    (Cups("茶"), "一杯茶", "a cup of tea"),
    (Cups("牛奶", "两"), "两杯牛奶", "two cups of milk"),
]
# The spec's rules beyond its examples: agreement, joined objects, plural subjects, a / an.
RULE_SENTENCES = [
    (Clause("statement", "我", "有", (Counted("猫"), Counted("狗", "两"))), "我有一只猫和两只狗。",
     "I have a cat and two dogs."),
    (Clause("statement", "我", "有", (Counted("猫"), Counted("狗"), Counted("鸟"))), "我有一只猫、一只狗和一只鸟。",
     "I have a cat, a dog and a bird."),
    (Clause("statement", "老师", "有", (Counted("鸡蛋"),)), "老师有一个鸡蛋。", "The teacher has an egg."),
    (Clause("statement", "小明", "喜欢", (Bare("面包"), Bare("茶"))), "小明喜欢面包和茶。",
     "Xiaoming likes bread and tea."),
    (Clause("negation", "他们", "吃", (Counted("橙子"),)), "他们不吃一个橙子。", "They do not eat an orange."),
    (Clause("question", "小红", "看见", (Pointed("自行车", "那", "白色的"),)), "小红看见那辆白色的自行车吗？",
     "Does Xiaohong see that white bicycle?"),
    (Clause("past", "她", "喝", (Bare("水"), Cups("咖啡", "三"))), "昨天她喝了水和三杯咖啡。",
     "Yesterday she drank water and three cups of coffee."),
    (Clause("future", "我们", "卖", (Owned("电脑", "他"),)), "明天我们会卖他的电脑。", "Tomorrow we will sell his computer."),
    (Clause("statement", "你们", "想要", (Cups("牛奶"), Counted("盒子", "十", "大"))), "你们想要一杯牛奶和十个大盒子。",
     "You want a cup of milk and ten big boxes."),
    (NoPossession("我", "苹果"), "我没有苹果。", "I do not have an apple."),
    (Location(Counted("猫", "两"), "桌子", "上"), "两只猫在桌子上。", "Two cats are on the table."),
    (Location(Owned("猫", "我"), "房子", "里"), "我的猫在房子里。", "My cat is in the house."),
    (Location(Pointed("狗"), "椅子", "下"), "这只狗在椅子下。", "This dog is under the chair."),
    (Description(Counted("车", "三", "红色的"), "旧"), "三辆红色的车很旧。", "Three red cars are very old."),
]


@pytest.mark.parametrize("structure, zh, en", SPEC_SENTENCES + RULE_SENTENCES)
def test_sentences_come_out_as_the_spec_writes_them(structure, zh, en):
    assert realize(structure) == (zh, en)


@pytest.mark.parametrize("phrase, zh, en", SPEC_PHRASES)
def test_noun_phrases_come_out_as_the_spec_writes_them(phrase, zh, en):
    assert (phrase.zh(), phrase.en()) == (zh, en)


@pytest.mark.parametrize("structure, reason", [
    (Clause("past", "我", "有", (Counted("猫"),)), "not a verb of the past"),
    (Clause("statement", "我", "看见", (Counted("书"),)), "does not take"),
    (Clause("statement", "我", "喜欢", (Counted("猫"),)), "does not take"),
    (Clause("statement", "我", "有", (Owned("猫", "小明"),)), "does not take"),
    (Clause("statement", "我", "有", (Counted("猫"), Counted("猫", "两"))), "different nouns"),
    (Clause("statement", "我", "有", ()), "1 to 3 objects"),
    (Location(Counted("猫"), "桌子", "上"), "not a location subject"),
    (Location(Bare("桌子"), "桌子", "上"), "not in or on itself"),
    (Description(Pointed("猫", adjective="大"), "小"), "not a description subject"),
    (Description(Bare("猫"), "红色"), "not a predicative adjective"),
])
def test_realize_refuses_what_the_grammar_lacks(structure, reason):
    with pytest.raises(ValueError, match=reason):
        realize(structure)


@pytest.mark.parametrize("construction, limits", [
    ("negated_possession", {}),
    ("description", {}),
    ("location", {}),
    ("past", {"max_objects": 1}),
    ("negation", {"max_chars": 9, "max_objects": 2}),
    ("statement", {"max_chars": 9}),   # three joined objects start at 9 characters: 我喝茶、水和牛奶。
])
def test_counts_agree_with_enumeration(construction, limits):
    sentences = [realize(s)[0] for s in every_sentence(construction, **limits)]
    assert len(set(sentences)) == len(sentences) == count(construction, **limits)
    assert max(len(s) for s in sentences) <= limits.get("max_chars", 99)


def test_counts_with_and_without_the_length_limit():
    for construction in grammar.CONSTRUCTIONS:
        assert count(construction) == count(construction, 18) + count(construction, min_chars=19)
    assert count("negated_possession") == count("negated_possession", 18) == 160
    assert count(None) == sum(count(c) for c in grammar.CONSTRUCTIONS)
    assert count("statement", 18) < count("statement")


def test_generate_repeats_for_a_seed_and_keeps_to_its_construction_and_lengths():
    first = list(itertools.islice(generate(5, "past"), 200))
    assert first == list(itertools.islice(generate(5, "past"), 200))
    assert first != list(itertools.islice(generate(6, "past"), 200))
    assert all(zh.startswith("昨天") and en.startswith("Yesterday ") and len(zh) <= 18 for zh, en in first)
    long = list(itertools.islice(generate(0, "question", min_chars=22, max_chars=None), 50))
    assert all(len(zh) >= 22 and zh.endswith("吗？") for zh, _ in long)
    with pytest.raises(ValueError, match="no sentence of location"):
        next(generate(0, "location", min_chars=22))


# --- the corpus ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus():
    return build_corpus(0)


def construction_of(zh: str) -> str:
    """Tell a construction by its marker (a test's own reading, independent of the generator)."""
    for marker, construction in [("吗？", "question"), ("昨天", "past"), ("明天", "future"),
                                 ("没有", "negated_possession"), ("在", "location"),
                                 ("很", "description"), ("不", "negation")]:
        if marker in zh:
            return construction
    return "statement"


def test_split_sizes_and_determinism(corpus):
    assert {name: len(pairs) for name, pairs in corpus.items()} == \
        {"train": 40_000, "valid": 1_000, "test": 1_000, "long": 500}
    assert build_corpus(0) == corpus
    small = {"n_train": 997, "n_valid": 13, "n_test": 7, "n_long": 11}
    other = build_corpus(1, **small)
    assert {name: len(pairs) for name, pairs in other.items()} == \
        {"train": 997, "valid": 13, "test": 7, "long": 11}
    assert other != build_corpus(2, **small)


def test_splits_are_disjoint_and_held_out_splits_have_no_repeats(corpus):
    sentences = {name: [zh for zh, _ in pairs] for name, pairs in corpus.items()}
    for a, b in itertools.combinations(sentences, 2):
        assert not set(sentences[a]) & set(sentences[b]), (a, b)
    for name in ("valid", "test", "long"):
        assert len(set(sentences[name])) == len(sentences[name]), name


def test_length_limits_and_long_uses_train_words(corpus):
    for name in ("train", "valid", "test"):
        assert max(len(zh) for zh, _ in corpus[name]) <= 18, name
    assert min(len(zh) for zh, _ in corpus["long"]) >= 22
    train_chars = {char for zh, _ in corpus["train"] for char in zh}
    train_words = {word for _, en in corpus["train"] for word in tokenize_en(en)}
    assert {char for zh, _ in corpus["long"] for char in zh} <= train_chars
    assert {word for _, en in corpus["long"] for word in tokenize_en(en)} <= train_words


def test_a_and_an_are_right_everywhere_and_every_case_is_trained(corpus):
    trained = collections.Counter()
    for name, pairs in corpus.items():
        for _, en in pairs:
            words = [w.lower() for w in tokenize_en(en)]
            for article, word in zip(words, words[1:]):
                if article in ("a", "an"):
                    assert article == ("an" if word in grammar.AN_WORDS else "a"), en
                    trained[word] += name == "train"
    followers = [n.en for n in grammar.COUNT_NOUNS.values()] + list(grammar.ATTRIBUTIVE.values()) + ["cup"]
    assert {word: trained[word] for word in followers if trained[word] < 50} == {}


def test_every_word_is_in_train_many_times(corpus):
    zh_words = [*grammar.SUBJECTS, *grammar.COUNT_NOUNS, *grammar.MASS_NOUNS, *grammar.NUMBERS,
                *grammar.DEMONSTRATIVES, *grammar.ATTRIBUTIVE, *grammar.PREDICATIVE, *grammar.VERBS,
                *grammar.PLACES, *grammar.POSITIONS, *(n.measure for n in grammar.COUNT_NOUNS.values()),
                "杯", "不", "没有", "吗", "昨天", "了", "明天", "会", "在", "很", "和", "、"]
    train_text = "\n".join(zh for zh, _ in corpus["train"])
    zh_counts = {word: train_text.count(word) for word in zh_words}
    assert {word: n for word, n in zh_counts.items() if n < 50} == {}
    # English, where 包 (bag) and 面包 (bread) are told apart
    en_words = {word.lower() for s in grammar.SUBJECTS.values() for word in f"{s.en} {s.possessive}".split()}
    en_words |= {word for n in grammar.COUNT_NOUNS.values() for word in (n.en, n.plural)}
    en_words |= {*grammar.MASS_NOUNS.values(), *grammar.NUMBERS.values(), *grammar.DEMONSTRATIVES.values(),
                 *grammar.ATTRIBUTIVE.values(), *grammar.PREDICATIVE.values(), *grammar.PLACES.values(),
                 *grammar.POSITIONS.values(), "an", "do", "does", "not", "will", "yesterday", "tomorrow",
                 "is", "are", "very", "of", "cups", "and"}
    en_words |= {form for verb in grammar.VERBS.values() for form in verb if form}
    en_counts = collections.Counter(word.lower() for _, en in corpus["train"] for word in tokenize_en(en))
    assert {word: en_counts[word] for word in en_words if en_counts[word] < 50} == {}


def test_every_construction_has_its_quota_and_small_ones_stay_mostly_in_train(corpus):
    per_construction = collections.Counter(construction_of(zh) for zh, _ in corpus["train"])
    assert set(per_construction) == set(grammar.CONSTRUCTIONS)
    assert min(per_construction.values()) >= 0.05 * 40_000
    held_out = {zh for name in ("valid", "test") for zh, _ in corpus[name]}
    train = {zh for zh, _ in corpus["train"]}
    for construction in ("negated_possession", "description"):
        total = count(construction, 18)
        held = sum(construction_of(zh) == construction for zh in held_out)
        assert 0 < held <= 0.1 * total
        assert sum(construction_of(zh) == construction for zh in train) >= 0.85 * total
    with_bread = [zh for zh in train | held_out if "面包" in zh]
    assert 0 < sum(zh in held_out for zh in with_bread) <= 0.1 * len(with_bread)


def test_tsv_round_trip(corpus, tmp_path):
    small = {name: pairs[:50] for name, pairs in corpus.items()}
    paths = write_tsv(small, tmp_path / "data")
    assert sorted(p.name for p in paths) == ["long.tsv", "test.tsv", "train.tsv", "valid.tsv"]
    assert {p.stem: read_tsv(p) for p in paths} == small
    first_line = (tmp_path / "data" / "train.tsv").read_text(encoding="utf-8").splitlines()[0]
    assert first_line == "\t".join(small["train"][0])


def test_read_tsv_names_the_file_and_line_of_a_malformed_line(tmp_path):
    path = tmp_path / "bad.tsv"
    path.write_text("我有一只猫。\tI have a cat.\n我有一只狗。 I have a dog.\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.tsv, line 2: expected 'zh<TAB>en'"):
        read_tsv(path)


# --- tokens ----------------------------------------------------------------------------------


def test_tokenizers_round_trip_over_the_whole_corpus(corpus):
    assert tokenize_zh("我有一只猫。") == ["我", "有", "一", "只", "猫", "。"]
    assert tokenize_en("The teacher has a cat, a dog and a bird.") == \
        ["The", "teacher", "has", "a", "cat", ",", "a", "dog", "and", "a", "bird", "."]
    for pairs in corpus.values():
        for zh, en in pairs:
            assert "".join(tokenize_zh(zh)) == zh
            assert detokenize_en(tokenize_en(en)) == en


def test_vocab_ids_encode_decode_and_round_trip(corpus):
    vocab = Vocab.build(tokenize_en(en) for _, en in corpus["train"])
    assert (vocab.pad_id, vocab.bos_id, vocab.eos_id, vocab.unk_id) == (0, 1, 2, 3)
    assert vocab.to_list()[:4] == ["<pad>", "<bos>", "<eos>", "<unk>"]
    assert vocab.to_list()[4:] == sorted(vocab.to_list()[4:])
    assert Vocab.build(reversed([tokenize_en(en) for _, en in corpus["train"]])).to_list() == vocab.to_list()
    tokens = tokenize_en("I have a cat.")
    ids = vocab.encode(tokens)
    assert vocab.decode([vocab.bos_id] + ids + [vocab.eos_id, vocab.pad_id, 7]) == tokens
    assert vocab.decode([vocab.pad_id, vocab.bos_id] + ids) == tokens
    restored = Vocab.from_list(vocab.to_list())
    assert len(restored) == len(vocab) and restored.encode(tokens) == ids
    with pytest.raises(ValueError, match="starts with"):
        Vocab.from_list(["a", "b"])


def test_unknown_tokens_become_unk_with_a_warning_naming_each_once():
    vocab = Vocab.build([tokenize_zh("我有一只猫。")], unit="characters")
    with pytest.warns(UserWarning) as caught:
        ids = vocab.encode(tokenize_zh("我有一只狮龙狮。"))
    assert [str(w.message) for w in caught] == ["unknown characters replaced by <unk>: '狮', '龙'"]
    assert ids.count(vocab.unk_id) == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        vocab.encode(tokenize_zh("我有一只猫。"))
