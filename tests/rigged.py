"""Models with weights set by hand, for tests whose right value must not depend on random weights."""

import torch


def always_emits(model, token_id: int) -> None:
    """Rig a Llama-architecture `model` so that decoding emits `token_id` after any prompt: attention and MLP add
    nothing to the residual stream, every embedding is the same all-ones vector, and only `token_id`'s output row is
    non-zero (its logit is the sum of the final norm's weights, every other logit 0)."""
    with torch.no_grad():
        model.get_input_embeddings().weight.fill_(1.0)
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        model.lm_head.weight.zero_()
        model.lm_head.weight[token_id] = 1.0
