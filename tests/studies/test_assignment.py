"""Assigning conditions: balanced counts, reproducible from the seed, a file a researcher can fix."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from human_chat_completions.studies import StudyBook, StudyFileError, read_study_file
from human_chat_completions.studies.assignment import assign, balanced_latin_square

PEOPLE = [f"P{n:02d}" for n in range(1, 25)]


@pytest.mark.parametrize("method", ["latin-square", "blocked-random", "fixed"])
@pytest.mark.parametrize("conditions", [["a", "b"], ["a", "b", "c"], ["a", "b", "c", "d"]])
@pytest.mark.parametrize("people", [8, 23, 24])
def test_counts_differ_by_at_most_one_and_the_seed_decides(method, conditions, people):
    chosen = assign(PEOPLE[:people], conditions, method, seed=7)
    counts = Counter(order[0] for order in chosen.values())
    assert set(counts) <= set(conditions) and max(counts.values()) - min(counts.values()) <= 1
    assert assign(PEOPLE[:people], conditions, method, seed=7) == chosen
    assert all(sorted(order) == sorted(conditions) for order in chosen.values())


def test_another_seed_gives_another_table():
    tables = {tuple(o[0] for o in assign(PEOPLE, ["a", "b", "c"], "blocked-random", s).values())
              for s in range(5)}
    assert len(tables) > 1


def test_the_square_is_latin_and_balanced_for_carry_over():
    square = balanced_latin_square(["a", "b", "c", "d"])
    assert all(sorted(row) == ["a", "b", "c", "d"] for row in square)
    assert all(sorted(column) == ["a", "b", "c", "d"] for column in zip(*square, strict=True))
    follows = Counter((row[i], row[i + 1]) for row in square for i in range(3))
    assert set(follows.values()) == {1} and len(follows) == 12  # each ordered pair once


def test_loading_again_keeps_keys_and_conditions(tmp_path: Path):
    path = tmp_path / "s.toml"
    path.write_text('name = "s"\nparticipants = 4\n[conditions.a]\n[conditions.b]\n')
    book = StudyBook(tmp_path / "studies")
    first = book.load(read_study_file(path))
    path.write_text('name = "s"\nparticipants = 6\n[conditions.a]\n[conditions.b]\n')
    second = StudyBook(tmp_path / "studies").load(read_study_file(path))
    assert second.participants[:4] == first.participants
    assert [p.participant for p in second.participants] == [f"P0{n}" for n in range(1, 7)]
    assert len({p.key for p in second.participants}) == 6
    assert (tmp_path / "studies" / "s.json").stat().st_mode & 0o077 == 0  # keys: owner only


@pytest.mark.parametrize(("text", "says"), [
    ('name = "s"\nparticipants = 0\n[conditions.a]\n', "give a number (1 or more) or a list"),
    ('name = "s"\nparticipants = ["P1", "P1"]\n[conditions.a]\n', "participant ids must differ"),
    ('name = "s"\nparticipants = 2\n', "conditions: Field required"),
    ('name = "s"\nparticipants = 2\n[conditions.a]\nmode = "robot"\n', "conditions.a.mode"),
    ('name = "s s"\nparticipants = 2\n[conditions.a]\n', "name: use letters"),
    ('name = "s"\nparticipants = 2\n[conditions.a]\nspeed = 3\n', "conditions.a.speed"),
    ('name = "s\nparticipants', "not valid TOML"),
])
def test_a_broken_file_says_what_to_fix(tmp_path: Path, text: str, says: str):
    path = tmp_path / "s.toml"
    path.write_text(text)
    with pytest.raises(StudyFileError, match=None) as raised:
        read_study_file(path)
    assert says in str(raised.value)


def test_participants_get_an_address_they_can_reach(tmp_path: Path):
    """On 127.0.0.1 the base URL is the loopback one; bound to every address (phones in the
    lab), it is this machine's network address, never 0.0.0.0."""
    from human_chat_completions.cli_study import base_url, lan_address
    from human_chat_completions.config import Settings, save_settings

    save_settings(Settings(port=8123))
    assert base_url(None) == "http://127.0.0.1:8123/v1"
    save_settings(Settings(host="0.0.0.0", port=8123))
    assert base_url(None) == f"http://{lan_address()}:8123/v1" and "0.0.0.0" not in base_url(None)
    assert base_url("http://lab.example:9000/v1/") == "http://lab.example:9000/v1"
