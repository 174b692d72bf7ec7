"""CI-GAN text-to-image by retrieval, then the masked edit (ours, t2i.cigan_retrieval): on the tiny CI-GAN of
tests/test_edit.py with a bank of codes drawn from its mapping network."""
from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from t2i import checkpoint as ckpt
from t2i.cigan_retrieval import CODE_BANK, CodeBankIndex, retrieve_and_edit
from t2i.edit import EditPipeline
from tests.test_edit import TEXT, cigan, pipe  # noqa: F401 - the module fixtures

torch.set_num_threads(1)
N_BANK = 12


@pytest.fixture(scope="module")
def bank_codes(pipe):  # noqa: F811
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        w = pipe.G.mapping(torch.randn(N_BANK, pipe.G.mapping.z_dim, generator=g), psi=0.7)
    return w.unsqueeze(1).repeat(1, pipe.G.synthesis.num_ws, 1)


@pytest.fixture(scope="module")
def rpipe(pipe, bank_codes):  # noqa: F811
    nets = {"stylegan": pipe.G, "encoder": pipe.E, "text": pipe.T}
    return EditPipeline(pipe.cfg, nets, pipe.vocab, pipe.record, bank=CodeBankIndex(bank_codes), t2i_mode="retrieve")


def _damsm_match(p, caption, rows):
    model, vocab = p.damsm
    e = vocab.encode(caption, p.max_words)
    words, sent, mask = model.encode_text(torch.tensor([e.ids]), torch.tensor([e.length]))
    k = len(rows)
    with torch.no_grad():
        return model.match(p.synthesize(p.bank.codes[rows]), words.expand(k, -1, -1), sent.expand(k, -1),
                           mask.expand(k, -1))


def test_ranking_is_damsm_order_and_the_seed_picks_among_the_best(rpipe):
    model, vocab = rpipe.damsm
    glob = rpipe.bank.sentence_features(rpipe.synthesize, model)
    assert glob.shape[0] == N_BANK and torch.allclose(glob.norm(dim=1), torch.ones(N_BANK))
    ranked = rpipe.bank.rank([TEXT, "a bird with black wings"], glob, rpipe.synthesize, model, vocab, rpipe.max_words,
                             shortlist=N_BANK)
    assert ranked.shape == (2, N_BANK) and sorted(ranked[0].tolist()) == list(range(N_BANK))
    score = _damsm_match(rpipe, TEXT, ranked[0])
    assert (score[:-1] >= score[1:] - 1e-5).all()  # best first, over the whole bank
    # repeats of one caption in a call get different birds among the k best; the seed decides which
    rows = rpipe.bank.choose(ranked[[0, 0, 0]], seed=1, k=4)
    assert len(set(rows.tolist())) == 3 and set(rows.tolist()) <= set(ranked[0, :4].tolist())
    assert torch.equal(rows, rpipe.bank.choose(ranked[[0, 0, 0]], seed=1, k=4))
    one = [rpipe.bank.choose(ranked[[0]], seed=1 + j, k=4).item() for j in range(3)]
    assert one == rows.tolist()  # seed s + j alone redraws the j-th bird of the call with seed s
    assert rpipe.bank.choose(ranked[[0]], seed=5, k=4) == rpipe.bank.choose(ranked[[0]], seed=1, k=4)  # k apart
    assert rpipe.bank.choose(ranked[[0]], seed=5, k=1).item() == ranked[0, 0].item()  # k = 1: the best


def test_retrieved_bird_is_edited_only_in_the_named_parts(rpipe):
    rows, plain = retrieve_and_edit(rpipe, [TEXT, TEXT], seed=2, steps=0)
    assert torch.allclose(plain, rpipe.synthesize(rpipe.bank.codes[rows]))  # steps = 0: the retrieved birds
    calls = []
    rows2, edited = retrieve_and_edit(rpipe, [TEXT, TEXT], seed=2, steps=3, progress=lambda i, n: calls.append(i))
    assert torch.equal(rows, rows2) and calls == [1, 2, 3]
    mask = rpipe.part_masks(plain, [TEXT, TEXT])
    assert (mask < 0.5).any() and not torch.allclose(edited, plain)
    outside = (mask == 0).expand_as(plain)
    assert torch.allclose(edited[outside], plain[outside], atol=1e-6)  # the rest of the retrieved bird is kept
    # a caption naming no part colour keeps the retrieved bird as it is
    rows3, same = retrieve_and_edit(rpipe, ["a small bird"], seed=0, steps=3)
    assert torch.allclose(same, rpipe.synthesize(rpipe.bank.codes[rows3]))


def test_gated_edit_runs_below_the_gate_and_keeps_only_better_matches(rpipe):
    """"retrieve-auto"'s step 3': gate -inf edits nothing; gate +inf edits every named caption but keeps an edited
    bird only where DAMSM matches it to its caption better than the retrieved one."""
    texts = [TEXT, "this bird has a blue crown and a yellow belly", "a small bird"]
    rows, plain = retrieve_and_edit(rpipe, texts, seed=2, steps=0)
    assert torch.allclose(retrieve_and_edit(rpipe, texts, seed=2, steps=3, gate=float("-inf"))[1], plain)
    _, every = retrieve_and_edit(rpipe, texts, seed=2, steps=3)
    rows2, auto = retrieve_and_edit(rpipe, texts, seed=2, steps=3, gate=float("inf"))
    damsm, vocab = rpipe.damsm
    words, sent, mask = damsm.encode_captions(vocab, texts, rpipe.max_words)
    better = damsm.match(every, words, sent, mask) > damsm.match(plain, words, sent, mask)
    assert torch.equal(rows, rows2)
    for i in range(len(texts)):  # the last caption names no part: never edited
        want = every[i] if bool(better[i]) and i < 2 else plain[i]
        assert torch.allclose(auto[i], want, atol=1e-5), i


def test_generate_and_call_in_retrieve_mode(rpipe, pipe):  # noqa: F811
    assert rpipe.t2i_mode == "retrieve" and pipe.t2i_mode == "paper"
    a = rpipe.generate(TEXT, seed=1, n=2, steps=1)
    assert [im.tobytes() for im in a] == [im.tobytes() for im in rpipe.generate(TEXT, seed=1, n=2, steps=1)]
    per_seed = rpipe(TEXT, seeds=[7, 1], steps=1)  # seed 1 alone redraws the first image of seed 1
    assert per_seed.images[1].tobytes() == a[0].tobytes()
    assert "retrieval" in per_seed.notes[0] and pipe(TEXT, steps=1).notes == []  # the reader is told how
    paper = pipe.generate(TEXT, seed=1, n=2, steps=1)
    assert paper[0].tobytes() != a[0].tobytes()


def test_retrieve_mode_shows_the_retrieved_bird_and_retrieve_edit_edits_it(rpipe, pipe):  # noqa: F811
    """"retrieve" skips the edit whatever the steps; "retrieve-edit" runs it; "retrieve-auto" runs it by its gate."""
    epipe = EditPipeline(pipe.cfg, {"stylegan": pipe.G, "encoder": pipe.E, "text": pipe.T}, pipe.vocab, pipe.record,
                         bank=rpipe.bank, t2i_mode="retrieve-edit")
    rows, plain = retrieve_and_edit(rpipe, [TEXT], seed=3, steps=0)
    assert torch.allclose(rpipe.generate_tensors([TEXT], seed=3, steps=3), plain.clamp(-1, 1))
    edited = epipe.generate_tensors([TEXT], seed=3, steps=3)
    assert not torch.allclose(edited, plain.clamp(-1, 1))
    assert "edit" not in rpipe(TEXT, steps=1).notes[0] and "edit" in epipe(TEXT, steps=1).notes[0]
    apipe = EditPipeline(pipe.cfg, {"stylegan": pipe.G, "encoder": pipe.E, "text": pipe.T}, pipe.vocab, pipe.record,
                         bank=rpipe.bank, t2i_mode="retrieve-auto")
    gated = apipe.generate_tensors([TEXT], seed=3, steps=3)  # edited or the retrieved bird, by the gate's rule
    assert torch.allclose(gated, edited) or torch.allclose(gated, plain.clamp(-1, 1))
    assert "poorly" in apipe(TEXT, steps=1).notes[0]
    with pytest.raises(ckpt.CheckpointError):
        EditPipeline(pipe.cfg, {"stylegan": pipe.G, "encoder": pipe.E, "text": pipe.T}, pipe.vocab, pipe.record,
                     t2i_mode="retrieve-edit")  # no bank


def test_from_pretrained_finds_the_bank_and_refuses_bad_ones(cigan, bank_codes, tmp_path):  # noqa: F811
    import shutil

    folder = tmp_path / "s3"
    shutil.copytree(cigan["s3"], folder)
    assert EditPipeline.from_pretrained(folder).t2i_mode == "paper"  # no bank: the paper's text-to-image
    with pytest.raises(ckpt.CheckpointError, match="code bank"):
        EditPipeline.from_pretrained(folder, t2i_mode="retrieve")
    save_file({"codes": bank_codes.half(), "indices": torch.arange(N_BANK)}, str(folder / CODE_BANK))
    p = EditPipeline.from_pretrained(folder)
    assert p.t2i_mode == "retrieve-auto" and len(p.bank) == N_BANK  # the default with a bank
    # the bank's DAMSM features are made on first use and kept beside it; a later pipeline reads them back
    feats = folder / "code_bank_features.safetensors"
    cold, warm = [], []
    p.synthesize = lambda w, f=p.synthesize: cold.append(len(w)) or f(w)  # counts the images synthesized
    img = p.generate(TEXT, seed=0, steps=0)[0]
    assert feats.is_file()
    again = EditPipeline.from_pretrained(folder)
    again.synthesize = lambda w, f=again.synthesize: warm.append(len(w)) or f(w)
    assert again.generate(TEXT, seed=0, steps=0)[0].tobytes() == img.tobytes()
    assert cold == [N_BANK] + warm and len(warm) == 2  # the whole bank was not synthesized again (shortlist, pick)
    feats.write_bytes(b"junk")  # an unreadable cache is recomputed, not an error
    assert EditPipeline.from_pretrained(folder).generate(TEXT, seed=0, steps=0)[0].tobytes() == img.tobytes()
    assert EditPipeline.from_pretrained(folder, t2i_mode="paper").t2i_mode == "paper"
    with pytest.raises(ValueError, match="unknown text-to-image mode"):
        EditPipeline.from_pretrained(folder, t2i_mode="dream")
    save_file({"codes": bank_codes[:, :2].half(), "indices": torch.arange(N_BANK)}, str(folder / CODE_BANK))
    with pytest.raises(ckpt.CheckpointError, match="rebuild the bank"):
        EditPipeline.from_pretrained(folder)
    (folder / CODE_BANK).write_bytes(b"not a bank")
    with pytest.raises(ckpt.CheckpointError, match="not a readable code bank"):
        EditPipeline.from_pretrained(folder)
