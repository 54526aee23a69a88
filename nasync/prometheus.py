"""What the NAS document sync adds to ``/metrics`` (registered in ``NasyncConfig.ready``)."""

from prometheus_client.core import GaugeMetricFamily

from nasync.models import Document


def collect():
    yield GaugeMetricFamily(
        "rsh_nas_documents_pending",
        "Documents not on the NAS yet (held ones included).",
        value=Document.objects.filter(synced_to_nas=False).count(),
    )
