"""Text encoders: the DAMSM BiLSTM + image encoder (AttnGAN) used by every model but CI-GAN."""
from t2i.text.damsm import DAMSM, DAMSMConfig, ImageEncoder, TextEncoder  # noqa: F401
