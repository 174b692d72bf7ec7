"""Caption datasets (CUB/AttnGAN layouts), the vocabulary and the SynthBirds renderer."""
from t2i.data.vocab import Vocabulary, tokenize  # noqa: F401
