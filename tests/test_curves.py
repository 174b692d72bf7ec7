"""Learning curves from training logs (python -m t2i curves)."""
import json

import numpy as np
import pytest
from PIL import Image

from t2i.cli import main
from t2i.viz.curves import series, training_curves


def _run(folder, accs, torn=False):
    folder.mkdir(parents=True)
    rows = []
    for i, a in enumerate(accs):
        rows.append({"step": 100 * (i + 1), "wall_s": 360.0 * (i + 1), "g_loss": 1.0 / (i + 1)})
        rows.append({"step": 100 * (i + 1), "wall_s": 360.0 * (i + 1), "eval/attr_acc": a, "eval/r_precision": a / 2,
                     "eval/part_acc_in_species": a, "eval/part_acc_novel": a - 0.1})
    text = "".join(json.dumps(r) + "\n" for r in rows) + ('{"step": 9' if torn else "")
    (folder / "log.jsonl").write_text(text)
    return folder


def test_series_reads_eval_rows_and_hours(tmp_path):
    from t2i.viz.curves import read_log

    name, rows = read_log(_run(tmp_path / "a", [0.2, 0.4, 0.5], torn=True))
    assert name == "a" and len(rows) == 6  # the torn last line is skipped
    xs, ys = series(rows, "eval/attr_acc")
    assert xs.tolist() == [100, 200, 300] and ys.tolist() == [0.2, 0.4, 0.5]
    xs, _ = series(rows, "eval/attr_acc", x="wall_s")
    assert np.allclose(xs, [0.1, 0.2, 0.3])
    xs, ys = series(rows, "g_loss", smooth=2)
    assert xs.tolist() == [200, 300] and np.allclose(ys, [0.75, (0.5 + 1 / 3) / 2])


def test_cli_writes_a_png_and_explains_missing_evals(tmp_path, capsys):
    a, b = _run(tmp_path / "a", [0.2, 0.4]), _run(tmp_path / "b", [0.3, 0.6, 0.7])
    out = tmp_path / "curves.png"
    assert main(["curves", str(a), str(b), "--out", str(out), "--target", "0.75"]) == 0
    with Image.open(out) as im:
        assert im.width > 600 and im.height > 300
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "log.jsonl").write_text(json.dumps({"step": 1, "g_loss": 1.0}) + "\n")
    assert main(["curves", str(tmp_path / "c"), "--out", str(tmp_path / "x.png")]) == 2
    assert "eval_every" in capsys.readouterr().err
    assert main(["curves", str(tmp_path / "nope"), "--out", str(tmp_path / "x.png")]) == 2
    with pytest.raises(ValueError):
        training_curves([tmp_path / "c"], metrics=("eval/attr_acc",))


def test_reach_table_gives_best_scores_and_the_first_step_and_hour_at_a_score(tmp_path, capsys):
    from t2i.viz.curves import reach_table

    a, b = _run(tmp_path / "a", [0.2, 0.4]), _run(tmp_path / "b", [0.3, 0.6, 0.5])
    table = reach_table([a, b], reach={"eval/part_acc_in_species": 0.35})
    rows = {line.split(" | ")[0].strip("| "): line for line in table.splitlines()[2:]}
    assert "0.400 (200)" in rows["a"] and "| 200 / 0.20 |" in rows["a"]  # reached 0.35 at the 2nd eval
    assert "0.600 (200)" in rows["b"] and "0.500 (200)" in rows["b"] and "| 200 / 0.20 |" in rows["b"]
    assert reach_table([a], reach={"eval/part_acc_in_species": 0.9}).endswith("not yet |")
    assert main(["curves", str(a), str(b), "--out", str(tmp_path / "c.png"), "--reach", "0.35"]) == 0
    assert "not yet" not in capsys.readouterr().out


def test_full_evaluations_add_fid_and_diversity_panels(tmp_path):
    a = _run(tmp_path / "a", [0.2, 0.4])
    ev = tmp_path / "arm-a.json"
    ev.write_text(json.dumps({"fid": 150.0, "diversity": 0.2, "diversity_real": 0.32, "train_steps": 200,
                              "train_wall_s": 720.0}))
    fig = training_curves([a], metrics=("eval/part_acc_in_species",), x="wall_s", evals=[ev])
    assert len(fig.axes) == 3
    fid_ax, div_ax = fig.axes[1], fig.axes[2]
    (px, py), = fid_ax.collections[0].get_offsets().tolist()
    assert (px, py) == (0.2, 150.0)  # at the evaluated checkpoint's training hours
    assert div_ax.collections[0].get_offsets().tolist() == [[0.2, 0.2]] and div_ax.lines[0].get_ydata()[0] == 0.32
    assert main(["curves", str(a), "--evals", str(ev), "--out", str(tmp_path / "c.png")]) == 0
