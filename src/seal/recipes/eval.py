"""`seal eval DOMAIN` (and `seal knowledge eval`, `seal arc eval`): a domain's table of conditions for any model, the
shape of paper Tables 1 and 2.

    seal eval knowledge --config configs/knowledge/demo.yaml
    seal eval arc --config configs/arc/cpu_smollm2.yaml --set data.n=2
    seal eval examples/facts --set data.n=3          # a domain given by its folder
    seal eval knowledge --resume runs/<dir>           # after an interruption: nothing finished is redone

The config (`plugin.check_config`) and then the domain's contexts (`plugin.contexts`, `plugin.check`) are checked
before a model loads,
the model is loaded once (`plugin.build`), contexts it cannot attempt are recorded with their reason
(`plugin.skipped`), and every condition of `eval.conditions` runs through the one condition runner
(`seal.evaluation`). The table is the plugin's (`plugin.summarize`, `plugin.table`), also written as `results.json`.
"""

from __future__ import annotations

from seal.domains.plugin import DomainPlugin
from seal.evaluation import evaluate_conditions
from seal.jsonfile import write_json
from seal.progress import console
from seal.store.runs import Run


def run_eval(run: Run, cfg, plugin: DomainPlugin) -> dict:
    """Fill the run's store with every condition's inner loops and return the results (also results.json)."""
    plugin.check_config(cfg)
    contexts = plugin.contexts(cfg)
    plugin.check(cfg, contexts)
    run.update_manifest(data_ids=[plugin.context_id(c) for c in contexts], **plugin.manifest(cfg, contexts))
    domain = plugin.build(cfg, cfg.model.name, run, contexts)
    skipped = plugin.skipped(domain, contexts, cfg.eval.conditions)
    for cid, reason in skipped.items():
        console.log(f"skipping {cid}: {reason}", markup=False, highlight=False)
    results = evaluate_conditions(run, plugin, cfg, plugin.evaluator(domain, cfg, training=False), contexts,
                                  tuple(cfg.eval.conditions), skipped=skipped)
    write_json(run.dir / "results.json", results)
    run.store.add_evaluation(key="eval", condition="all", payload=results)
    return results
