"""Progress bars for what takes minutes at Katana's real limit: order imports (`runner`), stock
writes (`engines.stock`), store listings (`engines.context`) and waits for the rate limit
(`ratelimit.TokenBucket.acquire`). tqdm.auto draws them in terminals and notebooks; when output is
not interactive (CI, cron, a pipe) nothing is drawn, so logs stay clean.
"""
from __future__ import annotations

import importlib.util
import sys
from typing import Any, Callable, Iterable

__all__ = ["progress", "interactive", "sleep_with_bar", "WAIT_BAR_SECONDS"]

# A wait shorter than this is the limit's normal pace (one request a second at 60 a minute): a bar
# for each would flicker. Longer ones (a window spent, a Retry-After) get a countdown.
WAIT_BAR_SECONDS = 3.0


def interactive() -> bool:
    """A notebook kernel with widgets, or a terminal on stderr."""
    try:
        # Looked up, not imported by name: IPython 8 leaves it unannotated and IPython 9 annotates
        # it, and the type check must pass with either.
        shell: Any = getattr(importlib.import_module("IPython"), "get_ipython")()
        if shell is not None and "IPKernelApp" in shell.config:
            # tqdm.auto needs ipywidgets in a kernel; without it it warns and prints text bars.
            return importlib.util.find_spec("ipywidgets") is not None
    except Exception:  # IPython absent or not a kernel
        pass
    return sys.stderr.isatty()


def progress(iterable: Iterable[Any], *, desc: str, total: int | None = None,
             enabled: bool | None = None) -> Iterable[Any]:
    """`iterable`, drawn as a bar when `enabled` (default: when interactive)."""
    if enabled is None:
        enabled = interactive()
    if not enabled:
        return iterable
    from tqdm.auto import tqdm
    return tqdm(iterable, desc=desc, total=total, leave=False)


def sleep_with_bar(seconds: float, sleep: Callable[[float], None], *, desc: str,
                   enabled: bool | None = None) -> None:
    """`sleep(seconds)`, as a countdown bar (in steps of at most a second) when the wait is long
    enough to look like a hang and output is interactive; otherwise one plain `sleep`."""
    if seconds < WAIT_BAR_SECONDS or not (interactive() if enabled is None else enabled):
        sleep(seconds)
        return
    from tqdm.auto import tqdm
    left = seconds
    with tqdm(total=round(seconds, 1), desc=desc, unit="s", leave=False,
              bar_format="{desc}: {n:.0f}/{total:.0f} s {bar}") as bar:
        while left > 0:
            step = min(1.0, left)
            sleep(step)
            left -= step
            bar.update(step)
