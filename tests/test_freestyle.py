"""The hand-written free-style development captions (t2i/data/freestyle_dev.json) and their loader."""
import json
from collections import Counter
from pathlib import Path

import pytest

from t2i.data.freestyle import load_freestyle
from t2i.data.synthbirds.schema import ATTRIBUTES
from t2i.data.vocab import tokenize

VOCAB = Path(__file__).resolve().parents[1] / "checkpoints" / "damsm-synthbirds-64" / "vocab.json"


def test_set_loads_covers_every_group_and_is_unique():
    items = load_freestyle()
    assert len(items) >= 120
    groups = Counter(a for _, attrs in items for a in attrs)
    assert set(groups) == set(ATTRIBUTES) and min(groups.values()) >= 5, groups
    colours = {v for _, attrs in items for a, v in attrs.items() if a.endswith("_color")}
    assert colours >= set(ATTRIBUTES["has_belly_color"])  # all 14 CUB colours
    keys = [" ".join(c.lower().split()) for c, _ in items]
    assert len(set(keys)) == len(keys)


def test_captions_are_not_template_output():
    vocab = set(json.loads(VOCAB.read_text()))
    items = load_freestyle()
    outside = [c for c, _ in items if any(t not in vocab for t in tokenize(c))]
    assert len(outside) / len(items) >= 0.8  # template captions use only the 100 vocabulary words
    styles = {"hyphen": sum("-" in c and any(p.endswith("ed") for p in c.split("-")[1:]) for c, _ in items),
              "question": sum(c.rstrip().endswith("?") for c, _ in items),
              "list": sum(":" in c for c, _ in items)}
    assert min(styles.values()) >= 5, styles


@pytest.mark.parametrize("entry, match", [
    ({"caption": "a red bird", "attributes": {"has_belly_colour": "red"}}, "unknown attribute 'has_belly_colour'"),
    ({"caption": "a blue-legged bird", "attributes": {"has_leg_color": "blue"}}, "has_leg_color='blue' is not one"),
    ({"caption": "a red bird"}, "exactly the keys"),
    ({"caption": "  ", "attributes": {"has_primary_color": "red"}}, "non-empty text"),
    ({"caption": "a bird", "attributes": {}}, "non-empty object"),
])
def test_loader_names_the_bad_entry(tmp_path, entry, match):
    good = {"caption": "a small red bird", "attributes": {"has_size": "small_(5_-_9_in)", "has_primary_color": "red"}}
    path = tmp_path / "set.json"
    path.write_text(json.dumps([good, entry]))
    with pytest.raises(ValueError, match="entry 1") as e:
        load_freestyle(path)
    assert match in str(e.value)


def test_loader_refuses_duplicates_and_non_lists(tmp_path):
    good = {"caption": "a small red bird", "attributes": {"has_primary_color": "red"}}
    path = tmp_path / "set.json"
    path.write_text(json.dumps([good, dict(good, caption="A small  red bird")]))
    with pytest.raises(ValueError, match="appears twice"):
        load_freestyle(path)
    path.write_text(json.dumps(good))
    with pytest.raises(ValueError, match="JSON list"):
        load_freestyle(path)
    path.write_text("[{")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_freestyle(path)
