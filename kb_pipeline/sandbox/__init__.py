"""A local, faithful imitation of four vendors' knowledge-base HTTP APIs on one port.

PAI LangStudio, VikingDB, Lingma and Qianfan AppBuilder, served by one Starlette app: the same
paths, parameters, paging, quirks, error envelopes and authentication (signatures recomputed for
real) as the vendors, over data generated from a seed. A client that works here must work there.

    from kb_pipeline.sandbox import SandboxServer, credentials

    with SandboxServer(seed=7, scale=1.0) as sandbox:
        sandbox.url                          # http://127.0.0.1:<port>
        sandbox.dataset.qianfan_documents    # the ground truth, in wire shape
        sandbox.dataset.lingma_files.get(kb) # child listings, generated from their parent on demand
        sandbox.control.add_fault("qianfan", "throttle", count=2)
        sandbox.control.add_qianfan_documents(kb_id, count=5)
        sandbox.control.add_lingma_files(kb_id, count=2)   # moves the KB's fileCount, size and times
        sandbox.requests                     # what clients sent

`python -m kb_pipeline.sandbox --port 8900` serves it in the foreground.
"""

from kb_pipeline.sandbox import credentials
from kb_pipeline.sandbox.app import endpoint_listing
from kb_pipeline.sandbox.control import Control
from kb_pipeline.sandbox.dataset import ANCHOR, Dataset
from kb_pipeline.sandbox.faults import FAULT_KINDS, Fault
from kb_pipeline.sandbox.server import SandboxServer, serve
from kb_pipeline.sandbox.settings import Settings
from kb_pipeline.sandbox.vendors import DEFAULT_QPS, VENDORS

__all__ = [
    "ANCHOR",
    "DEFAULT_QPS",
    "FAULT_KINDS",
    "VENDORS",
    "Control",
    "Dataset",
    "Fault",
    "SandboxServer",
    "Settings",
    "credentials",
    "endpoint_listing",
    "serve",
]
