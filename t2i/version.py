"""The package version (written into every model folder's config.json as t2i_version)."""
__version__ = "0.1.0"
