"""seal: Self-Adapting Language Models (SEAL), reimplemented to run on one CPU or a GPU cluster.

Paper: Zweiger, Pari, Guo, Akyürek, Kim, Agrawal, "Self-Adapting Language Models", NeurIPS 2025 (arXiv 2506.10943).
"""

__version__ = "0.1.0"
