"""A real Synapse homeserver for the Matrix integration tests (one per test session).

Synapse is installed by ``scripts/setup-matrix`` in its own virtualenv; without it the
integration tests are skipped with a message saying so. The start-up time is reported at the
end of the run.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.providers.matrix.synapse import SynapseServer, synapse_python

_timings: dict[str, float] = {}


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynapseServer]:
    python = synapse_python()
    if python is None:
        pytest.skip(
            "Synapse is not installed: run scripts/setup-matrix "
            "(or point DIALOGO_SYNAPSE_VENV at a virtualenv with matrix-synapse)"
        )
    server = SynapseServer(python, tmp_path_factory.mktemp("synapse"))
    _timings["start"] = server.start()
    try:
        yield server
    finally:
        server.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if "start" in _timings:
        terminalreporter.write_line(
            f"matrix: Synapse answered /_matrix/client/versions {_timings['start']:.2f}s "
            "after it was started"
        )
