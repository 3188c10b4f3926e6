"""The Haiku module tree a transformed function builds, read statically from the plans."""

from __future__ import annotations

from hk2nnx.convert.classes import ClassPlan
from hk2nnx.convert.rules.layer_stack import MARKER as STACK_MARKER
from hk2nnx.convert.sites import CALL, INIT, Site
from hk2nnx.mappings.layers import for_classes
from hk2nnx.program.build import nnx_leaf_paths


def _join(prefix: str, site: Site) -> str:
    scope = {INIT: "/~/", CALL: "/"}.get(site.method, f"/~{site.method}/")
    if site.data.get("stack"):
        scope = f"/{site.data['stack'].get('marker', STACK_MARKER)}/"
    return f"{prefix}{scope}{site.haiku_name}" if prefix else scope.lstrip("/") + site.haiku_name


def module_sites(plan: ClassPlan, prefix: str) -> dict[str, Site]:
    """Haiku path -> the site that builds it, for every module below `prefix`."""
    out: dict[str, Site] = {}
    for site in (s for s in plan.sites if s.is_module):
        path = _join(prefix, site)
        out[path] = site
        child = site.data.get("class")
        if child:
            out.update(module_sites(plan.analysis.plan(child), path))
    return out


def module_tree(plan: ClassPlan, prefix: str) -> dict[str, str]:
    """Haiku path -> qualified class name, for every module below `prefix`."""
    return {path: site.data.get("class") or site.data.get("qualname", "")
            for path, site in module_sites(plan, prefix).items()}


def leaf_path(tree: dict[str, str], module: str, leaf: str) -> str | None:
    """The NNX attribute path of Haiku leaf `module/leaf`, by the shared naming scheme."""
    def layer_of(path: str):
        qualname = tree.get(path)
        return for_classes((qualname,)) if qualname else None

    if not any(module == p or module.startswith(p + "/") for p in tree) and module != "~":
        return None
    paths, _ = nnx_leaf_paths([(module, leaf)], tree.keys(), layer_of)
    found = paths.get((module, leaf))
    return found if found and "," not in found else None


def container_scopes(plan: ClassPlan, prefix: str) -> list[tuple[str, str | None]]:
    """Where containers hold modules: (Haiku parent path, base of their names), or (the
    container's own path, None) when it names them itself (hk.nets.MLP: `mlp/~/linear_0`)."""
    from hk2nnx.program.naming import container_slot

    out: list[tuple[str, str | None]] = []
    for site in (s for s in plan.sites if s.is_module):
        path = _join(prefix, site)
        if site.data.get("inner"):
            out.append((path.rpartition("/")[0], container_slot(site.data["inner"][0])[0]))
        elif site.rule.info.code == "HK014":  # rules/mlp.py: its Linears live below it
            out.append((path, None))
        child = site.data.get("class")
        if child:
            out.extend(container_scopes(plan.analysis.plan(child), path))
    return out


def held_by_container(scopes: list[tuple[str, str | None]], module: str) -> bool:
    """Whether Haiku module `module` (or one enclosing it) sits in an NNX container."""
    from hk2nnx.program.naming import container_slot

    for where, base in scopes:
        if base is None and module.startswith(where + "/"):
            return True
        tokens = module.split("/")
        for end in range(1, len(tokens) + 1):
            head, _, last = "/".join(tokens[:end]).rpartition("/")
            if base is not None and head == where and container_slot(last)[0] == base:
                return True
    return False
