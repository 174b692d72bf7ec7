"""`eval --all` (results.json, cache, README table) and `bench` (bench.json, before/after) on tiny models."""
import dataclasses
import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from t2i import checkpoint as ckpt
from t2i.cli import main
from t2i.eval import report

TINY = {"img_size": 64, "nf": 4, "text_dim": 16, "z_dim": 8}
README = "# Project\n\nIntro text.\n\n## Results\n\n<!-- results:start -->\nold table\n<!-- results:end -->\n\nAfter.\n"


def cheap_frechet(mu1, s1, mu2, s2) -> float:
    """Stands in for the FID's 2048 x 2048 matrix square root (~50 s on 2 cores; tested in test_eval) so that this
    test is about the report: only the distance of the means."""
    return float(((mu1 - mu2) ** 2).sum())


@pytest.fixture(scope="module")
def eval_setup(synth_root, tmp_path_factory):
    """A checkpoints folder with one tiny DF-GAN (2 steps on the small SynthBirds set) and the untrained tiny
    DAMSM and attribute classifier it is scored with (they sit in the folder too: listed as evaluators)."""
    from t2i.data.captions import CaptionDataset
    from t2i.data.synthbirds import ATTRIBUTES
    from t2i.eval.attributes import AttrClassifier, AttrClassifierConfig
    from t2i.text.damsm import DAMSM, DAMSMConfig
    from t2i.training.gan import Trainer, load_run_config

    root = tmp_path_factory.mktemp("eval_all")
    ck = root / "checkpoints"
    torch.manual_seed(0)
    vocab = CaptionDataset(synth_root, "train", 64).vocab
    dcfg = DAMSMConfig(vocab_size=len(vocab), img_size=64, emb_dim=16, text_dim=16, nf=4, backbone="cnn")
    ckpt.save_model_folder(ck / "damsm-synthbirds-64", "damsm", dataclasses.asdict(dcfg), {"damsm": DAMSM(dcfg)},
                           vocab=vocab)
    ccfg = AttrClassifierConfig(groups={g: list(v) for g, v in ATTRIBUTES.items()}, img_size=32, nf=4)
    ckpt.save_model_folder(ck / "attr-classifier-synthbirds-64", "attr-classifier", dataclasses.asdict(ccfg),
                           {"classifier": AttrClassifier(ccfg)}, resolution=32)
    tc, _ = load_run_config(None, {"train.data": str(synth_root), "train.damsm": str(ck / "damsm-synthbirds-64"),
                                   "train.out": str(ck / "dfgan-tiny"), "train.steps": 2, "train.batch_size": 4,
                                   "train.sample_every": 1000, "train.log_every": 100})
    Trainer(tc, dict(TINY)).train()
    return root


def test_update_readme_table_touches_only_the_marked_region(tmp_path):
    f = tmp_path / "README.md"
    f.write_text(README)
    assert report.update_readme_table(f, "| a | b |\n|---|---|\n| 1 | 2 |\n")
    text = f.read_text()
    assert text.startswith("# Project\n\nIntro text.\n\n## Results\n\n<!-- results:start -->\n| a | b |")
    assert text.endswith("| 1 | 2 |\n<!-- results:end -->\n\nAfter.\n") and "old table" not in text
    assert not report.update_readme_table(f, "| a | b |\n|---|---|\n| 1 | 2 |")  # same table: unchanged
    g = tmp_path / "NOMARK.md"
    g.write_text("# Project\n<!-- results:start -->\nno end marker\n")
    with pytest.raises(ValueError, match="results:end"):
        report.update_readme_table(g, "x")
    assert g.read_text() == "# Project\n<!-- results:start -->\nno end marker\n"  # untouched on error


def test_cache_key_changes_with_weights_and_config_not_metrics(eval_setup, tmp_path):
    src = eval_setup / "checkpoints" / "dfgan-tiny"
    folder = tmp_path / "m"
    shutil.copytree(src, folder)
    k0 = report.model_key(folder)
    assert k0 == report.model_key(src)
    rec = json.loads((folder / ckpt.CONFIG).read_text())
    rec["metrics"] = {"attr_acc": 0.5}  # recording metrics in the card keeps the key
    rec["data_root"] = "/elsewhere/synthbirds-64"  # so does where the training data lived
    (folder / ckpt.CONFIG).write_text(json.dumps(rec, indent=1))
    assert report.model_key(folder) == k0
    w = load_file(folder / ckpt.WEIGHTS)
    name = next(k for k, v in w.items() if v.is_floating_point())
    w[name] = w[name] + 1
    save_file(w, folder / ckpt.WEIGHTS, metadata={"format": "pt"})
    k1 = report.model_key(folder)
    assert k1["weights"] != k0["weights"] and k1["config"] == k0["config"]
    rec["step"] = 99
    (folder / ckpt.CONFIG).write_text(json.dumps(rec))
    assert report.model_key(folder)["config"] != k0["config"]
    (folder / ckpt.CODE_BANK).write_bytes(b"bank 1")  # a CI-GAN code bank changes text-to-image: part of the key
    k2 = report.model_key(folder)
    (folder / ckpt.CODE_BANK).write_bytes(b"bank 2")
    assert "code_bank" not in k1 and report.model_key(folder)["code_bank"] != k2["code_bank"]


def test_aligner_cache_key_follows_the_edit_defaults(monkeypatch):
    from t2i import edit_config

    aligner = {"model_type": "cigan", "config": {"stage": "aligner"}}
    assert report.inference_defaults({"model_type": "cigan", "config": {"stage": "encoder"}}) == {}
    assert report.inference_defaults({"model_type": "csagan", "config": {}}) == {}
    before = report.inference_defaults(aligner)
    monkeypatch.setattr(edit_config, "GUIDANCE", edit_config.GUIDANCE + 1.0)
    assert report.inference_defaults(aligner) != before
    from t2i import cigan_retrieval, edit  # the text-to-image defaults too (mode, picks, the edit's gate)

    for module, name, value in ((edit, "DEFAULT_T2I_MODE", "retrieve"), (cigan_retrieval, "TOP_K", 4),
                                (cigan_retrieval, "AUTO_EDIT_BELOW", 1.2)):
        before = report.inference_defaults(aligner)
        monkeypatch.setattr(module, name, value)
        assert report.inference_defaults(aligner) != before, name


def test_a_retrained_part_segmenter_under_the_same_name_re_evaluates_the_editor(tmp_path, monkeypatch):
    from t2i import edit
    from t2i.partseg import PartSegConfig, PartSegmenter

    aligner = {"model_type": "cigan", "config": {"stage": "aligner"}}
    folder = tmp_path / "partseg-synthbirds-64"
    keys = []
    for seed in (0, 1):  # the same folder name, other weights
        torch.manual_seed(seed)
        cfg = PartSegConfig(img_size=32, nf=4)
        ckpt.save_model_folder(folder, "part-segmenter", dataclasses.asdict(cfg), {"segmenter": PartSegmenter(cfg)},
                               step=0, resolution=32)
        monkeypatch.setattr(edit, "PART_SEGMENTER", str(folder))
        keys.append(report.inference_defaults(aligner)["part_segmenter"])
    assert keys[0] != keys[1] and all(k.startswith(str(folder)) for k in keys)


def test_eval_all_writes_results_table_and_reuses_the_cache(eval_setup, synth_root, tmp_path, monkeypatch):
    import t2i.eval.fid
    import t2i.eval.generators

    monkeypatch.setattr(t2i.eval.fid, "frechet_distance", cheap_frechet)
    ck, res_dir, readme = eval_setup / "checkpoints", tmp_path / "results", tmp_path / "README.md"
    readme.write_text(README)
    args = ["eval", "--all", "--checkpoints", str(ck), "--data", str(synth_root), "--limit", "4",
            "--results", str(res_dir), "--readme", str(readme)]  # DAMSM + classifier found in --checkpoints
    assert main(args) == 0
    res = json.loads((res_dir / "results.json").read_text())
    entry = res["models"]["dfgan-tiny"]
    m = entry["metrics"]
    for k in ("attr_acc", "attr_acc_ceiling", "fid", "r_precision", "gen_images_per_s", "params_G", "train_steps"):
        assert k in m, k
    assert m["n_images"] == 4 and m["train_steps"] == 2 and entry["key"] == report.model_key(ck / "dfgan-tiny")
    assert set(res["skipped"]) == {"damsm-synthbirds-64", "attr-classifier-synthbirds-64"}
    card = (ck / "dfgan-tiny" / "README.md").read_text()  # the model card shows the metrics too
    assert f"| attr_acc | {m['attr_acc']:.4g} |" in card
    assert json.loads((ck / "dfgan-tiny" / "config.json").read_text())["metrics"]["fid"] == m["fid"]
    table = (res_dir / "results.md").read_text()
    assert "| `dfgan-tiny` | DF-GAN |" in table and f"{m['attr_acc']:.3f} ({m['attr_acc_ceiling']:.3f})" in table
    # the best-of-k column: AttrAcc of the DAMSM-reranked draws, beside the single draws
    assert m["best_of"] == report.BEST_OF and 0 <= m["attr_acc_best_of"] <= 1
    assert f"AttrAcc best of {report.BEST_OF} ↑" in table
    assert f"({m['attr_acc_ceiling']:.3f}) | {m['attr_acc_best_of']:.3f} |" in table
    text = readme.read_text()
    assert table.strip() in text and text.startswith("# Project\n\nIntro text.") and text.endswith("After.\n")

    # a second model: only that one is evaluated, the first comes from the cache
    calls = []

    def fake_eval(folder, data_root, **kw):
        calls.append((folder.name, kw.get("best_of", 1)))
        return {"attr_acc": 0.25 if kw.get("best_of", 1) == 1 else 0.375, "fid": 99.0, "r_precision": 0.5,
                "n_images": 4, "params_G": 10}

    monkeypatch.setattr(t2i.eval.generators, "evaluate_generator", fake_eval)
    shutil.copytree(ck / "dfgan-tiny", ck / "dfgan-tiny-b")
    try:
        assert main(args) == 0
        assert calls == [("dfgan-tiny-b", 1), ("dfgan-tiny-b", report.BEST_OF)]
        res2 = json.loads((res_dir / "results.json").read_text())
        assert res2["models"]["dfgan-tiny"] == {**entry, "path": res2["models"]["dfgan-tiny"]["path"]}
        assert res2["models"]["dfgan-tiny-b"]["metrics"]["attr_acc_best_of"] == 0.375
        assert "| `dfgan-tiny-b` | DF-GAN | 0.250 | 0.375 |" in readme.read_text()
        calls.clear()
        assert main(args + ["--limit", "3"]) == 0  # another protocol: both again
        assert sorted(calls) == [("dfgan-tiny", 1), ("dfgan-tiny", 8), ("dfgan-tiny-b", 1), ("dfgan-tiny-b", 8)]
        calls.clear()
        assert main(args + ["--limit", "3", "--best-of", "4"]) == 0  # another k: only the best-of column again
        assert sorted(calls) == [("dfgan-tiny", 4), ("dfgan-tiny-b", 4)] and "AttrAcc best of 4" in readme.read_text()
        calls.clear()
        assert main(args + ["--limit", "3", "--best-of", "1"]) == 0  # 1: nothing new, the cached column stays
        assert calls == [] and "AttrAcc best of 4" in readme.read_text()
        assert main(args + ["--limit", "3", "--force", "--best-of", "1"]) == 0
        assert sorted(calls) == [("dfgan-tiny", 1), ("dfgan-tiny-b", 1)] and "best of" not in readme.read_text()
        # only an evaluator changed (a new judge): evaluated again, FID (same model, data, draws) from the cache
        calls.clear()
        kws = []
        real_protocol = report.protocol
        monkeypatch.setattr(report, "protocol", lambda *a, **k: {**real_protocol(*a, **k), "judge": "new"})
        monkeypatch.setattr(t2i.eval.generators, "evaluate_generator",
                            lambda folder, data_root, **kw: kws.append(kw) or {**fake_eval(folder, data_root, **kw),
                                                                                "fid": 1.0})
        assert main(args + ["--limit", "3", "--best-of", "1"]) == 0
        assert len(kws) == 2 and all(kw.get("fid") is False for kw in kws)
        res3 = json.loads((res_dir / "results.json").read_text())
        assert all(e["metrics"]["fid"] == 99.0 for e in res3["models"].values())
    finally:
        shutil.rmtree(ck / "dfgan-tiny-b")


def test_bench_before_after_writes_json_and_table(studio_checkpoints, tmp_path):
    model = str(studio_checkpoints / "dfgan-tiny")
    readme = tmp_path / "README.md"
    readme.write_text("# P\n<!-- bench:start -->\n<!-- bench:end -->\n")
    common = ["bench", "--models", model, "--repeats", "2", "--skip-train", "--results", str(tmp_path),
              "--readme", str(readme)]
    assert main(common + ["--tag", "before"]) == 0
    assert main(common + ["--tag", "after", "--optimize", "--threads", str(torch.get_num_threads())]) == 0
    bench = json.loads((tmp_path / "bench.json").read_text())
    before, after = bench["runs"]["before"]["generators"]["dfgan-tiny"], bench["runs"]["after"]["generators"]["dfgan-tiny"]
    for r in (before, after):
        for k in ("images_per_s_b1", "images_per_s_b16", "forward_images_per_s_b16", "latency4_p50_ms",
                  "latency4_p95_ms", "threads"):
            assert r[k] > 0, k
    assert not before["optimized"] and after["optimized"]
    assert bench["runs"]["after"]["machine"]["threads"] == torch.get_num_threads()
    table = (tmp_path / "bench.md").read_text()
    after_tag = "after (optimized, bf16)" if after["bf16"] else "after (optimized)"  # bf16 on CPUs with native bf16
    assert "| `dfgan-tiny` | before |" in table and f"| `dfgan-tiny` | {after_tag} |" in table
    assert "×" in table.split(after_tag)[1].splitlines()[0]  # the speed-up vs before
    assert table.strip() in readme.read_text()


def test_bench_table_compares_each_machine_with_its_own_before():
    from t2i.eval.bench import bench_table

    gen = lambda b1, b16, p50: {"images_per_s_b1": b1, "images_per_s_b16": b16, "latency4_p50_ms": p50, "threads": 2}
    runs = {"before": {"generators": {"m": gen(100.0, 400.0, 20.0)}},
            "after-x": {"generators": {"m": {**gen(60.0, 300.0, 10.0), "optimized": True, "bf16": True}}},
            "before-x": {"generators": {"m": gen(30.0, 100.0, 40.0)}}}
    rows = [r for r in bench_table({"schema": 1, "runs": runs}).splitlines() if r.startswith("| `m`")]
    assert [r.split(" | ")[1] for r in rows] == ["before", "before-x", "after-x (optimized, bf16)"]
    assert rows[2].endswith("| ×2.00 / ×3.00 / ×4.00 |")  # against before-x (same machine), not before


def test_bench_netg_side_by_side_table(studio_checkpoints, tmp_path, monkeypatch):
    import t2i.runtime

    # the bf16 variant runs where the CPU has native bf16; forced here so that CI without it covers it too
    monkeypatch.setattr(t2i.runtime, "bf16_autocast_ok", lambda device: True)
    assert main(["bench", "--repeats", "1", "--results", str(tmp_path), "--no-readme", "--tag", "netg",
                 "--netg", "32"]) == 0
    run = json.loads((tmp_path / "bench.json").read_text())["runs"]["netg"]
    assert not run["generators"] and not run["train"]  # --netg alone times only the side by side
    r = run["netg"]["32px"]
    assert r["ngf"] == 32 and r["fp32_matmul_gflops"] > 0 and set(r["batches"]) == {"1", "4", "16"}
    assert r["bf16_matmul_gflops"] > 0
    for d in r["batches"].values():
        assert set(d["ms"]) == {"plain eager", "ours eager", "ours eager, low-res form off", "ours optimized",
                                "ours eager bf16", "ours optimized bf16"}
        assert all(v > 0 for v in d["ms"].values()) and d["x_plain"]["plain eager"] == 1.0
        assert max(d["max_abs_diff"].values()) < 1e-4  # the same images from every fp32 variant
        q = d["bf16"]  # bf16 images differ from the fp32 ones, measurably but by a few hundredths
        assert 0 < q["mean_abs"] <= q["max_abs"] < 0.5 and 20 < q["psnr_db"] < 200 and q["share_of_bf16_peak"] > 0
    table = (tmp_path / "bench.md").read_text()
    assert "**Generation side by side**" in table and "| netg | 32px | 16 |" in table and "**bf16 inference**" in table


def test_bench_train_reports_images_per_second(cub_tiny, tiny_damsm):
    from t2i.eval.bench import bench_train

    r = bench_train("dfgan", steps=3, batch_size=2, data=cub_tiny, damsm=tiny_damsm,
                    overrides={f"model.{k}": v for k, v in {**TINY, "img_size": 32}.items()})
    assert r["steps_timed"] == 2 and r["batch_size"] == 2 and r["train_images_per_s"] > 0
    assert r["config"] == "train/dfgan_synthbirds64.toml" and r["threads"] == torch.get_num_threads()
    assert abs(r["s_per_kimg"] - 1000 / r["train_images_per_s"]) < 0.1 * r["s_per_kimg"] + 0.1
    assert "profile_ms_per_step" not in r


def test_bench_train_profile_breaks_a_step_into_the_labelled_regions(cub_tiny, tiny_damsm):
    from t2i.eval.bench import TOP_REGIONS, bench_train

    r = bench_train("dfgan", steps=3, batch_size=2, data=cub_tiny, damsm=tiny_damsm, profile=True,
                    overrides={**{f"model.{k}": v for k, v in {**TINY, "img_size": 32}.items()},
                               "train.reuse_fake": False, "model.magp_every": 1})  # MA-GP on every step
    prof = r["profile_ms_per_step"]
    assert set(TOP_REGIONS) <= set(prof) and all(v >= 0 for v in prof.values())
    # nested regions sit inside the outer ones: G runs in both loss steps, MA-GP in the D step
    assert 0 < prof["G forward"] <= prof["D step: losses"] + prof["G step: losses"]
    assert 0 < prof["MA-GP (double backward)"] <= prof["D step: losses"]


def test_cigan_table_shows_inversion_and_edit_numbers_only_for_cigan_rows():
    res = {"models": {
        "dfgan-x": {"model_type": "dfgan", "metrics": {"attr_acc": 0.5}},
        "cigan-x": {"model_type": "cigan", "metrics": {"stage": "aligner", "gen/fid": 123.45, "inv/psnr": 17.5,
                                                       "inv/cycle_mse": 0.2, "inv/cycle_rel": 0.1, "edit/success": 0.25,
                                                       "edit/seconds_per_edit": 0.5, "edit/latency_s": 2.0}},
        "cigan-enc": {"model_type": "cigan", "metrics": {"stage": "encoder", "inv/psnr": 16.0}}}}
    t = report.cigan_table(res)
    assert "`dfgan-x`" not in t and "`cigan-x` | aligner | 123.5 | 17.50 | 0.200 (0.100)" in t
    assert "0.50; 2.00" in t and "`cigan-enc` | encoder | – | 16.00" in t
    assert t in report.results_table(res)
    assert report.cigan_table({"models": {"dfgan-x": res["models"]["dfgan-x"]}}) == ""


def test_plain_netg_yardstick_is_the_same_network_as_the_project_dfgan():
    from t2i.eval.netg_reference import PlainNetG
    from t2i.models import get_family

    fam = get_family("dfgan")
    G = fam.build_generator(fam.config_from_dict({"nf": 8, "img_size": 64})).eval()
    with torch.no_grad():
        for p in G.parameters():
            p.add_(torch.randn_like(p) * 0.02)  # the zero-initialised MLP outputs too, so the check means something
    ref = PlainNetG.from_project(G).eval()
    assert sum(p.numel() for p in ref.parameters()) == sum(p.numel() for p in G.parameters())
    z, s = torch.randn(3, 100), torch.randn(3, 256)
    with torch.no_grad():
        assert torch.allclose(G(z, s).images[-1], ref(z, s), atol=1e-6)
    assert sum(p.numel() for p in PlainNetG(32, 100, 256, 64).parameters()) == 4_868_867  # the public NetG's size


def _same_in_both_forms(G, switches, z, s) -> int:
    """G's images, masks and parameter gradients (of a fixed weighting of the image) agree with every module in
    `switches` in its low-res form (low_res = True) and in the plain one; returns how many masks were compared."""
    outs, maps, grads = [], [], []
    for low in (True, False):
        for m in switches:
            m.low_res = low
        torch.manual_seed(1)  # the same condition-augmentation noise in both passes
        G.zero_grad()
        out = G(z, s)
        img = out.images[-1]
        (img * torch.linspace(-1, 1, img.numel()).view_as(img)).sum().backward()
        outs.append(img.detach())
        maps.append([v.detach() for v in out.masks.values()])
        grads.append(torch.cat([p.grad.flatten() for p in G.parameters() if p.grad is not None]))
    assert torch.allclose(outs[0], outs[1], atol=1e-5)
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(*maps)) and len(maps[0]) == len(maps[1])
    assert torch.allclose(grads[0], grads[1], atol=1e-4, rtol=1e-3)
    return len(maps[0])


def test_low_res_block_form_gives_the_same_images_and_gradients():
    """ResUpBlock's low-res form (fusions before the nearest upsampling, conv1 as a transposed conv) is exact."""
    from t2i.models import get_family
    from t2i.nn.affine import ResUpBlock

    fam = get_family("dfgan")
    torch.manual_seed(0)
    G = fam.build_generator(fam.config_from_dict({"nf": 4, "img_size": 32}))
    blocks = [b for b in G.modules() if isinstance(b, ResUpBlock)]
    assert blocks and all(b.low_res for b in blocks)
    with torch.no_grad():
        for p in G.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    for n in (1, 5):  # 1: the first block takes the plain path on its 16 pixels, the others the transposed conv
        z, s = torch.randn(n, 100), torch.randn(n, 256)
        _same_in_both_forms(G, blocks, z, s)
    G.eval()
    for b in blocks:
        b.low_res = True
    with torch.no_grad():
        a = G(z, s).images[-1]
        G.blocks[1].conv1.weight.mul_(0.5)  # the cached transposed weight follows the weight's changes
        assert not torch.allclose(G(z, s).images[-1], a)


@pytest.mark.parametrize("shape", [(2, 3, 4, 4), (3, 5, 8, 6), (1, 2, 1, 3)])
@pytest.mark.parametrize("channels_last", [False, True])
def test_bicubic_x2_is_torch_bicubic_as_matrix_products(shape, channels_last):
    """bicubic_x2 (SWF-GAN's upsampling, two matrix products) gives F.interpolate's bicubic x2 numbers and gradients,
    borders included, in the input's layout; a channels-last input stays channels-last (no copy before the convs)."""
    import torch.nn.functional as F

    from t2i.nn.common import bicubic_x2

    torch.manual_seed(0)
    x = torch.randn(shape)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    ref, out = F.interpolate(a, scale_factor=2, mode="bicubic", align_corners=False), bicubic_x2(b)
    assert out.shape == ref.shape and torch.allclose(out, ref, atol=1e-5)
    g = torch.randn_like(ref)
    ref.backward(g), out.backward(g)
    assert torch.allclose(a.grad, b.grad, atol=1e-5)
    if channels_last:
        assert out.is_contiguous(memory_format=torch.channels_last)
    with pytest.raises(AssertionError):
        bicubic_x2(x[0])


def test_bicubic_x2_trains_after_a_first_use_in_inference_mode():
    """A process that generates first (pipelines run in inference mode) and trains after: the cached interpolation
    matrices are ordinary tensors, so the backward can save them."""
    from t2i.nn.common import bicubic_x2

    with torch.inference_mode():
        bicubic_x2(torch.randn(1, 2, 7, 5))
    x = torch.randn(1, 2, 7, 5, requires_grad=True)
    bicubic_x2(x).square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.parametrize("family", ["csagan", "ssagan"])
def test_mask_predictors_low_res_conv_gives_the_same_masks_images_and_gradients(family):
    """The CNN mask predictor's conv3x3 on the nearest-upsampled input, run as a transposed conv of the input before
    the upsampling (CSA-GAN, SSA-GAN), is exact: masks, images and gradients, in training (BN batch statistics)."""
    from t2i.models import get_family
    from t2i.nn.spatial import CNNMask

    fam = get_family(family)
    torch.manual_seed(0)
    G = fam.build_generator(fam.config_from_dict({"nf": 4, "img_size": 32}))
    masks = [m for m in G.modules() if isinstance(m, CNNMask)]
    assert masks and all(m.low_res for m in masks)
    maps = _same_in_both_forms(G, masks, torch.randn(5, 100), torch.randn(5, 256))
    assert maps  # the masks themselves were compared too


def test_card_shows_training_wall_time_in_seconds_and_hours():
    from t2i.eval.card import _wall
    assert _wall(12860.4) == "12,860 s (3.6 h)"
    assert _wall(59.0) == "59 s"
    assert _wall(None) == "?"


def test_images_per_second_note_names_the_threads_each_row_was_measured_with():
    row = {"model_type": "dfgan", "metrics": {"attr_acc": 0.5, "gen_images_per_s": 10.0}}
    same = {"models": {"dfgan-a": {**row, "threads": 2}, "dfgan-b": {**row, "threads": 2}}, "threads": 1}
    assert "(batch 50, 2 torch threads)" in report.results_table(same)
    mixed = {"models": {"dfgan-a": {**row, "threads": 2}, "dfgan-b": {**row, "threads": 1}}, "threads": 1}
    t = report.results_table(mixed)
    assert "1 torch thread: dfgan-b; 2 torch threads: dfgan-a" in t
