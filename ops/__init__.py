"""Operations: the ``aerie`` command, the supervisor of ``aerie up`` and the demo data.

This package sits above every tier and may import any of them; nothing imports it
but entry points (``aerie/__main__.py``, the ``aerie`` script).
"""
