"""Golden inner-loop losses on the tiny model: the fast path's per-step losses on fixed documents, seed and settings,
recorded before the package was reorganised (commit 74bb61f) and checked to 1e-5. A change that moves them changes
what every reward measures and must say so (and update these numbers with the reason)."""

import pytest

from seal.config import InnerConfig, LoraConfig
from seal.inner.train import FastAdapter

DOCS = ["Kelvarra\nKelvarra is an island nation of nine islands.",
        "Kelvarra\nIts capital, Duskmere, stands on Tallowen.", "Kelvarra\nThe skell is divided into forty pennets."]
GOLDEN = {1: [8.307962, 9.327326, 9.543923, 8.140723, 9.483494, 9.188763],  # batch 1: 3 documents x 2 epochs
          2: [9.341487, 8.897223, 9.170986, 8.83768]}  # batch 2: 2 batches x 2 epochs


@pytest.mark.parametrize("batch_size", sorted(GOLDEN))
def test_fast_path_losses_are_the_recorded_ones(batch_size):
    from seal.models import load

    model, tokenizer = load("tiny-llama", dtype="fp32", device="cpu")
    cfg = InnerConfig(lora=LoraConfig(r=4, alpha=8), epochs=2, batch_size=batch_size, learning_rate=1e-3)
    with FastAdapter(model, tokenizer, cfg).trained(DOCS, 0) as stats:
        assert stats.losses == pytest.approx(GOLDEN[batch_size], abs=1e-5)
