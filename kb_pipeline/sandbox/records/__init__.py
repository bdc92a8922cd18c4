"""Record factories: one vendor record in its exact wire shape, drawn from a seeded random source.

Every factory takes a `random.Random` and the record's creation time (epoch seconds), so the same
seed always yields the same records. Values copy the variety real tenants show: Chinese and
English names, every documented status, optional fields left out, human size strings, and
pre-signed download URLs carrying (fake) credentials.
"""

from kb_pipeline.sandbox.lingma.file_records import FILE_STATES, lingma_file, lingma_files
from kb_pipeline.sandbox.lingma.records import lingma_knowledge_base, lingma_user
from kb_pipeline.sandbox.pai_langstudio.chunk_records import chunk_total, pai_chunk
from kb_pipeline.sandbox.pai_langstudio.records import (
    PAI_MAX_RUNNING_TIMES,
    PAI_STATUSES,
    pai_job,
    pai_knowledge_base,
)
from kb_pipeline.sandbox.qianfan.records import (
    QIANFAN_SOURCES,
    QIANFAN_STATUSES,
    qianfan_document,
    qianfan_knowledge_base,
)
from kb_pipeline.sandbox.records.common import Record, iso_z
from kb_pipeline.sandbox.vikingdb.document_records import vikingdb_document, vikingdb_documents
from kb_pipeline.sandbox.vikingdb.records import vikingdb_collection, vikingdb_task

__all__ = [
    "FILE_STATES",
    "PAI_MAX_RUNNING_TIMES",
    "PAI_STATUSES",
    "QIANFAN_SOURCES",
    "QIANFAN_STATUSES",
    "Record",
    "chunk_total",
    "iso_z",
    "lingma_file",
    "lingma_files",
    "lingma_knowledge_base",
    "lingma_user",
    "pai_chunk",
    "pai_job",
    "pai_knowledge_base",
    "qianfan_document",
    "qianfan_knowledge_base",
    "vikingdb_collection",
    "vikingdb_document",
    "vikingdb_documents",
    "vikingdb_task",
]
