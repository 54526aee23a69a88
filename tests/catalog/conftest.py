from tests.plugins.simulator import *  # noqa: F403
