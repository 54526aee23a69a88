"""The demo's NAS documents."""

from nasync.models import Document
from operations.demo.documents import ensure_demo_documents


def test_the_demo_adds_a_few_documents_once(db):
    assert ensure_demo_documents() == 3 and ensure_demo_documents() == 3
    documents = Document.objects.all()
    assert len(documents) == 3 and {d.content_type for d in documents} == {"application/pdf"}
