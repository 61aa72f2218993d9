"""The operator window's session manager runs in every server, including a restarted one."""

from __future__ import annotations

import flet.fastapi as flet_fastapi
import httpx

from tests.support import RunningServer, wait_until


def eviction_task():
    return getattr(flet_fastapi.app_manager, "_FletAppManager__evict_sessions_task", None)


def test_each_server_start_runs_flets_session_manager(tmp_path):
    loops = []
    for run in range(2):
        with RunningServer(tmp_path / "data") as server:
            task = eviction_task()
            assert task is not None and not task.done(), f"no session eviction in run {run}"
            assert task.get_loop().is_running()
            loops.append(task.get_loop())
            assert httpx.get(server.base + "/ui/").status_code == 200
        wait_until(lambda: eviction_task() is None or eviction_task().done())
    assert loops[0] is not loops[1]
