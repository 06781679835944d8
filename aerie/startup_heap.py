"""Keep the garbage collector's full passes off what a service loaded at start-up.

A service's modules, routes, models and settings are made once and live as long as
the process, yet CPython's full (generation 2) collection walks every one of them
each time it runs. Under a flood of posts it ran about once a second in the API and
held the event loop, and with it every other account's answers, for 56 ms at the
median and 104 ms at worst (bench/fairness.py, with a loop-lag probe in the API).
With the start-up heap frozen, passes skip it: 8 ms at the median, 21 ms at worst.

They still ran about once a second. CPython makes a full pass when the survivors
since the last one reach a quarter of the long-lived objects, and with the start-up
heap frozen, few count as long-lived: under a flood (a 1,000-point batch makes
thousands of objects) passes came every second, 3 ms at first and up to 21 ms
after a minute, and the quiet account's p99 during a flood was 46-61 ms. Full
passes now wait for ``FULL_PASS_AFTER`` middle-generation passes instead of 10:
none ran in a 70-second flood run, and the p99 was 27-34 ms (bench/fairness.py,
alternated with the default).
"""

import gc

# Middle-generation passes before a full one may run (CPython's default: 10). Cyclic
# garbage that lived through two passes waits that much longer to be freed.
FULL_PASS_AFTER = 1000


def freeze_startup_heap() -> None:
    """Exempt everything alive now from later collections, and make full passes rare;
    call once, in a service's entry point, after its app is made (not in tests:
    frozen objects are never freed)."""
    gc.collect()  # start-up's own garbage goes now rather than living on, frozen
    gc.freeze()
    young, middle, _full = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_PASS_AFTER)
