"""Finding domains: the built-in ones, those installed packages register, and any given by path or module.

    load("knowledge")                 # built in
    load("facts")                     # a package's entry point in the group `seal.domains` (name = "module:attr")
    load("examples/facts")            # a folder with an __init__.py defining a DomainPlugin subclass
    load("mypkg.facts")               # an importable module, or "mypkg.facts:FactsDomain"

Built-in domains are imported only when used (lm-eval-harness registers tasks the same lazy way), so `seal --help`
loads no model code. A run records `reference(plugin)`, which `load` accepts, so `seal report` and `--resume` find a
domain given by path again.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from importlib.metadata import entry_points
from pathlib import Path

from seal.domains.plugin import DomainPlugin
from seal.errors import SealError

BUILTIN = {"knowledge": "seal.domains.knowledge.plugin:KnowledgePlugin",
           "arc": "seal.domains.arc.plugin:ArcPlugin"}
GROUP = "seal.domains"  # entry-point group of domains other packages install


def installed() -> dict[str, str]:
    """Domain name -> "module:attr" of every built-in and installed domain (built-in names win)."""
    found = {ep.name: ep.value for ep in entry_points(group=GROUP)}
    return found | BUILTIN


def names() -> list[str]:
    """The names `seal eval NAME` accepts without a path: built-in first, then installed ones."""
    return list(BUILTIN) + sorted(set(installed()) - set(BUILTIN))


def _from_module(module, attr: str | None, given: str) -> DomainPlugin:
    if attr:
        obj = getattr(module, attr, None)
    else:  # the one DomainPlugin subclass (or instance) the module defines
        defined = [v for v in vars(module).values()
                   if (inspect.isclass(v) and issubclass(v, DomainPlugin) and v is not DomainPlugin
                       and v.__module__ == module.__name__) or isinstance(v, DomainPlugin)]
        obj = defined[0] if len(defined) == 1 else None
        if len(defined) > 1:
            raise SealError(f"domain {given!r}: {module.__name__} defines {len(defined)} domain plugins; name one as "
                            f"{module.__name__}:NAME")
    if inspect.isclass(obj) and issubclass(obj, DomainPlugin):
        obj = obj()
    if not isinstance(obj, DomainPlugin):
        raise SealError(f"domain {given!r}: no DomainPlugin subclass found in {module.__name__}"
                        + (f" under {attr!r}" if attr else ""))
    obj.reference = given
    return obj


def _import_folder(path: Path):
    """Import the package at `path` (a folder with __init__.py, or a .py file) under a name of its own."""
    init = path / "__init__.py" if path.is_dir() else path
    name = f"seal_domain_{abs(hash(str(path.resolve())))}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(path)]
                                                  if path.is_dir() else None)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def load(given: str) -> DomainPlugin:
    """The domain plugin `given` names: a built-in or installed name, a folder or .py file, or a module
    ("pkg.mod" or "pkg.mod:Attr").

    Raises:
        SealError: nothing by that name (the known names listed), or no plugin in the module or folder.
    """
    known = installed()
    if given in known:
        module, _, attr = known[given].partition(":")
        return _from_module(importlib.import_module(module), attr, given)
    path = Path(given).expanduser()
    if path.is_dir() and (path / "__init__.py").is_file() or path.suffix == ".py" and path.is_file():
        plugin = _from_module(_import_folder(path), None, given)
        plugin.reference = str(path.resolve())
        return plugin
    module_name, _, attr = given.partition(":")
    if module_name and all(part.isidentifier() for part in module_name.split(".")):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name is None or not module_name.startswith(e.name):
                raise  # the module exists but imports something missing: its own error
        else:
            return _from_module(module, attr or None, given)
    raise SealError(f"unknown domain {given!r} (known: {', '.join(names())}; or a folder, a .py file or a module "
                    "defining a DomainPlugin)")


def of_run(manifest: dict) -> DomainPlugin:
    """The plugin of a recorded run: its `domain` reference, else (runs recorded before plugins) the first word of
    its command when that is a built-in domain.

    Raises:
        SealError: the run names no domain, or the domain cannot be found any more.
    """
    given = manifest.get("domain") or manifest.get("command", "").split(" ")[0]
    if not given or given == "learn" or given == "bench":
        raise SealError(f"the run's command {manifest.get('command')!r} belongs to no domain")
    return load(given)
