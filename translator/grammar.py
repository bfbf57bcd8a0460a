"""The toy language: Chinese -> English as a grammar you can read, enumerate, count and sample.

A translation task is only measurable when every source sentence has exactly one correct
translation. This grammar (docs/toy-translation.md, table for table) guarantees it: a sentence
is a *structure* first (who, which verb, which noun phrases), and both sides are realized from
that structure by rules. The English rules are the ones Chinese does not mark, which is what the
model has to learn: a / an by the sound of the next word, plurals, do / does, is / are, the past
tense, the moved place phrase, the capital letter.

    realize(Clause("statement", "我", "有", (Counted("猫"),)))   ->  ("我有一只猫。", "I have a cat.")
    realize(Location(Counted("猫", "两"), "桌子", "上"))      ->  ("两只猫在桌子上。", "Two cats are on the table.")

The pieces:
    tables              SUBJECTS, COUNT_NOUNS, DRINKS, FOODS, NUMBERS, ..., VERBS, PLACES
    noun phrases        Counted (一只黑色的猫), Pointed (这只狗), Owned (我的猫), Cups (两杯牛奶), Bare (猫)
    sentences           Clause (statement, negation, question, past, future), NoPossession (他没有车。),
                        Location (猫在桌子上。), Description (这本书很新。)
    realize()           a structure -> its (zh, en) pair; refuses structures the grammar does not have
    every_sentence()    all structures of one construction, in a fixed order
    count()             how many distinct sentences a construction has, by combinatorics
    draw(), generate()  random structures and random (zh, en) pairs, repeatable from a seed

Where the spec leaves a choice open, the natural reading is taken:
    - 喜欢 takes bare nouns, count nouns in the plural and all six mass nouns (drinks and food)
      as they are: 她喜欢猫和面包。 -> She likes cats and bread.
    - A possessive object is any count noun after an owner that has a possessive: 我买了他的书.
    - Joined objects are each one the verb takes, and they name different nouns (a cat and two
      dogs; never a cat and two cats). Mixed kinds are allowed: 我想要一本书和一杯茶。
    - Location and description subjects are count nouns (the forms the spec lists need a measure
      word); a thing is never in or on itself (no 桌子在桌子上). A location subject may carry any
      adjective; a description subject only a colour, since size, age and beauty are what the
      sentence says (no "this big cat is very small", no "this old car is very old").

Random draws use only ``random.Random.random()``, the one method whose sequence Python
promises to keep for a given seed across versions (``choice`` and ``shuffle`` may change).
"""
from __future__ import annotations

import functools
import itertools
import math
import random
from collections import Counter
from dataclasses import dataclass
from typing import Callable, ClassVar, Iterator, NamedTuple, Sequence, TypeVar, Union

T = TypeVar("T")

MAX_CHARS = 18    # the longest train / valid / test sentence, final punctuation counted
MAX_OBJECTS = 3   # NP、NP 和 NP at most


# ---------------------------------------------------------------------------------------------
# The tables


class Subject(NamedTuple):
    en: str
    possessive: str   # "" for the names and the teacher: no 小明的猫 in this grammar
    person: int       # agreement class: 1 = I, 2 = you / we / they, 3 = he / she / it-like


SUBJECTS = {
    "我": Subject("I", "my", 1),
    "你": Subject("you", "your", 2),
    "他": Subject("he", "his", 3),
    "她": Subject("she", "her", 3),
    "我们": Subject("we", "our", 2),
    "你们": Subject("you", "your", 2),
    "他们": Subject("they", "their", 2),
    "小明": Subject("Xiaoming", "", 3),
    "小红": Subject("Xiaohong", "", 3),
    "老师": Subject("the teacher", "", 3),
}
OWNERS = tuple(zh for zh, subject in SUBJECTS.items() if subject.possessive)


class CountNoun(NamedTuple):
    measure: str
    en: str
    plural: str


COUNT_NOUNS = {
    "猫": CountNoun("只", "cat", "cats"),
    "狗": CountNoun("只", "dog", "dogs"),
    "鸟": CountNoun("只", "bird", "birds"),
    "书": CountNoun("本", "book", "books"),
    "笔": CountNoun("支", "pen", "pens"),
    "苹果": CountNoun("个", "apple", "apples"),
    "橙子": CountNoun("个", "orange", "oranges"),
    "鸡蛋": CountNoun("个", "egg", "eggs"),
    "杯子": CountNoun("个", "cup", "cups"),
    "包": CountNoun("个", "bag", "bags"),
    "盒子": CountNoun("个", "box", "boxes"),
    "车": CountNoun("辆", "car", "cars"),
    "自行车": CountNoun("辆", "bicycle", "bicycles"),
    "电脑": CountNoun("台", "computer", "computers"),
    "桌子": CountNoun("张", "table", "tables"),
    "椅子": CountNoun("把", "chair", "chairs"),
}
DRINKS = {"茶": "tea", "水": "water", "咖啡": "coffee", "牛奶": "milk"}   # counted with 杯
FOODS = {"米饭": "rice", "面包": "bread"}                                  # never counted
MASS_NOUNS = {**DRINKS, **FOODS}

NUMBERS = {"一": "a", "两": "two", "三": "three", "四": "four", "五": "five", "六": "six",
           "七": "seven", "八": "eight", "九": "nine", "十": "ten"}   # 一 is "a" or "an"
DEMONSTRATIVES = {"这": "this", "那": "that"}
ATTRIBUTIVE = {"大": "big", "小": "small", "新": "new", "旧": "old", "红色的": "red",
               "黑色的": "black", "白色的": "white", "漂亮的": "beautiful"}
COLOURS = ("红色的", "黑色的", "白色的")
PREDICATIVE = {"大": "big", "小": "small", "新": "new", "旧": "old", "漂亮": "beautiful"}
AN_WORDS = frozenset({"apple", "orange", "egg", "old"})   # the words here that start with a vowel sound


class Verb(NamedTuple):
    base: str
    third: str   # third person singular
    past: str    # "" for the verbs with no past sentences


VERBS = {
    "有": Verb("have", "has", ""),
    "喜欢": Verb("like", "likes", ""),
    "想要": Verb("want", "wants", ""),
    "买": Verb("buy", "buys", "bought"),
    "卖": Verb("sell", "sells", "sold"),
    "看见": Verb("see", "sees", "saw"),
    "吃": Verb("eat", "eats", "ate"),
    "喝": Verb("drink", "drinks", "drank"),
}
PLACES = {"桌子": "table", "椅子": "chair", "包": "bag", "盒子": "box", "车": "car", "房子": "house"}
POSITIONS = {"上": "on", "里": "in", "下": "under"}


# ---------------------------------------------------------------------------------------------
# Noun phrases: each knows its Chinese and its English


def _words(*parts: str) -> str:
    return " ".join(part for part in parts if part)


def _a(words: str) -> str:
    """'a' or 'an', chosen by the sound of the next word: an apple, a red apple, an old car."""
    return ("an " if words.split(" ", 1)[0] in AN_WORDS else "a ") + words


@dataclass(frozen=True)
class Counted:
    """NUM MW [ADJ] N: 一只黑色的猫 -> a black cat; 一辆旧车 -> an old car; 两只猫 -> two cats."""
    noun: str
    number: str = "一"
    adjective: str = ""

    def zh(self) -> str:
        return self.number + COUNT_NOUNS[self.noun].measure + self.adjective + self.noun

    def en(self) -> str:
        noun = COUNT_NOUNS[self.noun]
        adjective = ATTRIBUTIVE.get(self.adjective, "")
        if self.number == "一":
            return _a(_words(adjective, noun.en))
        return _words(NUMBERS[self.number], adjective, noun.plural)


@dataclass(frozen=True)
class Pointed:
    """这/那 MW [ADJ] N: 这只狗 -> this dog; 那辆红色的车 -> that red car."""
    noun: str
    demonstrative: str = "这"
    adjective: str = ""

    def zh(self) -> str:
        return self.demonstrative + COUNT_NOUNS[self.noun].measure + self.adjective + self.noun

    def en(self) -> str:
        return _words(DEMONSTRATIVES[self.demonstrative], ATTRIBUTIVE.get(self.adjective, ""),
                      COUNT_NOUNS[self.noun].en)


@dataclass(frozen=True)
class Owned:
    """POSS 的 N: 我的猫 -> my cat."""
    noun: str
    owner: str = "我"

    def zh(self) -> str:
        return self.owner + "的" + self.noun

    def en(self) -> str:
        return _words(SUBJECTS[self.owner].possessive, COUNT_NOUNS[self.noun].en)


@dataclass(frozen=True)
class Cups:
    """NUM 杯 DRINK: 一杯茶 -> a cup of tea; 两杯牛奶 -> two cups of milk."""
    noun: str
    number: str = "一"

    def zh(self) -> str:
        return self.number + "杯" + self.noun

    def en(self) -> str:
        if self.number == "一":
            return _a("cup of " + DRINKS[self.noun])
        return f"{NUMBERS[self.number]} cups of {DRINKS[self.noun]}"


@dataclass(frozen=True)
class Bare:
    """N alone. As an object (喜欢, 吃, 喝) it means the kind: 猫 -> cats, 茶 -> tea.

    As a location or description subject it means a known thing, "the n": see _subject_en.
    """
    noun: str

    def zh(self) -> str:
        return self.noun

    def en(self) -> str:
        return COUNT_NOUNS[self.noun].plural if self.noun in COUNT_NOUNS else MASS_NOUNS[self.noun]


Phrase = Union[Counted, Pointed, Owned, Cups, Bare]


def _subject_en(phrase: Phrase) -> str:
    return "the " + COUNT_NOUNS[phrase.noun].en if isinstance(phrase, Bare) else phrase.en()


def _is_plural(phrase: Phrase) -> bool:
    return isinstance(phrase, Counted) and phrase.number != "一"


def _join(parts: Sequence[str], comma: str, conjunction: str) -> str:
    """A, B and C: the last two joined by the conjunction, the others by the comma."""
    return parts[0] if len(parts) == 1 else comma.join(parts[:-1]) + conjunction + parts[-1]


# ---------------------------------------------------------------------------------------------
# Which phrases go where. A Form is one noun-phrase shape with the values each of its slots may
# take; a rule says which nouns take which forms. Enumeration, counting, checking and random
# draws all read these rules, so the grammar is written down once.


class Slot(NamedTuple):
    values: tuple[str, ...]
    favourite: float = 0.0   # a draw takes values[0] this often, else one of the others; 0: uniform


NUMBER = Slot(tuple(NUMBERS), 1 / 3)            # 一 a third of the time: the a / an cases are common
PLURAL_NUMBER = Slot(tuple(NUMBERS)[1:])
ONE = Slot(("一",))
ADJECTIVE = Slot(("",) + tuple(ATTRIBUTIVE), 1 / 2)   # "" is no adjective
COLOUR = Slot(("",) + COLOURS, 1 / 2)
DEMONSTRATIVE = Slot(tuple(DEMONSTRATIVES))
OWNER = Slot(OWNERS)


@dataclass(frozen=True)
class Form:
    """A phrase class and its slots: Counted with a number and an adjective, say."""
    make: Callable[..., Phrase]
    slots: tuple[tuple[str, Slot], ...] = ()

    def phrases(self, noun: str) -> list[Phrase]:
        names = [name for name, _ in self.slots]
        return [self.make(noun, **dict(zip(names, values)))
                for values in itertools.product(*(slot.values for _, slot in self.slots))]

    def draw(self, rng: random.Random, noun: str) -> Phrase:
        return self.make(noun, **{name: _draw_slot(rng, slot) for name, slot in self.slots})


COUNTED = Form(Counted, (("number", NUMBER), ("adjective", ADJECTIVE)))
POINTED = Form(Pointed, (("demonstrative", DEMONSTRATIVE), ("adjective", ADJECTIVE)))
OWNED = Form(Owned, (("owner", OWNER),))
CUPS = Form(Cups, (("number", NUMBER),))
A_CUP = Form(Cups, (("number", ONE),))
BARE = Form(Bare)
PLURAL = Form(Counted, (("number", PLURAL_NUMBER), ("adjective", ADJECTIVE)))
PLURAL_COLOURED = Form(Counted, (("number", PLURAL_NUMBER), ("adjective", COLOUR)))
POINTED_COLOURED = Form(Pointed, (("demonstrative", DEMONSTRATIVE), ("adjective", COLOUR)))

Rule = tuple[tuple[tuple[str, ...], tuple[Form, ...]], ...]   # (nouns, the forms they take), ...
COUNT_NP = (COUNTED, POINTED, OWNED)
ALL_COUNT = tuple(COUNT_NOUNS)

PHRASE_RULES: dict[str, Rule] = {
    # the objects of each verb
    "有": ((ALL_COUNT, COUNT_NP),),
    "喜欢": ((ALL_COUNT + tuple(MASS_NOUNS), (BARE,)),),
    "想要": ((ALL_COUNT, COUNT_NP), (tuple(DRINKS), (A_CUP,))),
    "买": ((ALL_COUNT, COUNT_NP),),
    "卖": ((ALL_COUNT, COUNT_NP),),
    "看见": ((("猫", "狗", "鸟", "车", "自行车"), COUNT_NP),),
    "吃": ((("苹果", "橙子", "鸡蛋"), COUNT_NP), (tuple(FOODS), (BARE,))),
    "喝": ((tuple(DRINKS), (BARE, CUPS)),),
    # the subjects of the two sentences without a verb
    "location": ((ALL_COUNT, (BARE, OWNED, POINTED, PLURAL)),),
    "description": ((ALL_COUNT, (BARE, OWNED, POINTED_COLOURED, PLURAL_COLOURED)),),
}


@functools.cache
def _forms(key: str) -> dict[str, tuple[Form, ...]]:
    """noun -> the forms it takes, for a verb's objects or a construction's subject."""
    forms: dict[str, tuple[Form, ...]] = {}
    for nouns, noun_forms in PHRASE_RULES[key]:
        for noun in nouns:
            forms[noun] = forms.get(noun, ()) + noun_forms
    return forms


@functools.cache
def _phrases(key: str) -> dict[str, tuple[Phrase, ...]]:
    """noun -> every phrase of it that the verb (or the construction) takes."""
    return {noun: tuple(p for form in forms for p in form.phrases(noun))
            for noun, forms in _forms(key).items()}


@functools.cache
def _phrase_set(key: str) -> frozenset[Phrase]:
    return frozenset(p for phrases in _phrases(key).values() for p in phrases)


# ---------------------------------------------------------------------------------------------
# Sentences


CLAUSE_VERBS = {
    "statement": tuple(VERBS),
    "negation": ("喜欢", "想要", "买", "卖", "吃", "喝"),
    "question": tuple(VERBS),
    "past": ("买", "卖", "看见", "吃", "喝"),
    "future": ("买", "卖", "看见", "吃", "喝"),
}
CONSTRUCTIONS = ("statement", "negation", "negated_possession", "question", "past", "future",
                 "location", "description")

# The spec's table of sentences. {s} subject, {v} verb, {o} object(s); in English {verb} is the
# agreeing present, {do} do / does, {be} is / are. The first letter is capitalised afterwards.
TEMPLATES = {
    "statement": ("{s}{v}{o}。", "{s} {verb} {o}."),
    "negation": ("{s}不{v}{o}。", "{s} {do} not {base} {o}."),
    "negated_possession": ("{s}没有{o}。", "{s} {do} not have {o}."),
    "question": ("{s}{v}{o}吗？", "{do} {s} {base} {o}?"),
    "past": ("昨天{s}{v}了{o}。", "Yesterday {s} {past} {o}."),
    "future": ("明天{s}会{v}{o}。", "Tomorrow {s} will {base} {o}."),
    "location": ("{s}在{place}{position}。", "{s} {be} {position} the {place}."),
    "description": ("{s}很{adjective}。", "{s} {be} very {adjective}."),
}

Fields = tuple[dict[str, str], dict[str, str]]   # what fills the zh template, and the en one


def _third_person(subject: str) -> bool:
    return SUBJECTS[subject].person == 3


def _subject_fields(subject: str) -> dict[str, str]:
    return {"s": SUBJECTS[subject].en, "do": "does" if _third_person(subject) else "do"}


@dataclass(frozen=True)
class Clause:
    """S V NP with the marks of one construction: 我有一只猫。 昨天我买了一本书。 你有一只猫吗？"""
    construction: str   # statement, negation, question, past or future
    subject: str
    verb: str
    objects: tuple[Phrase, ...]

    def problem(self) -> str:
        if self.construction not in CLAUSE_VERBS:
            return f"a Clause is one of {', '.join(CLAUSE_VERBS)}, not {self.construction!r}"
        if self.subject not in SUBJECTS:
            return f"{self.subject!r} is not a subject"
        if self.verb not in CLAUSE_VERBS[self.construction]:
            return f"{self.verb!r} is not a verb of the {self.construction} sentences"
        if not 1 <= len(self.objects) <= MAX_OBJECTS:
            return f"a clause has 1 to {MAX_OBJECTS} objects, not {len(self.objects)}"
        wrong = [p for p in self.objects if p not in _phrase_set(self.verb)]
        if wrong:
            return f"{self.verb} does not take {wrong[0]!r}"
        if len({p.noun for p in self.objects}) < len(self.objects):
            return "joined objects name different nouns"
        return ""

    def fields(self) -> Fields:
        verb = VERBS[self.verb]
        en = {**_subject_fields(self.subject), "base": verb.base, "past": verb.past,
              "verb": verb.third if _third_person(self.subject) else verb.base,
              "o": _join([p.en() for p in self.objects], ", ", " and ")}
        zh = {"s": self.subject, "v": self.verb, "o": _join([p.zh() for p in self.objects], "、", "和")}
        return zh, en


@dataclass(frozen=True)
class NoPossession:
    """S 没有 N: 他没有车。 -> He does not have a car. (a bare count noun, "a / an n" in English)"""
    subject: str
    noun: str
    construction: ClassVar[str] = "negated_possession"

    def problem(self) -> str:
        if self.subject not in SUBJECTS:
            return f"{self.subject!r} is not a subject"
        return "" if self.noun in COUNT_NOUNS else f"{self.noun!r} is not a count noun"

    def fields(self) -> Fields:
        en = _subject_fields(self.subject)
        en["o"] = _a(COUNT_NOUNS[self.noun].en)
        return {"s": self.subject, "o": self.noun}, en


def _be(subject: Phrase) -> str:
    return "are" if _is_plural(subject) else "is"


@dataclass(frozen=True)
class Location:
    """NP 在 PLACE 上/里/下: 猫在桌子上。 -> The cat is on the table."""
    subject: Phrase
    place: str
    position: str
    construction: ClassVar[str] = "location"

    def problem(self) -> str:
        if self.subject not in _phrase_set("location"):
            return f"{self.subject!r} is not a location subject"
        if self.place not in PLACES:
            return f"{self.place!r} is not a place ({', '.join(PLACES)})"
        if self.position not in POSITIONS:
            return f"{self.position!r} is not a position ({', '.join(POSITIONS)})"
        return "a thing is not in or on itself" if self.place == self.subject.noun else ""

    def fields(self) -> Fields:
        zh = {"s": self.subject.zh(), "place": self.place, "position": self.position}
        return zh, {"s": _subject_en(self.subject), "be": _be(self.subject),
                    "place": PLACES[self.place], "position": POSITIONS[self.position]}


@dataclass(frozen=True)
class Description:
    """NP 很 ADJ: 这本书很新。 -> This book is very new."""
    subject: Phrase
    adjective: str   # the predicative form: 大 小 新 旧 漂亮
    construction: ClassVar[str] = "description"

    def problem(self) -> str:
        if self.subject not in _phrase_set("description"):
            return f"{self.subject!r} is not a description subject"
        if self.adjective not in PREDICATIVE:
            return f"{self.adjective!r} is not a predicative adjective ({', '.join(PREDICATIVE)})"
        return ""

    def fields(self) -> Fields:
        zh = {"s": self.subject.zh(), "adjective": self.adjective}
        return zh, {"s": _subject_en(self.subject), "be": _be(self.subject),
                    "adjective": PREDICATIVE[self.adjective]}


Sentence = Union[Clause, NoPossession, Location, Description]


def realize(sentence: Sentence) -> tuple[str, str]:
    """The (Chinese, English) pair of a sentence structure; ValueError if the grammar lacks it."""
    problem = sentence.problem()
    if problem:
        raise ValueError(f"not a sentence of the toy grammar: {sentence!r}: {problem}")
    zh_fields, en_fields = sentence.fields()
    zh_template, en_template = TEMPLATES[sentence.construction]
    en = en_template.format(**en_fields)
    return zh_template.format(**zh_fields), en[0].upper() + en[1:]


# ---------------------------------------------------------------------------------------------
# Enumerating and counting


def _check_construction(construction: str) -> None:
    if construction not in CONSTRUCTIONS:
        raise ValueError(f"unknown construction {construction!r}; the constructions are "
                         f"{', '.join(CONSTRUCTIONS)}")


def _clause_frame_length(construction: str, subject: str, verb: str) -> int:
    """The Chinese characters of a clause that are not its objects."""
    return len(TEMPLATES[construction][0].format(s=subject, v=verb, o=""))


def _object_lists(verb: str, budget: float, max_objects: int,
                  used: frozenset[str] = frozenset()) -> Iterator[tuple[Phrase, ...]]:
    """Every list of joined objects of ``verb`` whose Chinese fits in ``budget`` characters."""
    for phrase in _objects_by_length(verb):
        length = len(phrase.zh())
        if length > budget:
            break
        if phrase.noun in used:
            continue
        yield (phrase,)
        if max_objects > 1:
            for rest in _object_lists(verb, budget - length - 1, max_objects - 1, used | {phrase.noun}):
                yield (phrase,) + rest   # the 1 above: the 、 or 和 before the rest


@functools.cache
def _objects_by_length(verb: str) -> tuple[Phrase, ...]:
    return tuple(sorted(_phrase_set(verb), key=lambda p: (len(p.zh()), p.zh())))


def _subject_phrases(construction: str) -> Iterator[Phrase]:
    return (p for phrases in _phrases(construction).values() for p in phrases)


def _verbless_sentences(construction: str) -> Iterator[Sentence]:
    if construction == "negated_possession":
        return (NoPossession(s, n) for s in SUBJECTS for n in COUNT_NOUNS)
    if construction == "location":
        return (Location(p, place, position) for p in _subject_phrases("location")
                for place in PLACES if place != p.noun for position in POSITIONS)
    return (Description(p, adjective) for p in _subject_phrases("description")
            for adjective in PREDICATIVE)


def every_sentence(construction: str, max_chars: int | None = None,
                   max_objects: int = MAX_OBJECTS) -> Iterator[Sentence]:
    """Every structure of ``construction`` (Chinese at most ``max_chars`` long), each once.

    The verb constructions have billions without a length limit: enumerate them with one.
    """
    _check_construction(construction)
    budget = math.inf if max_chars is None else max_chars
    if construction in CLAUSE_VERBS:
        for subject in SUBJECTS:
            for verb in CLAUSE_VERBS[construction]:
                room = budget - _clause_frame_length(construction, subject, verb)
                for objects in _object_lists(verb, room, max_objects):
                    yield Clause(construction, subject, verb, objects)
    else:
        yield from (s for s in _verbless_sentences(construction) if len(realize(s)[0]) <= budget)


def _times(a: Counter[int], b: Counter[int]) -> Counter[int]:
    """The product of two length polynomials {length: how many}."""
    product: Counter[int] = Counter()
    for length_a, n_a in a.items():
        for length_b, n_b in b.items():
            product[length_a + length_b] += n_a * n_b
    return product


@functools.cache
def _object_list_lengths(verb: str, max_objects: int) -> Counter[int]:
    """{Chinese length: how many object lists}, for the objects of ``verb``.

    k joined objects name k different nouns in some order, each noun in one of its phrases. Over
    the k-sets of nouns that is the elementary symmetric polynomial e_k of the nouns' length
    polynomials, times k! orders; the k - 1 joiners (、 和) add a character each.
    """
    e = [Counter({0: 1})] + [Counter() for _ in range(max_objects)]
    for phrases in _phrases(verb).values():
        noun = Counter(len(p.zh()) for p in phrases)
        for k in range(max_objects, 0, -1):
            e[k] += _times(e[k - 1], noun)
    lists: Counter[int] = Counter()
    for k in range(1, max_objects + 1):
        for length, n in e[k].items():
            lists[length + k - 1] += n * math.factorial(k)
    return lists


@functools.cache
def _sentence_lengths(construction: str, max_objects: int) -> Counter[int]:
    """{Chinese length: how many distinct sentences} of one construction."""
    if construction not in CLAUSE_VERBS:
        return Counter(len(realize(s)[0]) for s in _verbless_sentences(construction))
    lengths: Counter[int] = Counter()
    for subject in SUBJECTS:
        for verb in CLAUSE_VERBS[construction]:
            frame = _clause_frame_length(construction, subject, verb)
            for length, n in _object_list_lengths(verb, max_objects).items():
                lengths[frame + length] += n
    return lengths


def count(construction: str | None = None, max_chars: int | None = None, *, min_chars: int = 0,
          max_objects: int = MAX_OBJECTS) -> int:
    """How many distinct sentences ``construction`` (None: the whole grammar) has, of
    ``min_chars`` to ``max_chars`` Chinese characters (final punctuation counted).

    Combinatorics, not enumeration: every structure has a Chinese sentence of its own (the
    markers 不 没有 吗 昨天 明天 在 很 tell the constructions apart), so counting structures of
    each length counts sentences. A test checks this against every_sentence().
    """
    constructions = CONSTRUCTIONS if construction is None else (construction,)
    for name in constructions:
        _check_construction(name)
    top = math.inf if max_chars is None else max_chars
    return sum(n for name in constructions for length, n in _sentence_lengths(name, max_objects).items()
               if min_chars <= length <= top)


# ---------------------------------------------------------------------------------------------
# Random sentences


def pick(rng: random.Random, options: Sequence[T]) -> T:
    """One of ``options``, uniformly, from rng.random() alone (stable across Python versions)."""
    return options[int(rng.random() * len(options))]


def sample(rng: random.Random, items: Sequence[T], k: int) -> list[T]:
    """k different items in random order (a partial Fisher-Yates shuffle on rng.random())."""
    items = list(items)
    for i in range(k):
        j = i + int(rng.random() * (len(items) - i))
        items[i], items[j] = items[j], items[i]
    return items[:k]


def _draw_slot(rng: random.Random, slot: Slot) -> str:
    if not slot.favourite:
        return pick(rng, slot.values)
    return slot.values[0] if rng.random() < slot.favourite else pick(rng, slot.values[1:])


def _draw_phrase(rng: random.Random, key: str, noun: str) -> Phrase:
    return pick(rng, _forms(key)[noun]).draw(rng, noun)


def _draw_objects(rng: random.Random, verb: str) -> tuple[Phrase, ...]:
    """One object half the time, two a third of the time, three a sixth; different nouns."""
    r = rng.random()
    k = 1 if r < 1 / 2 else 2 if r < 5 / 6 else 3
    return tuple(_draw_phrase(rng, verb, noun) for noun in sample(rng, tuple(_forms(verb)), k))


def draw(rng: random.Random, construction: str) -> Sentence:
    """A random structure of ``construction``, any length.

    Each choice is uniform over what the grammar allows at that point (the subject, the verb,
    each object's noun, its form), except that 一 takes a third of the numbers and no adjective
    half of the adjective slots: the a / an cases, the hardest English, stay common.
    """
    _check_construction(construction)
    if construction in CLAUSE_VERBS:
        verb = pick(rng, CLAUSE_VERBS[construction])
        return Clause(construction, pick(rng, tuple(SUBJECTS)), verb, _draw_objects(rng, verb))
    if construction == "negated_possession":
        return NoPossession(pick(rng, tuple(SUBJECTS)), pick(rng, ALL_COUNT))
    subject = _draw_phrase(rng, construction, pick(rng, ALL_COUNT))
    if construction == "location":
        places = tuple(place for place in PLACES if place != subject.noun)
        return Location(subject, pick(rng, places), pick(rng, tuple(POSITIONS)))
    return Description(subject, pick(rng, tuple(PREDICATIVE)))


def generate(seed: int, construction: str | None = None, *, min_chars: int = 0,
             max_chars: int | None = MAX_CHARS) -> Iterator[tuple[str, str]]:
    """Endless random (zh, en) pairs of ``construction`` (None: a random one each time), of
    ``min_chars`` to ``max_chars`` Chinese characters; the same seed gives the same pairs.

    Pairs can repeat: small constructions (没有 + a noun has 160 sentences) repeat often.
    """
    if count(construction, max_chars, min_chars=min_chars) == 0:
        raise ValueError(f"no sentence of {construction or 'the grammar'} has "
                         f"{min_chars} to {max_chars} characters")
    rng = random.Random(seed)
    top = math.inf if max_chars is None else max_chars
    while True:
        zh, en = realize(draw(rng, construction or pick(rng, CONSTRUCTIONS)))
        if min_chars <= len(zh) <= top:
            yield zh, en
