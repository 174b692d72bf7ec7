"""The Frechet distance between Gaussians fitted to two feature sets: FID's formula (t2i.eval.fid) and the
latent-space distance of the t-SNE figures (t2i.viz.tsne). A neutral low module, so that both use one copy."""
from __future__ import annotations

import numpy as np
from scipy import linalg


def statistics(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return feats.mean(0), np.cov(feats, rowvar=False)


def frechet_distance(mu1, s1, mu2, s2) -> float:
    diff = mu1 - mu2
    covmean, _ = linalg.sqrtm(s1.dot(s2), disp=False)
    if not np.isfinite(covmean).all():
        eps = np.eye(s1.shape[0]) * 1e-6
        covmean = linalg.sqrtm((s1 + eps).dot(s2 + eps))
    covmean = covmean.real
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))
