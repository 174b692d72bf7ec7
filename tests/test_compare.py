"""`python -m t2i compare`: the side-by-side sheet of an A/B (real row + one row per model, same captions/seeds)."""
import numpy as np
import pytest
from PIL import Image

from t2i.cli import main


def test_compare_sheet_rows_follow_the_models(studio_checkpoints, cub_tiny, tmp_path, capsys):
    a, b = studio_checkpoints / "dfgan-tiny", studio_checkpoints / "swfgan-tiny"
    out = tmp_path / "ab.png"
    assert main(["compare", str(a), str(b), "--labels", "arm A", "arm B", "--n", "3", "--side", "40",
                 "--data", str(cub_tiny), "--out", str(out)]) == 0
    assert "2 models x 3 captions" in capsys.readouterr().out
    sheet = np.asarray(Image.open(out).convert("RGB")).astype(int)
    twice = tmp_path / "twice.png"
    assert main(["compare", str(a), str(a), "--labels", "A", "A again", "--n", "3", "--side", "40",
                 "--data", str(cub_tiny), "--out", str(twice)]) == 0
    same = np.asarray(Image.open(twice).convert("RGB")).astype(int)
    assert sheet.shape == same.shape and sheet.shape[0] > 3 * 40  # 3 rows of tiles + title + legend
    label_w, head, pad, side = 220, 64, 8, 40
    tile = lambda img, r, c: img[head + r * (side + pad):head + r * (side + pad) + side,  # noqa: E731
                                 label_w + c * (side + pad):label_w + c * (side + pad) + side]
    assert (tile(same, 1, 0) == tile(same, 2, 0)).all()  # one model twice: the same images (same seeds)
    assert (tile(sheet, 1, 0) == tile(same, 1, 0)).all() and (tile(sheet, 2, 0) != tile(sheet, 1, 0)).any()


def test_compare_says_what_is_wrong(studio_checkpoints, cub_tiny, tmp_path, capsys):
    a = str(studio_checkpoints / "dfgan-tiny")
    assert main(["compare", a, "--labels", "x", "y", "--data", str(cub_tiny), "--out", str(tmp_path / "x.png")]) == 2
    assert "2 labels for 1 models" in capsys.readouterr().err
    assert main(["compare", a, "--n", "0", "--data", str(cub_tiny), "--out", str(tmp_path / "x.png")]) == 2
    assert "n must be >= 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["compare", "--out", str(tmp_path / "x.png")])
