"""Record factories: one vendor record in its exact wire shape, drawn from a seeded random source.

Every factory takes a `random.Random` and the record's creation time (epoch seconds), so the same
seed always yields the same records. Values copy the variety real tenants show: Chinese and
English names, every documented status, optional fields left out, human size strings, and
pre-signed download URLs carrying (fake) credentials.
"""

from kb_pipeline.sandbox.records.common import Record, iso_z
from kb_pipeline.sandbox.records.lingma import lingma_knowledge_base, lingma_user
from kb_pipeline.sandbox.records.pai import PAI_MAX_RUNNING_TIMES, PAI_STATUSES, pai_job, pai_knowledge_base
from kb_pipeline.sandbox.records.qianfan import (
    QIANFAN_SOURCES,
    QIANFAN_STATUSES,
    qianfan_document,
    qianfan_knowledge_base,
)
from kb_pipeline.sandbox.records.vikingdb import vikingdb_collection, vikingdb_task

__all__ = [
    "PAI_MAX_RUNNING_TIMES",
    "PAI_STATUSES",
    "QIANFAN_SOURCES",
    "QIANFAN_STATUSES",
    "Record",
    "iso_z",
    "lingma_knowledge_base",
    "lingma_user",
    "pai_job",
    "pai_knowledge_base",
    "qianfan_document",
    "qianfan_knowledge_base",
    "vikingdb_collection",
    "vikingdb_task",
]
