"""config.yaml's comments state facts the code and the paper preset also hold: the registered names they
list, what the paper preset adds, the paper's value of a key. Each is read off the comment and checked, so
a comment cannot go stale when a registry or the paper preset changes."""

import re

import pytest
import yaml

from curse_of_memory.config import load_config
from curse_of_memory.models import PARAMETERIZATIONS
from curse_of_memory.targets import MEMORY_SHAPES

from .conftest import REPO

KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z_][\w]*):(?P<value>[^#]*)(?:#(?P<comment>.*))?$")
CONTINUATION = re.compile(r"^ +#(?P<comment>.*)$")
#: The registry each ``(registered …: names)`` comment lists, by the key it sits on.
REGISTRIES = {"memory": MEMORY_SHAPES, "parameterizations": PARAMETERIZATIONS}


def commented_keys(text: str) -> list[tuple[tuple[str, ...], str]]:
    """Each key of a YAML file with its comment (its line's and the comment-only lines right below it
    that are indented past the key), as (path of keys, comment)."""
    stack: list[tuple[int, str]] = []
    keys: list[tuple[tuple[str, ...], str]] = []
    for line in text.splitlines():
        if (match := KEY.match(line)) is not None:
            indent = len(match["indent"])
            while stack and stack[-1][0] >= indent:
                stack.pop()
            stack.append((indent, match["key"]))
            keys.append((tuple(key for _, key in stack), (match["comment"] or "").strip()))
        elif (match := CONTINUATION.match(line)) is not None and keys:
            path, comment = keys[-1]
            keys[-1] = (path, f"{comment} {match['comment'].strip()}")
    return keys


def value_at(config: dict, path: tuple[str, ...]):
    for key in path:
        config = config[key]
    return config


COMMENTS = commented_keys((REPO / "config.yaml").read_text())
QUICK = yaml.safe_load((REPO / "config.yaml").read_text())
PAPER = load_config(REPO / "config.yaml", REPO / "presets" / "paper.yaml")


def test_the_parser_reads_keys_paths_and_continued_comments():
    text = "a:            # top\n  b: 1        # first\n               #   second\n  c: [x]\nd: 2\n"
    expected = [(("a",), "top"), (("a", "b"), "first second"), (("a", "c"), ""), (("d",), "")]
    assert commented_keys(text) == expected


def with_comment(pattern: str) -> list:
    found = [(path, match) for path, comment in COMMENTS if (match := re.search(pattern, comment))]
    assert found, f"no comment of config.yaml matches {pattern!r}: the test would check nothing"
    return found


@pytest.mark.parametrize("path, match", with_comment(r"\(registered[^:]*: ([\w ]+)\)"))
def test_every_registered_list_in_a_comment_is_the_registry(path, match):
    assert set(match[1].split()) == set(REGISTRIES[path[-1]]), f"{'.'.join(path)}: {match[0]}"


@pytest.mark.parametrize("path, match", with_comment(r"the paper preset adds ((?:\w+(?:, | and )?)+)"))
def test_what_the_paper_preset_adds_it_adds(path, match):
    added = re.split(r", | and ", match[1].strip())
    for name in added:
        where = f"{'.'.join(path)}: {name}"
        assert name in value_at(PAPER, path) and name not in value_at(QUICK, path), where


@pytest.mark.parametrize("path, match", with_comment(r"^paper: (\d+)$"))
def test_the_papers_value_in_a_comment_is_the_paper_presets(path, match):
    assert value_at(PAPER, path) == int(match[1]), ".".join(path)
