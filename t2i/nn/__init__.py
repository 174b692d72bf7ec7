"""Shared layers, written once and used by every family that needs them."""
from t2i.nn.common import CondAugment, truncated_normal  # noqa: F401
from t2i.nn.attention import word_attention  # noqa: F401
