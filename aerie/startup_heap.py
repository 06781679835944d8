"""Keep the garbage collector's full passes off what a service loaded at start-up.

A service's modules, routes, models and settings are made once and live as long as
the process, yet CPython's full (generation 2) collection walks every one of them
each time it runs. Under a flood of posts it ran about once a second in the API and
held the event loop, and with it every other account's answers, for 56 ms at the
median and 104 ms at worst (bench/fairness.py, with a loop-lag probe in the API).
With the start-up heap frozen, passes skip it: 8 ms at the median, 21 ms at worst.
"""

import gc


def freeze_startup_heap() -> None:
    """Exempt everything alive now from later collections; call once, in a service's
    entry point, after its app is made (not in tests: frozen objects are never freed)."""
    gc.collect()  # start-up's own garbage goes now rather than living on, frozen
    gc.freeze()
