#!/usr/bin/env python3
"""Our image decode + preprocessing against HF's Gemma3 image processor (the one AutoProcessor
builds for the checkpoint) on awkward files: grayscale, RGBA with varying alpha, palette, JPEG
(colour and grayscale), BMP, TIFF, CMYK TIFF (plain and LZW), a 47x33 image (upscaled), a tall and a
wide strip (one side up, one down). Every pixel value within 0.02 (one 8-bit step is 0.0078 after
normalization); the CMYK TIFFs are the processor's own 64x64, so nothing is resampled and their
decode must equal Pillow's CMYK->RGB conversion exactly."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools" / "parity"))
import hf_reference as ref  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402


def odd_images():
    """(file name, PIL image to save, save options)."""
    rgb = Image.fromarray(ref.test_pattern(300, 200, seed=1))
    alpha = Image.fromarray((np.linspace(0, 255, 200 * 300).reshape(300, 200)).astype(np.uint8))
    rgba = Image.fromarray(ref.test_pattern(200, 300, seed=2)).convert("RGBA")
    rgba.putalpha(alpha)
    # Black ink of its own (RGB->CMYK in Pillow leaves K at 0, where every conversion agrees).
    cmyk = Image.fromarray(np.concatenate([ref.test_pattern(64, 64, seed=10), ref.test_pattern(64, 64, seed=11)[..., :1]],
                                          axis=2), "CMYK")
    return [
        ("gray.png", rgb.convert("L"), {}),
        ("rgba.png", rgba, {}),
        ("palette.png", rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=64), {}),
        ("photo.jpg", Image.fromarray(ref.test_pattern(640, 480, seed=3)), {"quality": 90}),
        ("gray.jpg", Image.fromarray(ref.test_pattern(333, 251, seed=4)).convert("L"), {"quality": 85}),
        ("scan.bmp", Image.fromarray(ref.test_pattern(123, 77, seed=5)), {}),
        ("scan.tif", Image.fromarray(ref.test_pattern(150, 90, seed=6)), {}),
        ("cmyk_64x64.tif", cmyk, {}),
        ("cmyk_lzw_64x64.tif", cmyk, {"compression": "tiff_lzw"}),
        ("tiny_47x33.png", Image.fromarray(ref.test_pattern(47, 33, seed=7)), {}),
        ("tall_40x400.png", Image.fromarray(ref.test_pattern(40, 400, seed=8)), {}),
        ("wide_500x24.png", Image.fromarray(ref.test_pattern(500, 24, seed=9)), {}),
    ]


def main():
    cli, checks = ref.test_setup(__doc__)
    model_dir = cli.make_tiny_model(cli.work / "tiny")
    image_processor = ref.hf_processor(model_dir).image_processor
    paths = []
    for name, image, options in odd_images():
        path = cli.work / name
        image.save(path, **options)
        paths.append(path)
    ours = cli.preprocess(model_dir, paths, "odd")
    for i, path in enumerate(paths):
        with Image.open(path) as image:
            mode = image.mode
            hf = image_processor(images=[image], return_tensors="pt")["pixel_values"][0]
        bound = 1e-6 if mode == "CMYK" else 0.02
        checks.at_most(f"preprocess {path.name} ({mode}) max|d| vs {type(image_processor).__name__}",
                       float((ours[i] - hf).abs().max()), bound, f"mean|d| {float((ours[i] - hf).abs().mean()):.1e}")
    checks.finish()


if __name__ == "__main__":
    main()
