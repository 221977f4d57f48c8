# ruff: noqa: RUF001, RUF002, RUF003  (the fullwidth punctuation is what is tested)
"""convcli's Chinese as a reader of d2l-zh expects it: the book's words, and one rule for
punctuation, in the catalogue and in what every command prints (help and errors too).

The punctuation rule: beside Chinese words, colons, commas, semicolons and parentheses are
fullwidth (U+FF1A, U+FF0C, U+FF1B, U+FF08/U+FF09) with no spaces around them; ASCII
punctuation is for formulas, shapes, code and values, between other characters; a list of
values between Chinese words is separated by 、 (U+3001).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_i18n import K_IN, K_OUT, X, _commands, _errors, _help, load_tool, zh

HAN = "\u4e00-\u9fff"
FULLWIDTH = "\uff08\uff09\uff1a\uff1b\uff0c\u3002\u3001\uff01\uff1f"  # （）：；，。、！？
OPENERS = FULLWIDTH.replace("\uff09", "")  # a space may follow a closing parenthesis
RULES = {
    "ASCII colon, comma or semicolon after Chinese": re.compile(rf"[{HAN}{FULLWIDTH}] *[:;,]"),
    "ASCII colon, comma or semicolon before Chinese": re.compile(rf"[:;,] *[{HAN}]"),
    "space before fullwidth punctuation": re.compile(rf"(?<=\S) +[{FULLWIDTH}]"),
    "space after fullwidth punctuation": re.compile(rf"[{OPENERS}] +(?=\S)"),
    "values listed with ASCII commas between Chinese words": re.compile(
        rf"[{HAN}{FULLWIDTH}] ?[A-Za-z0-9_.-]+(?:, [A-Za-z0-9_.-]+)+ ?[{HAN}{FULLWIDTH}]"
    ),
}
QUOTED = re.compile(r"'[^'\n]*'")  # what the user typed, shown as typed
PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def _ascii_parentheses_around_chinese(text: str) -> list[str]:
    """ASCII parenthesised groups whose own text (nested groups aside) is Chinese."""
    found, opened = [], []
    for i, ch in enumerate(text):
        if ch == "(":
            opened.append([i, False])
        elif ch == ")" and opened:
            start, chinese = opened.pop()
            if chinese:
                found.append(text[start : i + 1])
        elif opened and re.match(f"[{HAN}]", ch):
            opened[-1][1] = True
    return found


def punctuation_problems(text: str) -> list[str]:
    """Where ``text`` breaks the rule, one entry per problem, with its line."""
    problems = []
    for line in text.splitlines():
        plain = QUOTED.sub("'…'", line.removeprefix("convcli: "))
        for name, rule in RULES.items():
            if rule.search(plain):
                problems.append(f"{name}: {line.strip()}")
        problems += [f"ASCII parentheses {group}: {line.strip()}" for group in
                     _ascii_parentheses_around_chinese(plain)]  # fmt: skip
    return problems


def test_the_checker_sees_each_kind_of_problem() -> None:
    assert punctuation_problems("--stride: 必须 >= 1") != []
    assert punctuation_problems("结果: 2x2") != []
    assert punctuation_problems("输出通道 (输入 x.json，卷积核 k.json)") != []
    assert punctuation_problems("442,368 （只计权重）") != []
    assert punctuation_problems("卷积核张量文件。 [必需]") != []
    assert punctuation_problems("应为 zeros, reflect 之一") != []
    good = "--stride：必须 >= 1，得到的是 'a: b'；(c_i, h, w)、H,W（>= 1）。[默认值：1]"
    good += "应为 zeros、reflect 之一"
    assert punctuation_problems(good) == []


def _strings() -> list[tuple[str, str]]:
    """(msgid, msgstr) for every translation, placeholders as one neutral letter."""
    pairs = []
    for message in load_tool().read("zh"):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        pairs += [(ids[0], PLACEHOLDER.sub("X", string)) for string in strings]
    return pairs


def _balanced(text: str) -> bool:
    closing = {")": "(", "\uff09": "\uff08", "]": "[", "\u300b": "\u300a", "\u201d": "\u201c"}
    stack: list[str] = []
    for ch in text:
        if ch in closing.values():
            stack.append(ch)
        elif ch in closing and (not stack or stack.pop() != closing[ch]):
            return False
    return not stack


def test_translations_close_what_they_open() -> None:
    """No （...) or (...）: every bracket a translation opens, it closes with its pair."""
    unbalanced = []
    for message in load_tool().read("zh"):
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.id and _balanced(ids[0]):
            unbalanced += [string for string in strings if not _balanced(string)]
    assert unbalanced == []


def test_catalogue_follows_the_punctuation_rule() -> None:
    problems = [p for _id, string in _strings() for p in punctuation_problems(string)]
    assert problems == []


# Beyond test_i18n's commands: pooling's divisor notes, run's flip and padding-mode clauses.
MORE = [
    ["pool", X, "--kind", "avg", "-k", "2", "-p", "1", "--divisor-override", "3"],
    ["pool", X, "--kind", "avg", "-k", "2", "-p", "1", "--no-count-include-pad", "--ceil-mode"],
    ["run", X, K_OUT, "-p", "1", "-s", "2", "--padding-mode", "circular", "--flip", "--stats"],
    ["run", X, K_IN, "--padding-mode", "mirror"],
    ["net", "--preset", "foo"],
]


def test_every_chinese_output_follows_the_punctuation_rule(tmp_path: Path) -> None:
    """Messages are built from pieces (an option's name, a sentence, the files an error
    comes from; click's headings and "[default: ...]"): joined, they keep the rule."""
    problems = {}
    for args in [*_commands(tmp_path), *_help(), *_errors(tmp_path), *MORE]:
        _code, out, err = zh(*args)
        found = punctuation_problems(out + err)
        if found:
            problems[" ".join(args)] = found
    assert problems == {}


# The book's own words (../shared/lesson/glossary-zh.md, d2l-zh's convolution chapters) and
# the common alternatives it does not use.
NOT_THE_BOOKS = {
    "步长": "步幅",
    "池化": "汇聚 (汇聚层, 最大汇聚层, 汇聚窗口)",
    "真正的卷积": "严格卷积运算",
    "交叉相关": "互相关运算",
    "互相关操作": "互相关运算",
    "偏差": "偏置",
    "过滤器": "滤波器",
    "膨胀": "扩张 (the Chinese guide's choice, docs/zh/index.md)",
    "通道数目": "通道数",
}
BOOK_TERMS = [
    "输入通道", "输出通道", "互相关运算", "卷积核", "填充", "步幅", "汇聚层", "感受野",
    "通道维", "偏置", "转置卷积", "1×1卷积层", "全连接层", "批量规范化", "严格卷积运算",
]  # fmt: skip


@pytest.mark.parametrize(("word", "book"), sorted(NOT_THE_BOOKS.items()))
def test_catalogue_does_not_use_words_the_book_does_not(word: str, book: str) -> None:
    used = [string for _id, string in _strings() if word in string]
    assert used == [], f"{word}: the book writes {book}"


def test_catalogue_uses_the_books_terms() -> None:
    text = "\n".join(string for _id, string in _strings())
    assert [term for term in BOOK_TERMS if term not in text] == []


def test_flipping_the_kernel_is_the_books_word() -> None:
    """d2l-zh 6.2.4: 水平和垂直翻转 the kernel for 严格卷积运算; 旋转 (rotate 180 degrees) only
    beside it, as an explanation."""
    strings = _strings()
    flipped = [s for msgid, s in strings if re.search(r"(?<!-)\bflip", PLACEHOLDER.sub("", msgid))]
    assert flipped and all("翻转" in string for string in flipped), flipped
    assert [string for _id, string in strings if "旋转" in string and "翻转" not in string] == []


def test_cross_correlation_is_always_the_operation() -> None:
    """The book says 互相关运算, never 互相关 alone."""
    bare = [string for _id, string in _strings() if re.search("互相关(?!运算)", string)]
    assert bare == []


def test_one_by_one_convolution_is_written_as_the_book_writes_it() -> None:
    """1×1卷积层, 1×1卷积核 (the book's form); 1x1 stays for shapes and code (--mode 1x1)."""
    strings = [string for _id, string in _strings()]
    assert [s for s in strings if re.search("1x1 ?(?:逐点)?卷积|1×1 (?:逐点)?卷积", s)] == []
