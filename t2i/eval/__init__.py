"""Evaluation: AttrAcc (SynthBirds attribute classifier), FID (TF-Inception), R-precision (DAMSM), edits, speed."""
