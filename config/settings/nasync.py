"""Nasync: the NAS (rsync over ssh), document uploads, and the request body cap derived from them."""

from config.settings.base import env
from config.settings.operations import JOB_WAIT_TIMEOUT

# The NAS: documents are pushed with rsync over ssh. Sync is configured when
# NAS_HOST, NAS_USER and NAS_PATH are set; the key is a path to a private key file.
NAS_HOST = env.str("NAS_HOST", default="")
NAS_USER = env.str("NAS_USER", default="")
NAS_PATH = env.str("NAS_PATH", default="")
NAS_PORT = env.int("NAS_PORT", default=22)
NAS_SSH_KEY = env.str("NAS_SSH_KEY", default="")
# A known_hosts file holding the NAS's host key: strict host key checking. Unset: the hub
# trusts the key seen first (accept-new) and pins it in VAR_DIR/nas_known_hosts.
NAS_KNOWN_HOSTS = env.str("NAS_KNOWN_HOSTS", default="")
NAS_CONNECT_TIMEOUT = env.int("NAS_CONNECT_TIMEOUT", default=15)
# rsync --bwlimit (KiB/s, or with a K/M/G suffix); empty: no limit.
NAS_BWLIMIT = env.str("NAS_BWLIMIT", default="")
# rsync --timeout: a transfer with no I/O for this long is stopped (s).
NAS_IO_TIMEOUT = env.int("NAS_IO_TIMEOUT", default=300)
# Uploads larger than this answer 413 PAYLOAD_TOO_LARGE (bytes).
NAS_MAX_UPLOAD_BYTES = env.int("NAS_MAX_UPLOAD_BYTES", default=25 * 1024 * 1024)
# Any request body larger than this is refused with 413 before Django reads it (bytes;
# config/body_limit.py, hub-wide); the default leaves room for the largest document upload
# and its multipart framing.
REQUEST_MAX_BODY_BYTES = env.int("REQUEST_MAX_BODY_BYTES", default=NAS_MAX_UPLOAD_BYTES + 1024 * 1024)
# How long POST /api/v1/sync/run waits for its run before answering 202 with the run's URL (s).
NAS_SYNC_WAIT_TIMEOUT = env.float("NAS_SYNC_WAIT_TIMEOUT", default=JOB_WAIT_TIMEOUT)
# Documents per rsync process (one ssh connection per batch; a run of more uses several).
NAS_RSYNC_BATCH_SIZE = env.int("NAS_RSYNC_BATCH_SIZE", default=5000)
# A document that failed is retried after NAS_RETRY_BACKOFF * 2**(attempts-1) s (with jitter);
# after NAS_MAX_ATTEMPTS failures it is held until an operator requeues it in the admin.
NAS_MAX_ATTEMPTS = env.int("NAS_MAX_ATTEMPTS", default=5)
NAS_RETRY_BACKOFF = env.int("NAS_RETRY_BACKOFF", default=300)
