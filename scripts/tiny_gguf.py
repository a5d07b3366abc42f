#!/usr/bin/env python3
"""Writes a tiny llama-architecture GGUF model (about half a megabyte) that a
real llama.cpp server loads in milliseconds and that answers every prompt
with the same readable words, so the integration tests can check a real
server's stream against exact text without downloading any model.

    python3 scripts/tiny_gguf.py OUT.gguf

Needs the `gguf` and `numpy` packages (scripts/llama-server.py installs
pinned versions of both in its cached virtualenv and runs this script
there). The same script and packages give a byte-identical file: the
weights come from a fixed seed and nothing else varies (no time, no path).

The model: 2 layers, embedding 64, 4 heads (head size 16), feed-forward
128, context 1024, F32 weights, and a SentencePiece ("llama") vocabulary
of <unk> <s> </s>, the 256 byte tokens <0x00>..<0xFF> (type BYTE, the
tokenizer's fallback for any other character), the printable ASCII
characters, the word-boundary mark "▁" (U+2581, a space once decoded), and
some whole words with every prefix of them (SentencePiece builds a word by
merging pieces pairwise, so "▁qu" must exist for "▁qui" to be reached).
It carries a small chat template (`role: content` lines, then
`assistant:`) for /v1/chat/completions.

How the weights make the words. Greedy decoding picks the token whose
output row has the largest dot product with the final hidden state. The
words of a fixed cycle, WORD_CYCLE (" the quick brown fox jumps over lazy
dogs."), each own one coordinate of the 64-wide embedding: the embedding
of cycle word i is the unit vector e_i, and every other token (characters,
bytes, <s>, the chat template's text) embeds as e_OTHER. The output row of
cycle word i+1 is OUTPUT_GAIN * e_i, and the first word's row also holds
e_OTHER; every other output row, </s> included, is small noise. The
attention and feed-forward weights are random too, but WEIGHT_SCALE keeps
what they add to the residual stream around 1% of the embedding, so the
hidden state after the last token stays pointed at that token's own
coordinate. Hence the next token is the cycle's successor of the last one:
any prompt (which ends with the template's "assistant:") is answered with
" the quick brown fox jumps over lazy dogs. the quick ...", one word a
token, until max_tokens or the context ends. The margin between the chosen
logit (about 30) and any other (about 1) is so wide that ordinary sampling
(temperature up to 1) picks the same words, and </s> never comes.
"""
import os
import sys

import gguf
import numpy as np

SEED = 20260101
N_EMBD = 64
N_HEAD = 4
N_FF = 128
N_LAYER = 2
N_CTX = 1024
RMS_EPS = 1e-5
# The generated words, in order; each must appear once (a token's only
# successor is the next word). "▁" is a space once decoded.
WORD_CYCLE = ["▁the", "▁quick", "▁brown", "▁fox", "▁jumps", "▁over", "▁lazy", "▁dogs", "."]
# Whole words the tokenizer also knows (prompts with them take fewer tokens).
EXTRA_WORDS = ["▁Hello", "▁hello", "▁world", "▁user", "▁assistant", "▁system"]
# The embedding coordinate of every token outside the cycle.
OTHER = len(WORD_CYCLE)
OUTPUT_GAIN = 4.0
WEIGHT_SCALE = 0.02
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ message['role'] }}: {{ message['content'] }}\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)


def vocabulary():
    """The tokens, their SentencePiece scores and their types, in id order."""
    tokens = [("<unk>", gguf.TokenType.UNKNOWN), ("<s>", gguf.TokenType.CONTROL), ("</s>", gguf.TokenType.CONTROL)]
    tokens += [(f"<0x{byte:02X}>", gguf.TokenType.BYTE) for byte in range(256)]
    pieces = ["▁"] + [chr(c) for c in range(0x21, 0x7F)]
    for word in WORD_CYCLE + EXTRA_WORDS:
        pieces += [word[:end] for end in range(2, len(word) + 1)]
    seen = set()
    for piece in pieces:
        if piece not in seen:
            seen.add(piece)
            tokens.append((piece, gguf.TokenType.NORMAL))
    texts = [text for text, _ in tokens]
    # Longer pieces score higher, so the tokenizer merges whole words first.
    scores = [float(len(text)) if kind == gguf.TokenType.NORMAL else 0.0 for text, kind in tokens]
    types = [int(kind) for _, kind in tokens]
    return texts, scores, types


def weights(texts):
    """Every tensor, by GGUF name, as float32 arrays in numpy's (rows, cols)
    order (ggml's dimensions reversed)."""
    rng = np.random.default_rng(SEED)

    def noise(*shape):
        return (rng.standard_normal(shape) * WEIGHT_SCALE).astype(np.float32)

    n_vocab = len(texts)
    index = {text: i for i, text in enumerate(texts)}
    embedding = noise(n_vocab, N_EMBD)
    embedding[:, OTHER] += 1.0
    output = noise(n_vocab, N_EMBD)
    for position, word in enumerate(WORD_CYCLE):
        token = index[word]
        embedding[token, OTHER] -= 1.0
        embedding[token, position] += 1.0
        successor = index[WORD_CYCLE[(position + 1) % len(WORD_CYCLE)]]
        output[successor, position] += OUTPUT_GAIN
    output[index[WORD_CYCLE[0]], OTHER] += OUTPUT_GAIN

    tensors = {"token_embd.weight": embedding}
    ones = np.ones(N_EMBD, dtype=np.float32)
    for layer in range(N_LAYER):
        block = f"blk.{layer}"
        tensors[f"{block}.attn_norm.weight"] = ones
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            tensors[f"{block}.{name}.weight"] = noise(N_EMBD, N_EMBD)
        tensors[f"{block}.ffn_norm.weight"] = ones
        tensors[f"{block}.ffn_gate.weight"] = noise(N_FF, N_EMBD)
        tensors[f"{block}.ffn_up.weight"] = noise(N_FF, N_EMBD)
        tensors[f"{block}.ffn_down.weight"] = noise(N_EMBD, N_FF)
    tensors["output_norm.weight"] = ones
    tensors["output.weight"] = output
    return tensors


def write(path):
    texts, scores, types = vocabulary()
    # Written beside the target and renamed: a reader never sees half a file.
    partial = f"{path}.partial-{os.getpid()}"
    writer = gguf.GGUFWriter(partial, "llama")
    writer.add_name("tiny-word-cycle")
    writer.add_context_length(N_CTX)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(N_LAYER)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD)
    writer.add_rope_dimension_count(N_EMBD // N_HEAD)
    writer.add_layer_norm_rms_eps(RMS_EPS)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_vocab_size(len(texts))
    writer.add_tokenizer_model("llama")
    writer.add_token_list(texts)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_chat_template(CHAT_TEMPLATE)
    for name, tensor in weights(texts).items():
        writer.add_tensor(name, tensor)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(partial, path)


def main():
    if len(sys.argv) != 2 or sys.argv[1].startswith("-"):
        sys.exit("usage: tiny_gguf.py OUT.gguf")
    write(sys.argv[1])


if __name__ == "__main__":
    main()
