"""HK032 pickle-checkpoint: pickling the params tree becomes an Orbax checkpoint of the model.

What it converts: `pickle.dump(params, f)` and `params = pickle.load(f)`, inside
`with open(path, ...) as f:` (the `with` holding only that line) or with `open(path, ...)` as
the file argument, where `params` (or a tuple `(params, state)`) is what `VAR.init` returned.
Haiku: the weights live in a dict of arrays that the program pickles itself.
NNX: the weights live in the model, so the checkpoint is the model's state, written by Orbax:
`checkpointer.save(os.path.abspath(path), nnx.state(model, nnx.Not(nnx.RngState)), force=True)`
inside `with ocp.StandardCheckpointer() as checkpointer:` (which waits for the save), and the
load restores into the model, `nnx.update(model, checkpointer.restore(path, that state))`, the
current state giving Orbax the tree to fill. RNG streams stay out (they are not weights, and
Haiku's pickle held none). Beside a converted training step (HK030), whose pure dicts hold
the training weights, the model takes them before a save and they are read back from it after
a load. A `# NOTE` line and the report say that checkpoints the Haiku program pickled are read
with `hk2nnx port`, not with this code.
Fix safety: review. `path` is now a directory (Orbax writes one), overwritten like the pickle
was. Only trees `init` bound at module level are recognised (by name).
Guide section: "Training step and compilation".
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from hk2nnx.convert import walk
from hk2nnx.convert.findings import Safety
from hk2nnx.convert.rules import base
from hk2nnx.convert.transforms import transformed

INFO = base.info("HK032", "pickle-checkpoint", Safety.REVIEW, "Training step and compilation",
                 __name__)
# The converted code names neither the converter nor pickle (whose import then goes).
NOTE = ("# NOTE: an Orbax checkpoint (a directory) of the model's state; for checkpoints the "
        "Haiku code wrote, see the conversion report (HK032)")
_OPEN = m.Call(func=m.Name("open"))


class CheckpointRule(base.FileRule):
    info = INFO
    order = 15  # before HK021 (apply) and HK022 (params-read), which would flag the trees

    def apply(self, analysis) -> None:
        ctx = analysis.ctx
        models = {name: t for t in transformed(analysis) if t.ok for name in t.tree_names}
        for call in walk.findall(ctx.tree, m.Call(func=m.Attribute(value=m.Name(), attr=(
                m.Name("dump") | m.Name("load"))))):
            if ctx.qualname(call.func) not in ("pickle.dump", "pickle.load"):
                continue
            found = _site(call, models, ctx)
            if found is None:
                continue
            statement, path, t, trees = found
            analysis.consumed_tree_args.extend(trees)
            code = _code(call.func.attr.value == "dump", t.var, path,
                         analysis.splits.get(t.var))
            ctx.edit(statement, lambda u, c=code, t=t, n=call: _rewritten(c, u, t, n, ctx))


def _code(dump: bool, model: str, path: str, split: tuple[str, str] | None) -> str:
    """The `with` block; with the pure dicts of a training step (HK030), the model takes them
    before a save, and they are read back from it after a load."""
    state = f"nnx.state({model}, nnx.Not(nnx.RngState))"
    path = f"os.path.abspath({path})"
    lines = [NOTE]
    if dump:
        if split is not None:
            lines.append(f"nnx.update({model}, {split[0]}, {split[1]})")
        lines.append(f"checkpointer.save({path}, {state}, force=True)")
    else:
        lines.append(f"nnx.update({model}, checkpointer.restore({path}, {state}))")
        if split is not None:
            lines += [f"{split[0]} = nnx.to_pure_dict(nnx.state({model}, nnx.Param))",
                      f"{split[1]} = nnx.to_pure_dict(nnx.state({model}, nnx.Not(nnx.Param)))"]
    body = "".join(f"    {line}\n" for line in lines)
    return f"with ocp.StandardCheckpointer() as checkpointer:\n{body}"


def _rewritten(code: str, updated: cst.CSTNode, t, call: cst.Call, ctx) -> cst.CSTNode:
    """Runs when the file is rewritten: by then HK020 has converted the model, or refused it
    (the model is still a Haiku transform, and the pickle stays)."""
    if not t.ok:
        return updated
    ctx.report(INFO.code, call, f"{ctx.code(call.func)}: an Orbax checkpoint of {t.var}'s "
               "state; old Haiku checkpoints load with `hk2nnx port`", safety=INFO.safety)
    return cst.parse_statement(code).with_changes(leading_lines=updated.leading_lines)


def _site(call: cst.Call, models: dict, ctx):
    """(statement to replace, path code, model, tree names) for a pickled params tree."""
    dump = call.func.attr.value == "dump"
    if len(call.args) != (2 if dump else 1):
        return None
    statement = ctx.statement_of(call)
    if dump:
        if not m.matches(ctx.parent(call), m.Expr()):
            return None
        tree, file = call.args[0].value, call.args[1].value
    else:
        assign = ctx.parent(call)
        if not m.matches(assign, m.Assign(targets=[m.AssignTarget()])):
            return None
        tree, file = assign.targets[0].target, call.args[0].value
    names = [e.value for e in tree.elements] if m.matches(tree, m.Tuple()) else [tree]
    if not all(m.matches(n, m.Name()) and n.value in models for n in names):
        return None
    if len({id(models[n.value]) for n in names}) != 1:
        return None
    opened = _opened(file, statement, ctx)
    if opened is None:
        return None
    outer, path = opened
    return outer, ctx.code(path), models[names[0].value], names


def _opened(file: cst.BaseExpression, statement: cst.CSTNode, ctx):
    """(statement, path) where `file` is `open(path, ...)` or the `f` of `with open(path) as f:`
    whose body is `statement` alone; None otherwise."""
    if m.matches(file, _OPEN) and file.args:
        return statement, file.args[0].value
    if not m.matches(file, m.Name()):
        return None
    block = ctx.parent(statement)
    with_ = ctx.parent(block)
    if not m.matches(with_, m.With(items=[m.WithItem(item=_OPEN, asname=m.AsName(
            name=m.Name(file.value)))])) or len(block.body) != 1:
        return None
    opened = with_.items[0].item
    return (with_, opened.args[0].value) if opened.args else None


base.register_file(CheckpointRule())
