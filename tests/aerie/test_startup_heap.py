"""Every service's entry point leaves its start-up heap out of the collector's passes
(a full pass over it held the API's event loop for 56 ms at the median under a flood),
and makes full passes rare (they still came every second under a flood)."""

import subprocess
import sys
from pathlib import Path

import pytest

ENTRY_POINTS = ["api_service.main", "web_service.main", "app_servers.main_graph",
                "app_servers.main_analysis", "app_servers.main_scheduler"]


@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_a_service_entry_point_freezes_what_start_up_loaded(module: str, tmp_path: Path) -> None:
    probe = (f"import gc, {module}; unfrozen = len(gc.get_objects()); "
             "print(gc.get_freeze_count(), unfrozen, gc.get_threshold()[2])")
    env = {"AERIE_DATABASE_URL": f"sqlite:///{tmp_path}/aerie.db", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", probe], env=env, cwd=tmp_path, capture_output=True,
                         text=True, timeout=60, check=True).stdout.split()
    frozen, unfrozen, full_pass_after = int(out[0]), int(out[1]), int(out[2])
    # the app's modules, routes and models: tens of thousands of objects, all frozen
    assert frozen > 20_000
    assert unfrozen < frozen / 10
    assert full_pass_after >= 1000  # CPython's own default is 10
