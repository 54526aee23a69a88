"""Hub-wide operations: job waits, the stale-job reaper's threshold, retention, outgoing e-mail."""

from config.settings.base import env
from config.settings.celery import CELERY_VISIBILITY_TIMEOUT

# How long an endpoint whose spec returns a finished summary waits for its job.
JOB_WAIT_TIMEOUT = env.float("JOB_WAIT_TIMEOUT", default=300.0)
# A running job without a heartbeat for this long is considered lost and failed by the reaper.
JOB_STALE_AFTER = env.int("JOB_STALE_AFTER", default=CELERY_VISIBILITY_TIMEOUT + 10 * 60)

# An open event stream re-checks its user's access (active, token not revoked, store right)
# this often, and at the token's expiry; it closes with 4401 or 4403 once it is gone.
EVENT_STREAM_RECHECK_SECONDS = env.float("EVENT_STREAM_RECHECK_SECONDS", default=30.0)

# Finished jobs, history, delivered webhook attempts, superseded reports and resolved
# alerts older than this are pruned daily (manage.py prune).
RETENTION_DAYS = env.int("RETENTION_DAYS", default=90)

# Outgoing mail (store sync's alerts): SMTP when EMAIL_HOST is set, the console otherwise.
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="retail-sync-hub@localhost")
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.smtp.EmailBackend"
    if env.str("EMAIL_HOST", default="")
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
