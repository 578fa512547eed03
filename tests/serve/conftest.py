"""Fixtures of the dashboard tests: one project recorded by the real runner, one server over it
(a real HTTP server on a free loopback port), shared by the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from serve_client import Recorded, start, stop
from serve_project import TOKEN, TOKEN_ENV, PlantStep, record_runs

from secpipe.core import registry
from secpipe.serve import Dashboard


@pytest.fixture(scope="session")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorded]:
    home = tmp_path_factory.mktemp("serve-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        mp.setenv("XDG_CACHE_HOME", str(home / ".cache"))
        mp.delenv("SECPIPE_PROJECT", raising=False)
        mp.delenv("SECPIPE_CONFIG", raising=False)
        mp.setenv(TOKEN_ENV, TOKEN)
        mp.setitem(registry.BUILTIN_STEPS, "t-serve-plant", (PlantStep.__module__, "PlantStep"))
        root = tmp_path_factory.mktemp("serve") / "project"
        runs = record_runs(root)
    yield Recorded(root, runs)


@pytest.fixture(scope="session")
def server(recorded: Recorded) -> Iterator[Dashboard]:
    srv, thread = start(recorded.db)
    yield srv
    stop(srv, thread)
