"""Pictures: grids, mask overlays, word attention maps, CAM saliency, t-SNE of latents."""
