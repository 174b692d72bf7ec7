"""What each registered family is, for people: (display name, paper, what it adds). Read by the studio (picker,
Models tab) and by the evaluation tables and model cards, so it lives below both."""
from __future__ import annotations

FAMILY_INFO: dict[str, tuple[str, str, str]] = {
    "dfgan": ("DF-GAN", "Tao et al., *DF-GAN: A Simple and Effective Baseline for Text-to-Image Synthesis*, CVPR 2022",
              "The one-stage baseline: deep text-image fusion (affine blocks conditioned on [z; sentence]), a one-way "
              "discriminator and the matching-aware gradient penalty (MA-GP)."),
    "ssagan": ("SSA-GAN", "Liao et al., *Text to Image Generation with Semantic-Spatial Aware GAN*, CVPR 2022",
               "Baseline with a predicted mask per block that decides *where* the sentence modulates the features "
               "(semantic-spatial aware conditional batch norm), plus the DAMSM loss."),
    "swfgan": ("SWF-GAN", "Seed 000 (patent): sentence-word semantic-space fusion GAN",
               "Coordinate-attention masks; sentence-level affine fusion in the early blocks and word-level fusion "
               "(per-word attention over image regions) in the late blocks."),
    "csagan": ("CSA-GAN", "Seed 001: CSA-GAN, conditional semantic augmentation GAN",
               "Conditioning augmentation of the sentence, learned spatial masks for spatial-semantic fusion and a "
               "residual generator branch G0."),
    "ecagan": ("ECAGAN", "Seed 002a: ECAGAN (Zhang et al., Computer Engineering 2022)",
               "Three stages (DM-GAN lineage): CARAFE content-aware up-sampling and channel attention in the first "
               "stage, dynamic-memory refinement stages, and a perceptual loss."),
    "caegan": ("CAE-GAN", "Seed 002b: CAE-GAN (Tan et al., Computer Science 2022)",
               "A cross-attention (Transformer-style) encoder aligns words with visual features before a three-stage "
               "dynamic-memory generator."),
    "ffgan": ("FF-GAN", "Seed 003: FF-GAN, feature-fusion GAN (Xu et al.)",
              "Three stages with one discriminator: dense feature fusion of sentence and word-attention vectors and "
              "residual feature-pyramid attention (FPAM)."),
    "cigan": ("CI-GAN", "Seed 004: CI-GAN, cycle-consistent inverse GAN",
              "StyleGAN2 + an inversion encoder trained with latent cycle consistency + a text encoder aligned to W "
              "with InfoNCE; generates and edits by optimising the latent towards the text."),
    "attr-classifier": ("Attribute classifier", "SynthBirds evaluation model (DESIGN.md, AttrAcc)",
                        "Reads each CUB attribute (belly colour, wing pattern, ...) from an image: the AttrAcc metric "
                        "and the CAM saliency views."),
    "species-classifier": ("Species classifier", "SynthBirds evaluation model (the Inception Score's classifier)",
                           "Reads which of the 200 SynthBirds species an image shows: the Inception Score, as CUB's "
                           "IS uses an Inception-v3 fine-tuned on CUB's species."),
    "damsm": ("DAMSM", "Xu et al., *AttnGAN*, CVPR 2018 (DAMSM text and image encoders)",
              "The frozen text encoder every GAN but CI-GAN reads captions with, and the R-precision metric."),
    "part-segmenter": ("Part segmenter", "ours (a small U-Net on SynthBirds part maps)",
                       "Finds the belly, wings, crown ... of an upload, so that an edit changes only the part the "
                       "text names."),
    "upsampler": ("4x upsampler", "ours (issue 30: bicubic + a learnt residual, trained on SynthBirds 64/256 px pairs)",
                  "Brings every generator's and every edit's 64 px bird to 256 px (the studio's default output)."),
}
