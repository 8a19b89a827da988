"""How every YAML file costline reads reports a syntax error: `FILE:LINE:COLUMN: invalid YAML: ...`, one line.

PyYAML's own message spans several lines and names the stream it was given, which is `"<unicode string>"`
for text read beforehand: the user would not learn which file is wrong.
"""

from __future__ import annotations

from pathlib import Path

import yaml


def yaml_syntax_problem(source: Path | str, exc: yaml.YAMLError) -> str:
    """`exc` as one line that names `source` and the line and column PyYAML stopped at."""
    mark = getattr(exc, "problem_mark", None)
    where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(source)
    problem = getattr(exc, "problem", None)
    if problem is None:
        return f"{where}: invalid YAML: {' '.join(str(exc).split())}"
    context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and context_mark is not None:
        problem += f" ({context} that starts on line {context_mark.line + 1})"
    elif context:
        problem += f" ({context})"
    return f"{where}: invalid YAML: {problem}"
