#!/usr/bin/env python3
"""Exports small transformers (BERT and GPT-2 with few, narrow layers; random weights) with
both of torch.onnx's exporters, so that the graph optimizer's patterns are tested on the forms
real exporters write without shipping a full-size model:
    python3 bench/export_tiny.py OUT_DIR
writes OUT_DIR/{bert,gpt2}_tiny_{legacy,dynamo}.onnx (opset 17 and 18) and a text listing of
each graph's nodes (OUT_DIR/*.txt)."""
import os
import sys

import torch


def listing(path):
    import onnx

    m = onnx.load(path)
    lines = [f"opset {[(o.domain, o.version) for o in m.opset_import]}"]
    for i in m.graph.input:
        lines.append(f"input {i.name} {i.type.tensor_type}".replace("\n", " "))
    for n in m.graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute if a.name != "value"}
        lines.append(f"{n.op_type} {list(n.input)} -> {list(n.output)} {attrs}")
    with open(path[:-5] + ".txt", "w") as f:
        f.write("\n".join(lines) + "\n")


def export(model, args, names, outputs, path, dynamo, dynamic_axes):
    kwargs = dict(input_names=names, output_names=outputs)
    if dynamo:
        batch, seq = torch.export.Dim("batch"), torch.export.Dim("sequence")
        shapes = {n: {0: batch, 1: seq} for n in names}
        torch.onnx.export(model, args, path, dynamo=True, opset_version=18, dynamic_shapes=shapes, **kwargs)
    else:
        torch.onnx.export(model, args, path, dynamo=False, opset_version=17, dynamic_axes=dynamic_axes, **kwargs)
    listing(path)
    print(f"exported {path} ({os.path.getsize(path) / 1e3:.0f} kB)", flush=True)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    from transformers import BertConfig, BertModel, GPT2Config, GPT2Model

    bert = BertModel(BertConfig(vocab_size=512, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                                intermediate_size=128, max_position_embeddings=128), add_pooling_layer=True).eval()
    gpt2 = GPT2Model(GPT2Config(vocab_size=512, n_embd=64, n_layer=2, n_head=2, n_positions=128, use_cache=False)).eval()
    ids = torch.randint(0, 512, (2, 16), dtype=torch.int64)
    mask = torch.ones(2, 16, dtype=torch.int64)
    axes = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"}}
    for dynamo in (False, True):
        tag = "dynamo" if dynamo else "legacy"
        try:
            export(bert, (ids, mask), ["input_ids", "attention_mask"], ["last_hidden_state", "pooler_output"],
                   os.path.join(out, f"bert_tiny_{tag}.onnx"), dynamo, axes)
        except Exception as e:  # report and go on with the other forms
            print(f"bert {tag}: {type(e).__name__}: {str(e)[:500]}", flush=True)
        try:
            export(gpt2, (ids,), ["input_ids"], ["last_hidden_state"], os.path.join(out, f"gpt2_tiny_{tag}.onnx"),
                   dynamo, {"input_ids": axes["input_ids"]})
        except Exception as e:
            print(f"gpt2 {tag}: {type(e).__name__}: {str(e)[:500]}", flush=True)


if __name__ == "__main__":
    main()
