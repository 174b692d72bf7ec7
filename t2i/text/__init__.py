"""Text encoders: the DAMSM BiLSTM + image encoder (AttnGAN) used by every model but CI-GAN; R-precision of their
codes (rprecision) and the checks of a typed caption (prompt)."""
from t2i.text.damsm import DAMSM, DAMSMConfig, ImageEncoder, TextEncoder  # noqa: F401
