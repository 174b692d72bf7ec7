"""The Gradio app (app.py) launched in-process over tiny checkpoints, every tab driven through gradio_client,
plus the bad inputs a user can type or upload."""
from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

gradio_client = pytest.importorskip("gradio_client")
CAPTION = "this bird has a white belly and black wings"


@pytest.fixture(scope="module")
def client(studio_url):
    return gradio_client.Client(studio_url, verbose=False, download_files=False)


def value(x):
    """A component's value whether the app returned it plain or inside a gr.update(...)."""
    return x.get("value") if isinstance(x, dict) and x.get("__type__") == "update" else x


def shown(x) -> bool:
    return not (isinstance(x, dict) and x.get("__type__") == "update" and x.get("visible") is False)


def error_text(x) -> str:
    """The red message box: '' when hidden."""
    return (value(x) or "") if shown(x) else ""


def local(path_or_dict) -> Path:
    p = path_or_dict["path"] if isinstance(path_or_dict, dict) else path_or_dict
    return Path(p)


def test_api_lists_every_tab(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/generate", "/look_inside", "/cam", "/compare", "/prepare_upload", "/edit", "/latent_space",
            "/model_card", "/model_info", "/random_seed"} <= names


def test_generate(client):
    gallery, grid, info, err = client.predict(CAPTION, "swfgan-tiny", 7, 4, 0, 1, api_name="/generate")
    assert error_text(err) == ""
    assert len(gallery) == 4 and gallery[0]["caption"] == "#1 · seed 7"
    assert Image.open(local(gallery[0]["image"])).size == (256, 256)
    g = Image.open(local(grid))
    assert g.format == "PNG" and g.text["model"] == "swfgan-tiny"
    assert "**4 images**" in info and "`white`" in info
    assert isinstance(client.predict(api_name="/random_seed"), (int, float))
    assert "SWF-GAN" in client.predict("swfgan-tiny", api_name="/model_info")
    line = client.predict("swfgan-tiny", api_name="/model_info")
    assert "Experimental" in line and "<summary>Research metrics</summary>" in line and "AttrAcc 0.512" in line
    gallery, grid, info, err = client.predict(CAPTION, "swfgan-tiny", 7, 2, 0, 3, api_name="/generate")
    assert error_text(err) == "" and len(gallery) == 2 and "best of 3 tries" in info and "seeds 7–8" in info
    assert [g["caption"] for g in gallery] == ["#1 · seed 7", "#2 · seed 8"]


def test_look_inside(client):
    out = client.predict(CAPTION, "swfgan-tiny", 9, 0, 1, None, api_name="/look_inside")  # seed 9 alone
    image, stages, masks, attn, cam, attr, cam_info, info, err, attn_head = out
    assert shown(attn_head)
    assert error_text(err) == "" and Path(local(image)).is_file()
    assert len(stages) == 1 and len(value(masks)) == 3 and shown(masks)
    assert shown(attn) and Image.open(local(value(attn))).size[0] > 300
    assert Path(local(cam)).is_file() and "checker looks" in cam_info
    assert value(attr) in ("has_belly_color::white", "has_wing_color::black")
    assert "seed 9" in info
    cam2, cam_info2, err2 = client.predict(CAPTION, "swfgan-tiny", 9, 0, 1, "has_crown_color::red", api_name="/cam")
    assert error_text(err2) == "" and "crown: red" in cam_info2
    # a one-stage model without masks: those views are hidden, not empty boxes
    out = client.predict(CAPTION, "dfgan-tiny", 7, 0, 1, None, api_name="/look_inside")
    assert not shown(out[2]) and not shown(out[3]) and not shown(out[9]) and "no word attention" in out[7]
    out = client.predict("  ", "dfgan-tiny", 7, 0, 1, None, api_name="/look_inside")
    assert "caption is empty" in error_text(out[8])


def test_compare(client):
    sheet, info, err = client.predict("a bird with a red belly", "a bird with a blue belly",
                                      ["dfgan-tiny", "swfgan-tiny"], 0, 1, 0, 1, api_name="/compare")
    assert error_text(err) == "" and "**red → blue**" in info
    assert Image.open(local(sheet)).size[0] > 3 * 160
    _, _, err = client.predict("a bird with a red belly", "", [], 0, 1, 0, 1, api_name="/compare")
    assert "tick at least one model" in error_text(err)


def test_edit_not_available(client, tmp_path):
    f = tmp_path / "bird.png"
    Image.new("RGB", (80, 60), (200, 40, 40)).save(f)
    out = client.predict(gradio_client.handle_file(str(f)), "a bird with a blue belly", 10, 1.0, None, 1.0,
                         api_name="/edit")
    assert "Editing model not available" in error_text(out[-1])


def test_latent_space_and_models(client):
    gallery, msg = client.predict(None, api_name="/latent_space")
    assert "No CI-GAN checkpoint" in msg and not shown(gallery)
    card, metrics, figures = client.predict("swfgan-tiny", api_name="/model_card")
    assert "A tiny test model card" in card and "| AttrAcc | 0.512 |" in metrics
    assert shown(figures) and [f["caption"] for f in value(figures)] == ["samples"]
    assert Path(local(value(figures)[0]["image"])).is_file()
    card, metrics, _ = client.predict("dfgan-tiny", api_name="/model_card")
    assert "DF-GAN" in card and "No metrics recorded" in metrics


@pytest.mark.parametrize("caption, expect", [
    ("", "caption is empty"),
    ("🐦🐦🐦🌈", "no English words"),
    ("un oiseau rouge aux ailes noires", "unknown: un, oiseau"),
    ("flibber jabberwock snark", "none of the words"),
])
def test_bad_captions_show_a_message(client, caption, expect):
    gallery, grid, info, err = client.predict(caption, "dfgan-tiny", 0, 2, 0, 1, api_name="/generate")
    assert expect in error_text(err) and gallery == [] and grid is None


def test_5000_character_caption(client):
    long_ok = ("a small bird with a red belly and black wings " * 120)[:5000]
    gallery, grid, info, err = client.predict(long_ok, "dfgan-tiny", 0, 2, 0, 1, api_name="/generate")
    assert error_text(err) == "" and len(gallery) == 2 and "Long caption" in info
    gallery, grid, info, err = client.predict("z" * 5000, "dfgan-tiny", 0, 2, 0, 1, api_name="/generate")
    msg = error_text(err)
    assert "vocabulary" in msg and len(msg) < 700


def test_bad_uploads_show_a_message(client, tmp_path):
    txt = tmp_path / "not_a_bird.png"
    txt.write_text("hello, I am a text file with an image name")
    preview, ready, err = client.predict(gradio_client.handle_file(str(txt)), api_name="/prepare_upload")
    assert preview is None and "not an image" in error_text(err)
    huge = tmp_path / "huge.png"
    Image.new("RGB", (4000, 4000), (30, 140, 60)).save(huge)
    preview, ready, err = client.predict(gradio_client.handle_file(str(huge)), api_name="/prepare_upload")
    assert error_text(err) == "" and "downscaled from 4000x4000" in ready
    assert Image.open(local(preview)).size == (1024, 1024)
    wide = tmp_path / "wide_rgba.png"
    Image.new("RGBA", (120, 60), (0, 0, 0, 0)).save(wide)
    preview, ready, err = client.predict(gradio_client.handle_file(str(wide)), api_name="/prepare_upload")
    assert "centre-cropped 120x60" in ready and Image.open(local(preview)).getpixel((5, 5))[:3] == (255, 255, 255)


def test_queue_and_threads_are_set(studio_url):
    import sys

    import torch

    app = sys.modules["app"]
    assert app.demo._queue.default_concurrency_limit == app.CONCURRENCY >= 1
    assert app.demo._queue.max_size == app.QUEUE_SIZE
    assert 1 <= torch.get_num_threads()


def test_loadtest_starts_the_app_and_times_concurrent_generates(studio_checkpoints, tmp_path):
    """`python -m t2i loadtest`: app.py as a user starts it, then one client and 3 clients at once."""
    import json

    from t2i.eval.loadtest import loadtest

    results = tmp_path / "bench.json"
    r = loadtest("dfgan-tiny", clients=3, calls=2, single_calls=2, results=results, best_of=2,
                 env={"T2I_CHECKPOINTS": str(studio_checkpoints), "T2I_CONCURRENCY": "2"})
    assert 0 < r["startup_s"] < 300
    assert r["single"]["n"] == 2 and r["concurrent"]["n"] == 6 and r["concurrent"]["clients"] == 3
    assert 0 < r["single"]["p50_ms"] <= r["single"]["p95_ms"]
    assert r["concurrency_limit"] == 2
    assert r["best_of"] == 2
    saved = json.loads(results.read_text())["app"]["dfgan-tiny · 3 clients · best-of 2"]
    assert saved["concurrent"]["p95_ms"] == r["concurrent"]["p95_ms"]
    with pytest.raises(RuntimeError, match="Generate failed"):
        loadtest("no-such-model", clients=1, calls=1, single_calls=1,
                 env={"T2I_CHECKPOINTS": str(studio_checkpoints)})
    with pytest.raises(RuntimeError, match="Edit failed: .*edit"):  # these checkpoints have no editing model
        loadtest("dfgan-tiny", clients=1, calls=1, single_calls=1, edit_clients=1,
                 env={"T2I_CHECKPOINTS": str(studio_checkpoints)})
