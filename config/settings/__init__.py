"""The one settings entry point (DJANGO_SETTINGS_MODULE=config.settings): the parts below, in order."""

# Each part takes what it needs from the parts before it by explicit absolute imports; the
# order here is the order they depend on one another (kept, not sorted). Every setting is
# assigned in one module only (tests/config/test_settings.py checks it).
# isort: skip_file
from config.settings.base import *  # noqa: F403  (environment, runtime mode, DEBUG first)
from config.settings.security import *  # noqa: F403
from config.settings.api import *  # noqa: F403
from config.settings.celery import *  # noqa: F403
from config.settings.storage import *  # noqa: F403
from config.settings.operations import *  # noqa: F403  (needs celery)
from config.settings.catalog import *  # noqa: F403
from config.settings.photosync import *  # noqa: F403  (needs operations, catalog)
from config.settings.nasync import *  # noqa: F403  (needs operations)
from config.settings.storesync import *  # noqa: F403  (adds to api's SPECTACULAR_SETTINGS)
from config.settings.console import *  # noqa: F403
from config.settings.logging import *  # noqa: F403
