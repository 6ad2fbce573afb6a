"""`seal learn` and `seal ask` (our extension, not in the paper): a person's own text files become one LoRA adapter.

`seal.learn.documents` reads files and folders and splits them into passages; `seal.learn.config` is the command's
config; `seal.learn.keys` builds its store keys. The recipe is `seal.recipes.learn`.
"""
