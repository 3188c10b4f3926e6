"""The rule registry: each rule file declares its code, docs and safety, and registers itself."""

from __future__ import annotations

import dataclasses
import sys
from typing import TYPE_CHECKING

from hk2nnx.convert.findings import Safety

if TYPE_CHECKING:
    from hk2nnx.convert.context import FileContext


@dataclasses.dataclass(frozen=True)
class RuleInfo:
    """A rule's identity: a stable code, a name, its fix safety and the guide section it follows."""

    code: str
    name: str
    safety: Safety
    section: str
    module: str  # the rule file, whose docstring is the rule's documentation

    @property
    def doc(self) -> str:
        return sys.modules[self.module].__doc__ or ""


class SiteRule:
    """Converts one kind of construct found inside a Haiku module's methods (a site).

    Module rules (`kind = "module"`) convert `Ctor(...)` constructions and their applications;
    function rules (`kind = "function"`) convert calls such as `hk.dropout(...)` in place.
    """

    info: RuleInfo
    kind = "module"
    needs_rngs = True

    shared_name = False  # function rules: the attribute name is fixed (parameter/state names)
    creates = True  # builds something Haiku names: may not sit in loops or branches
    owns_arguments = False  # containers: the calls in its arguments are its own, not sites

    def schedule_extra(self, site, plan) -> None:
        """Module rules: edits beyond the construction and its applications (a loop's header)."""

    def inner_names(self, site, plan) -> list[str]:
        """Containers: Haiku names (before numbering) of the modules built for it, in order."""
        return []

    def claims(self, qualname: str, ctx: FileContext) -> bool:
        raise NotImplementedError

    def wants_rngs(self, site, plan) -> bool:
        return self.needs_rngs

    def flag_uses(self, site, plan, call) -> list:
        """(expression, polarity) pairs this site reads as a train/eval switch."""
        return []

    def rewrite_args(self, site, plan, call):
        """The application call with Haiku-only arguments removed (modules)."""
        return call


class FileRule:
    """Converts a construct at the level of the whole file (transforms, init, apply, params).

    Rules run by `order`: a rule that claims nodes for another (a training step claims the
    `apply` calls in its loss) runs first.
    """

    info: RuleInfo
    order = 50

    def apply(self, analysis) -> None:
        raise NotImplementedError


SITE_RULES: list[SiteRule] = []
FILE_RULES: list[FileRule] = []
INFOS: dict[str, RuleInfo] = {}


def info(code: str, name: str, safety: Safety, section: str, module: str) -> RuleInfo:
    if code in INFOS and INFOS[code].module != module:
        raise ValueError(f"rule code {code} is used by {INFOS[code].module} and {module}")
    INFOS[code] = RuleInfo(code, name, safety, section, module)
    return INFOS[code]


def register_site(rule: SiteRule, *, specialises: bool = False) -> SiteRule:
    """Adds a site rule; a rule that specialises a table-driven one is asked first."""
    if specialises:
        SITE_RULES.insert(0, rule)
    else:
        SITE_RULES.append(rule)
    return rule


def register_file(rule: FileRule) -> FileRule:
    FILE_RULES.append(rule)
    return rule


def site_rule_for(qualname: str | None, ctx: FileContext) -> SiteRule | None:
    if not qualname:
        return None
    return next((r for r in SITE_RULES if r.claims(qualname, ctx)), None)
