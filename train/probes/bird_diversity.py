"""Issue 25, session 28: does the noise move the bird or only its background? The eval's diversity (16 test captions
x 8 seeds, EfficientNet-Lite0 feature distance; DESIGN.md) on whole images and on the bird alone (FeatureNet's
bird_mask from the SynthBirds part segmenter: the bird on mid-grey), for shipped generators and for real images of
the captions' species. Run from the repository root:
PYTHONPATH=. python train/probes/bird_diversity.py [model ...]  -> results/bird_diversity.json"""
import json
import sys

import torch

from t2i.data.captions import CaptionDataset
from t2i.eval.diversity import FeatureNet, generator_diversity, real_diversity, segmenter_bird_mask
from t2i.eval.generators import DIVERSITY_CAPTIONS, DIVERSITY_SEEDS, test_captions
from t2i.partseg import load_part_segmenter
from t2i.pipeline import TextToImagePipeline

ROOT = "data/synthbirds-64"
MODELS = sys.argv[1:] or ["csagan-synthbirds-64", "caegan-synthbirds-64", "ffgan-synthbirds-64",
                          "ecagan-synthbirds-64", "dfgan-synthbirds-64", "ssagan-synthbirds-64", "swfgan-synthbirds-64"]
torch.set_num_threads(1)
nets = {"whole": FeatureNet(), "bird": FeatureNet(bird_mask=segmenter_bird_mask(
    load_part_segmenter("checkpoints/partseg-synthbirds-64")))}
out = {}
for name in MODELS:
    pipe = TextToImagePipeline.from_pretrained(f"checkpoints/{name}")
    data = CaptionDataset(ROOT, "test", 64, vocab=pipe.vocab, augment=False, limit=DIVERSITY_CAPTIONS)
    pairs = test_captions(data, 0)[:DIVERSITY_CAPTIONS]
    caps = [c for _, c in pairs]
    out[name] = {k: round(generator_diversity(pipe, caps, DIVERSITY_SEEDS, net, 0), 4) for k, net in nets.items()}
    if "real" not in out:
        every = CaptionDataset(ROOT, "test", 64, vocab=pipe.vocab, augment=False)
        ids = [data.samples[i].class_id for i, _ in pairs]
        out["real"] = {k: round(real_diversity(every, ids, DIVERSITY_SEEDS, net, 0), 4) for k, net in nets.items()}
        print("real", out["real"], flush=True)
    print(name, out[name], flush=True)
    json.dump(out, open("results/bird_diversity.json", "w"), indent=1)
