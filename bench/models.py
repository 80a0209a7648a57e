#!/usr/bin/env python3
"""Exports real models with random weights to ONNX and records PyTorch's outputs.

Run where PyTorch, torchvision and transformers are installed (a GPU is used when present):
    python3 bench/models.py OUT_DIR [resnet50] [mobilenetv2] [bert] [gpt2]
For each model, OUT_DIR/<model>/ gets model.onnx, input_*.npy (named after the ONNX
inputs) and torch_<output>.npy, PyTorch's FP32 outputs with TF32 off.
"""
import os
import sys

import numpy as np
import torch


def export(model, args, names, outputs, path, dynamic_axes=None):
    kwargs = dict(input_names=names, output_names=outputs, opset_version=17, dynamic_axes=dynamic_axes)
    try:
        torch.onnx.export(model, args, path, dynamo=False, **kwargs)
    except TypeError:
        torch.onnx.export(model, args, path, **kwargs)


def save(folder, model, args, names, outputs, dynamic_axes=None):
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "model.onnx")
    export(model, args, names, outputs, path, dynamic_axes)
    for name, value in zip(names, args):
        np.save(os.path.join(folder, f"input_{name}.npy"), value.cpu().numpy())
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = model.to(device)
    with torch.no_grad():
        result = model(*[a.to(device) for a in args])
    if isinstance(result, torch.Tensor):
        result = (result,)
    elif hasattr(result, "to_tuple"):
        result = result.to_tuple()
    for name, value in zip(outputs, result):
        np.save(os.path.join(folder, f"torch_{name}.npy"), value.float().cpu().numpy())
    print(f"exported {path} ({os.path.getsize(path) / 1e6:.1f} MB)")


def main():
    out = sys.argv[1]
    wanted = sys.argv[2:] or ["resnet50", "mobilenetv2", "bert", "gpt2"]
    torch.manual_seed(0)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    for name in ("resnet50", "mobilenetv2"):
        if name not in wanted:
            continue
        import torchvision

        net = torchvision.models.resnet50 if name == "resnet50" else torchvision.models.mobilenet_v2
        model = net(weights=None).eval()
        # Non-trivial BatchNorm statistics, so that folding them is really tested.
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.running_mean.uniform_(-0.1, 0.1)
                    m.running_var.uniform_(0.5, 1.5)
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.uniform_(-0.1, 0.1)
        # Example batch 2: torch.export specializes dimensions of size 1, which would fix the
        # batch of the exported graph.
        x = torch.randn(2, 3, 224, 224)
        save(os.path.join(out, name), model, (x,), ["image"], ["logits"],
             dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})
    if "bert" in wanted:
        from transformers import BertConfig, BertModel

        model = BertModel(BertConfig(), add_pooling_layer=True).eval()
        ids = torch.randint(0, 30522, (2, 128), dtype=torch.int64)
        mask = torch.ones(2, 128, dtype=torch.int64)
        save(os.path.join(out, "bert"), model, (ids, mask), ["input_ids", "attention_mask"],
             ["last_hidden_state", "pooler_output"],
             dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
                           "last_hidden_state": {0: "batch", 1: "sequence"}, "pooler_output": {0: "batch"}})
    if "gpt2" in wanted:
        from transformers import GPT2Config, GPT2Model

        model = GPT2Model(GPT2Config(use_cache=False)).eval()
        ids = torch.randint(0, 50257, (2, 128), dtype=torch.int64)
        save(os.path.join(out, "gpt2"), model, (ids,), ["input_ids"], ["last_hidden_state"],
             dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "last_hidden_state": {0: "batch", 1: "sequence"}})


if __name__ == "__main__":
    main()
