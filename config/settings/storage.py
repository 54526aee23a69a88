"""Media files and the storage backends: the local file system, or S3 through django-storages."""

from pathlib import Path

from config.settings.base import VAR_DIR, env

MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))

# Photo links expire after this many seconds: presigned on S3, signed by the hub on a file system.
MEDIA_URL_EXPIRE = env.int("MEDIA_URL_EXPIRE", default=env.int("AWS_QUERYSTRING_EXPIRE", default=3600))

AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
if AWS_STORAGE_BUCKET_NAME:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            "access_key": env.str("AWS_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default="") or None,
            "file_overwrite": False,
            "default_acl": None,
            # The bucket stays private: every URL the hub hands out is presigned.
            "querystring_auth": True,
            "querystring_expire": MEDIA_URL_EXPIRE,
        },
    }
