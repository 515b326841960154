"""The seam between what the SDK returns and how it is shown: data never imports rendering.

Data classes people look at (`plan.Plan`, `plan.Report`, `plan.Status`, `history.History`,
`explain.OrderStory`, `explain.SkuStory`) inherit `Rendered` and name their view. The `render`
package registers one function per (view, format) when it is imported, and the package's
``__init__`` imports it, so every object can be printed, shown in Jupyter or turned into a
DataFrame without its module importing `render`::

    print(plan)              # Rendered.__str__ -> render's ("plan", "text") function
    plan.to_markdown()       # ("plan", "markdown"), e.g. for a pull request comment
    plan.to_pandas()         # ("plan", "pandas"): one row per action, per SKU of stock actions

Before this seam `plan` and `report` imported each other (hidden in function bodies).
"""
from __future__ import annotations

import importlib
from typing import Any, Callable, ClassVar

__all__ = ["Rendered", "register", "renderer", "FORMATS"]

FORMATS = ("text", "markdown", "html", "records", "pandas")

_RENDERERS: dict[tuple[str, str], Callable[..., Any]] = {}


def register(view: str, fmt: str, function: Callable[..., Any]) -> None:
    """Make `function(obj, **options)` the renderer of `view` objects in `fmt` (see `FORMATS`)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    _RENDERERS[(view, fmt)] = function


def renderer(view: str, fmt: str) -> Callable[..., Any]:
    """The registered renderer. `katana_woo_sdk/__init__` imports `render`, which registers them
    all; the import here only covers a caller that loaded a module while bypassing the package."""
    if (view, fmt) not in _RENDERERS:
        importlib.import_module(f"{__package__}.render")
    try:
        return _RENDERERS[(view, fmt)]
    except KeyError:
        raise LookupError(f"no {fmt} renderer for {view!r} objects") from None


class Rendered:
    """Text, Markdown, HTML, records and DataFrames for a data class, from its registered view.

    ``print(obj)`` gives text for a terminal, Jupyter calls ``_repr_html_``, ``to_markdown()``
    gives a pull request comment, ``to_records()`` a list of flat dicts and ``to_pandas()`` a
    DataFrame with numeric columns (pandas is optional: ``pip install 'katana-woo[notebook]'``).
    """

    _view: ClassVar[str] = ""

    def __str__(self) -> str:
        return str(renderer(self._view, "text")(self))

    def to_text(self, *, limit: int | None = 10) -> str:
        """Plain text; lists longer than `limit` show "… and N more" (None: everything)."""
        return str(renderer(self._view, "text")(self, limit=limit))

    def to_markdown(self, **options: Any) -> str:
        """GitHub-flavoured Markdown, always shorter than GitHub's comment limit.

        Options: `limit` (rows shown before folding), `budget` (characters, default 60,000),
        `pointer` (where the full version is, named when rows are cut)."""
        return str(renderer(self._view, "markdown")(self, **options))

    def to_html(self, **options: Any) -> str:
        """Self-contained HTML (inline styles, no scripts): what Jupyter shows."""
        return str(renderer(self._view, "html")(self, **options))

    def _repr_html_(self) -> str:
        return self.to_html()

    def to_records(self) -> list[dict[str, Any]]:
        """Flat rows (one per action, result, SKU or run, as the object is), for tables."""
        records: list[dict[str, Any]] = renderer(self._view, "records")(self)
        return records

    def to_pandas(self) -> Any:
        """A pandas DataFrame of `to_records()` with numeric and datetime columns typed."""
        return renderer(self._view, "pandas")(self)
