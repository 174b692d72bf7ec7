"""One trainer for the GAN families (t2i.training.gan) and one loop for supervised helpers (DAMSM, classifier)."""
