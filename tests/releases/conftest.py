import pytest

from tests.federation.conftest import fedsim, topology  # noqa: F401 (fixtures)


@pytest.fixture
def engine_env(transactional_db, topology, settings):  # noqa: F811
    from .engine_support import cleanup_clonesets, needs_postgres

    needs_postgres()
    settings.RELEASE_LEASE_TTL_SECONDS = 3
    settings.RELEASE_LEASE_HEARTBEAT_SECONDS = 0.5
    settings.RELEASE_CLUSTER_CALL_TIMEOUT = (1.0, 2.0)
    pytest.fedsim_server = topology["server"]
    yield topology
    cleanup_clonesets(topology["server"])
