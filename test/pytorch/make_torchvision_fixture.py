#!/usr/bin/python3
"""torchvision's eval transform and AlexNet on real photos, for `convnet predict --weights` and the
`--preprocess torchvision` preset (apps/trainer/test/torchvision.test.ts).

Photos: test/fixtures/photos (from Debian's opencv-doc samples; exif-rotated.jpg is made here from HappyFish.jpg
with EXIF orientation 6). For each photo this writes, under test/fixtures/torchvision:
  <photo>.crop.png  the uint8 RGB image after ImageOps.exif_transpose, convert('RGB'), Resize(256), CenterCrop(224)
                    (lossless, so the test compares our pixels with PIL's);
  torchvision.json  per photo: the resized size, the crop window, per-channel sums and samples of the normalised
                    tensor, and the logits of torchvision's AlexNet whose weights come from the integer hash of
                    make_alexnet_fixture.py (parameter k = its index; weights sqrt(6 / fan_in), biases 0.01).
Run: /usr/bin/python3 test/pytorch/make_torchvision_fixture.py
"""
import json
import os

import numpy as np
import torch
import torchvision
import torchvision.transforms as T
from PIL import Image, ImageOps

from make_alexnet_fixture import fill

torch.set_num_threads(1)
HERE = os.path.dirname(os.path.abspath(__file__))
PHOTOS = os.path.join(HERE, "..", "fixtures", "photos")
OUT = os.path.join(HERE, "..", "fixtures", "torchvision")
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def scale(shape):
    """He-uniform bound sqrt(6 / fan_in): activations keep their size through the net, so the logits depend on
    the photo (with the 0.02 of make_alexnet_fixture.py every photo gets nearly the same probabilities)."""
    return float(np.sqrt(6.0 / np.prod(shape[1:])))


def make_rotated():
    src = Image.open(os.path.join(PHOTOS, "HappyFish.jpg"))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    src.save(os.path.join(PHOTOS, "exif-rotated.jpg"), quality=92, exif=exif.tobytes())


def main():
    os.makedirs(OUT, exist_ok=True)
    if not os.path.exists(os.path.join(PHOTOS, "exif-rotated.jpg")):
        make_rotated()
    model = torchvision.models.alexnet(weights=None).eval()
    with torch.no_grad():
        for k, (n, p) in enumerate(model.named_parameters()):
            p.copy_(fill(p.shape, k, scale(p.shape) if n.endswith("weight") else 0.01))
    resize, crop, to_tensor, norm = T.Resize(256), T.CenterCrop(224), T.ToTensor(), T.Normalize(MEAN, STD)
    photos = {}
    for name in sorted(os.listdir(PHOTOS)):
        img = ImageOps.exif_transpose(Image.open(os.path.join(PHOTOS, name))).convert("RGB")
        r = resize(img)
        w, h = r.size
        top, left = int(round((h - 224) / 2.0)), int(round((w - 224) / 2.0))
        c = crop(r)
        c.save(os.path.join(OUT, name.rsplit(".", 1)[0] + ".crop.png"))
        x = norm(to_tensor(c))
        with torch.no_grad():
            logits = model(x[None])[0]
        flat = x.reshape(-1)
        idx = [int(i) for i in np.linspace(0, flat.numel() - 1, 32)]
        photos[name] = {
            "original": list(img.size), "resized": [w, h], "window": {"left": left, "top": top, "width": 224, "height": 224},
            "channelSums": [float(v) for v in x.double().sum(dim=(1, 2))],
            "samples": [[i, float(flat[i])] for i in idx],
            "logits": [float(v) for v in logits],
        }
    with open(os.path.join(OUT, "torchvision.json"), "w") as f:
        json.dump({"torch": torch.__version__, "torchvision": torchvision.__version__, "mean": MEAN, "std": STD, "photos": photos}, f)


if __name__ == "__main__":
    main()
