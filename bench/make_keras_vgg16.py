"""Writes torchvision's VGG16 (random weights, seed 0) as a Keras 2 model file, OUT/vgg16.h5, and
as Keras 3's archive, OUT/vgg16.keras, with Keras Applications' layer names, the same net as ONNX (OUT/vgg16.onnx), an input in both layouts
(OUT/x_nchw.npy, OUT/x_nhwc.npy) and PyTorch's logits (OUT/logits.npy), to time `lrp` on a large
Keras model against the ONNX import (docs/PERFORMANCE.md, "Keras import").

  /usr/bin/python3 bench/make_keras_vgg16.py OUT      (needs torch, torchvision, onnx, h5py)"""
import os
import sys

import numpy as np
import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "fixtures", "keras"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "fixtures"))
from make_fixtures import conv_config, conv_kernel, layer, nhwc, save, save_keras_archive  # noqa: E402


def main(out):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    m = torchvision.models.vgg16().eval()
    layers = [{"class_name": "InputLayer", "config": {"batch_input_shape": [None, 224, 224, 3], "dtype": "float32", "name": "input_1"}}]
    weights = []
    convs = iter(l for l in m.features if isinstance(l, torch.nn.Conv2d))
    for b, n in enumerate([2, 2, 3, 3, 3], 1):
        for k in range(1, n + 1):
            name, c = f"block{b}_conv{k}", next(convs)
            layers.append(layer("Conv2D", name, **conv_config(c.out_channels, 3, padding="same", activation="relu")))
            weights.append((name, [("kernel", conv_kernel(c)), ("bias", nhwc(c.bias))]))
        layers.append(layer("MaxPooling2D", f"block{b}_pool", pool_size=[2, 2], strides=[2, 2], padding="valid",
                            data_format="channels_last"))
        weights.append((f"block{b}_pool", []))
    layers.append(layer("Flatten", "flatten", data_format="channels_last"))
    weights.append(("flatten", []))
    fcs = [l for l in m.classifier if isinstance(l, torch.nn.Linear)]
    # Keras flattens H, W, C: the first dense kernel's rows in that order.
    fc1 = fcs[0].weight.detach().view(4096, 512, 7, 7).permute(2, 3, 1, 0).reshape(25088, 4096)
    for name, fc, kernel, act in [("fc1", fcs[0], fc1, "relu"), ("fc2", fcs[1], fcs[1].weight.detach().T, "relu"),
                                  ("predictions", fcs[2], fcs[2].weight.detach().T, "softmax")]:
        layers.append(layer("Dense", name, units=fc.out_features, activation=act, use_bias=True))
        weights.append((name, [("kernel", np.ascontiguousarray(kernel.numpy(), dtype=np.float32)), ("bias", nhwc(fc.bias))]))
    config = {"class_name": "Sequential", "config": {"name": "vgg16", "layers": layers}}
    save(os.path.join(out, "vgg16.h5"), config, weights, vlen=True)
    save_keras_archive(os.path.join(out, "vgg16.keras"), config, weights)
    x = torch.randn(1, 3, 224, 224)
    torch.onnx.export(m, x, os.path.join(out, "vgg16.onnx"), opset_version=13, input_names=["input"], output_names=["logits"])
    np.save(os.path.join(out, "x_nchw.npy"), x.numpy())
    np.save(os.path.join(out, "x_nhwc.npy"), x.permute(0, 2, 3, 1).contiguous().numpy())
    with torch.no_grad():
        np.save(os.path.join(out, "logits.npy"), m(x).numpy())


if __name__ == "__main__":
    main(sys.argv[1])
