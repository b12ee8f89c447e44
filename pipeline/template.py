"""Text templates over a photo's fields: ``'{title} #{serial}'``.

Used for the branding bar and for the routes' product/view/index. A template
is checked once, when the config loads (``check_template``), so filling it at
run time cannot fail: a field the photo does not have is blank.
"""

from __future__ import annotations

import difflib
import string
from collections.abc import Iterable, Mapping


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def check_template(template: str) -> str:
    """``template`` if every ``{...}`` in it is a plain field name; ValueError saying what is wrong otherwise."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"template {template!r}: {exc} (write a literal brace as '{{{{' or '}}}}')") from None
    for _text, name, spec, _conversion in parts:
        if name is None:
            continue
        if not name.isidentifier():
            raise ValueError(f"template {template!r}: {{{name}}} is not a field name "
                             "(use names such as {title}, {sku}, {serial}, {category})")
        if spec and "{" in spec:
            raise ValueError(f"template {template!r}: nested fields in {{{name}:{spec}}} are not supported")
    return template


def template_fields(template: str) -> list[str]:
    """The field names a (checked) template uses, in order, each once."""
    try:
        names = [name for _text, name, _spec, _conv in string.Formatter().parse(template) if name]
    except ValueError:
        return []
    return list(dict.fromkeys(names))


def unknown_fields(template: str, known: Iterable[str]) -> list[str]:
    """One line per field of ``template`` outside ``known``, with the closest
    known name: ``"{titel} (did you mean {title}?)"``. Empty when all are known."""
    known = sorted(set(known))
    out = []
    for name in template_fields(template):
        if name in known:
            continue
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {{{close[0]}}}?)" if close else f" (known: {', '.join(known)})" if known else ""
        out.append(f"{{{name}}}{hint}")
    return out


def fill_template(template: str, fields: Mapping[str, str]) -> str:
    """The template with this photo's fields; unknown ones are blank."""
    try:
        return string.Formatter().vformat(template, (), _Blank(fields)).strip()
    except (ValueError, IndexError, AttributeError, KeyError, TypeError):  # unchecked template or odd spec
        return template.strip()
