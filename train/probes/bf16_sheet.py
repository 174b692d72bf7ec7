"""bf16 inference, looked at (issue 22): fp32 eager | bf16 trace | |difference| x 10, per shipped model; run from the repository root:
    PYTHONPATH=. python train/probes/bf16_sheet.py  ->  results/bf16_inference_sheet.png"""
import torch
from PIL import Image
from t2i.pipeline import TextToImagePipeline
from t2i.export import optimize_for_inference
caps = ["a small bird with a red belly and black wings", "this bird is blue with a white crown", "a yellow bird with grey wings", "a green bird with a red crown"]
rows = []
for m in ["ffgan-synthbirds-64", "ecagan-synthbirds-64", "csagan-synthbirds-64"]:
    e = TextToImagePipeline.from_pretrained(f"checkpoints/{m}")
    f = optimize_for_inference(TextToImagePipeline.from_pretrained(f"checkpoints/{m}"), bf16=True)
    a = e(caps, seed=3, n=1, return_tensors=True).tensors.images[-1]
    b = f(caps, seed=3, n=1, return_tensors=True).tensors.images[-1]
    d = ((a - b).abs() * 10).clamp(0, 2) - 1
    row = torch.cat([torch.cat([x, y, z], 2) for x, y, z in zip(a, b, d)], 2)
    rows.append(row)
g = ((torch.cat(rows, 1) + 1) * 127.5).clamp(0, 255).byte().permute(1, 2, 0).numpy()
Image.fromarray(g).resize((g.shape[1] * 2, g.shape[0] * 2), Image.NEAREST).save("results/bf16_inference_sheet.png")
