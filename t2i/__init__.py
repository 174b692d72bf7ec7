"""T2I Studio: GAN text-to-image synthesis and text-guided editing of birds.

Public API (the app and the CLI use only these names):
    list_models, load_pipeline, TextToImagePipeline, EditPipeline, __version__
"""
__version__ = "0.1.0"
