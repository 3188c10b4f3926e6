"""Layout of generated statements: one line when it fits, else a hanging-indent call."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

LINE_LENGTH = 100
_EMPTY = cst.Module(body=[])


def assignment(target: str, call: str, depth: int, unit: str = "    ",
               limit: int = LINE_LENGTH) -> str:
    """`target = call` as source for a block `depth` levels deep, wrapped past `limit`.

    Continuation lines are indented relative to the statement: libcst adds the block's indent.
    """
    line = f"{target} = {call}"
    if len(unit) * depth + len(line) <= limit or "\n" in call:  # short, or laid out already
        return line + "\n"
    parsed = cst.parse_expression(call)
    if not m.matches(parsed, m.Call()) or not parsed.args:
        return line + "\n"
    head = f"{target} = {_EMPTY.code_for_node(parsed.func)}("
    pieces = [_EMPTY.code_for_node(a.with_changes(comma=cst.MaybeSentinel.DEFAULT))
              for a in parsed.args]
    inner = unit  # libcst indents continuation lines relative to the statement
    width = limit - len(unit) * depth
    lines, current = [], ""
    for piece in pieces:
        candidate = f"{current} {piece}," if current else f"{piece},"
        if current and len(inner) + len(candidate) > width:
            lines.append(current)
            current = f"{piece},"
        else:
            current = candidate
    lines.append(current)
    body = "".join(f"{inner}{text}\n" for text in lines)
    return f"{head}\n{body})\n"
