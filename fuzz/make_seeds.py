#!/usr/bin/env python3
"""Writes the seed files of the reader fuzz targets other than the ONNX importer's.

  python3 fuzz/make_seeds.py                    # fuzz/corpus_npy, fuzz/corpus_safetensors
  python3 fuzz/make_seeds.py --kiln build/kiln  # also fuzz/corpus_plan, fuzz/corpus_cache

.npy and .safetensors seeds are written with the struct module only (no numpy): small valid
files covering every data type the readers know, both .npy header versions, scalars and empty
tensors; rerunning writes the same bytes. Plans and timing caches are made by `kiln build
--device cpu` (any build of kiln: the CPU backend is always there) from examples/tiny_cnn.onnx
and some of the ONNX seeds in fuzz/corpus; their bytes depend on the machine's timings, so a
rerun changes them. golden_v1.plan is copied from tests/data/plans (a synthetic plan that uses
every part of the format). finding_* files are inputs that once broke a reader; this script
leaves them alone.
"""
import argparse
import json
import os
import shutil
import struct
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def write(folder, name, data):
    os.makedirs(os.path.join(HERE, folder), exist_ok=True)
    with open(os.path.join(HERE, folder, name), "wb") as f:
        f.write(data)


# ---- .npy --------------------------------------------------------------------------------
def npy(descr, shape, data, version=1, fortran=False):
    dims = "".join(f"{d}," if len(shape) == 1 else f"{d}, " for d in shape).rstrip(" ")
    if len(shape) > 1:
        dims = dims.rstrip(",")
    header = f"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': ({dims}), }}"
    prefix = 10 if version == 1 else 12
    header += " " * ((64 - (prefix + len(header) + 1) % 64) % 64) + "\n"
    if version == 1:
        pre = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header))
    else:
        pre = b"\x93NUMPY\x02\x00" + struct.pack("<I", len(header))
    return pre + header.encode("latin-1") + data


def make_npy():
    write("corpus_npy", "f4_2x3.npy", npy("<f4", (2, 3), struct.pack("<6f", 0.5, -1, 2, 3.25, 0, 1e-3)))
    write("corpus_npy", "f2_scalar.npy", npy("<f2", (), struct.pack("<e", 1.5)))
    write("corpus_npy", "f8_native_3.npy", npy("=f8", (3,), struct.pack("<3d", 1, 2, 3)))
    write("corpus_npy", "i8_1x2x2.npy", npy("|i1", (1, 2, 2), struct.pack("<4b", -1, 0, 1, 127)))
    write("corpus_npy", "u1_empty.npy", npy("|u1", (0,), b""))
    write("corpus_npy", "i2_2.npy", npy("<i2", (2,), struct.pack("<2h", -300, 300)))
    write("corpus_npy", "u2_2.npy", npy("<u2", (2,), struct.pack("<2H", 1, 65535)))
    write("corpus_npy", "i4_2x2.npy", npy("<i4", (2, 2), struct.pack("<4i", 1, -2, 3, -4)))
    write("corpus_npy", "u4_1.npy", npy("<u4", (1,), struct.pack("<I", 7)))
    write("corpus_npy", "i8_v2_4.npy", npy("<i8", (4,), struct.pack("<4q", 1, 2, 3, 1 << 40), version=2))
    write("corpus_npy", "u8_2.npy", npy("<u8", (2,), struct.pack("<2Q", 0, 1 << 63)))
    write("corpus_npy", "b1_2x2.npy", npy("|b1", (2, 2), bytes([1, 0, 0, 1])))
    write("corpus_npy", "bf16_raw_2.npy", npy("<V2", (2,), struct.pack("<2H", 0x3F80, 0xC000)))
    write("corpus_npy", "fortran_2x2.npy", npy("<f4", (2, 2), struct.pack("<4f", 1, 2, 3, 4), fortran=True))


# ---- .safetensors ------------------------------------------------------------------------
def safetensors(tensors, metadata=None):
    """tensors: list of (name, dtype, shape, bytes), stored in that order."""
    header, data = {}, b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


def make_safetensors():
    write("corpus_safetensors", "f32_weights.safetensors", safetensors(
        [("conv.weight", "F32", (2, 1, 1, 2), struct.pack("<4f", 1, -1, 0.5, 2)),
         ("conv.bias", "F32", (2,), struct.pack("<2f", 0.1, -0.1))],
        metadata={"format": "pt"}))
    write("corpus_safetensors", "half_types.safetensors", safetensors(
        [("h", "F16", (2,), struct.pack("<2e", 1, -2)), ("b", "BF16", (1, 2), struct.pack("<2H", 0x3F80, 0x4000))]))
    write("corpus_safetensors", "double_scalar.safetensors", safetensors([("s", "F64", (), struct.pack("<d", 3.5))]))
    write("corpus_safetensors", "ints.safetensors", safetensors(
        [("i8", "I8", (2,), struct.pack("<2b", -1, 1)), ("u8", "U8", (2,), bytes([0, 255])),
         ("i16", "I16", (1,), struct.pack("<h", -7)), ("u16", "U16", (1,), struct.pack("<H", 7)),
         ("i32", "I32", (2,), struct.pack("<2i", -1, 1)), ("u32", "U32", (1,), struct.pack("<I", 9)),
         ("i64", "I64", (2,), struct.pack("<2q", -1, 1 << 40)), ("u64", "U64", (1,), struct.pack("<Q", 1 << 63))]))
    write("corpus_safetensors", "bool_and_empty.safetensors", safetensors(
        [("mask", "BOOL", (2, 2), bytes([1, 0, 0, 1])), ("empty", "F32", (0, 3), b"")]))
    write("corpus_safetensors", "metadata_only.safetensors", safetensors([], metadata={"note": "no tensors"}))


# ---- plans and timing caches (made by kiln) -------------------------------------------------
# Small node models from fuzz/corpus: one plan each, all timings in one cache.
NODE_MODELS = ["add_bcast", "batchnorm_example", "cast_FLOAT_to_DOUBLE", "concat_2d_axis_0", "constant",
               "conv_with_strides_padding", "gather_0", "gemm_all_attributes", "matmul_4d", "maxpool_2d_pads",
               "reduce_mean_keepdims_example", "softmax_axis_1", "transpose_all_permutations_1", "where_example"]


def kiln_build(kiln, model, plan, *flags):
    cmd = [kiln, "build", model, "--device", "cpu", "-o", plan, *flags]
    result = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        print(f"skipped {os.path.basename(plan)}: {result.stderr.strip()}")
        return False
    return True


def make_plans(kiln):
    plans, caches = os.path.join(HERE, "corpus_plan"), os.path.join(HERE, "corpus_cache")
    os.makedirs(plans, exist_ok=True)
    os.makedirs(caches, exist_ok=True)
    shutil.copyfile(os.path.join(ROOT, "tests", "data", "plans", "golden_v1.plan"), os.path.join(plans, "golden_v1.plan"))
    tiny = os.path.join(ROOT, "examples", "tiny_cnn.onnx")
    with tempfile.TemporaryDirectory() as tmp:
        cache = os.path.join(tmp, "tiny_cnn.cache")
        kiln_build(kiln, tiny, os.path.join(plans, "tiny_cnn.plan"), "--timing-cache", cache)
        shutil.copyfile(cache, os.path.join(caches, "tiny_cnn.cache"))
        kiln_build(kiln, tiny, os.path.join(plans, "tiny_cnn_stripped.plan"), "--refittable", "--strip-weights")
        cache = os.path.join(tmp, "node_models.cache")
        for name in NODE_MODELS:
            kiln_build(kiln, os.path.join(HERE, "corpus", name + ".onnx"), os.path.join(plans, name + ".plan"),
                       "--timing-cache", cache)
        kiln_build(kiln, os.path.join(HERE, "corpus", "conv_with_strides_padding.onnx"),
                   os.path.join(plans, "conv_fp16_refittable.plan"), "--fp16", "--refittable")
        # A dynamic batch and two optimization profiles (symbols, host shape layers).
        kiln_build(kiln, os.path.join(HERE, "corpus", "seed_fold_reshape.onnx"),
                   os.path.join(plans, "fold_reshape_two_profiles.plan"), "--timing-cache", cache,
                   "--profile", "x:1x2x3,2x2x3,4x2x3", "--profile", "x:5x2x3,8x2x3,16x2x3")
        shutil.copyfile(cache, os.path.join(caches, "node_models.cache"))
        cache = os.path.join(tmp, "gemm.cache")
        kiln_build(kiln, os.path.join(HERE, "corpus", "gemm_all_attributes.onnx"), os.path.join(tmp, "gemm.plan"),
                   "--timing-cache", cache)
        shutil.copyfile(cache, os.path.join(caches, "gemm.cache"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kiln", help="the kiln tool: also write the plan and timing cache seeds")
    args = parser.parse_args()
    make_npy()
    make_safetensors()
    if args.kiln:
        make_plans(args.kiln)
