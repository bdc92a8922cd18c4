"""Request signers: each one adds its vendor's authentication headers to an httpx request."""

from kb_pipeline.auth.acs3 import Acs3Signer
from kb_pipeline.auth.signer import Signer
from kb_pipeline.auth.tokens import BearerSigner, HeaderTokenSigner
from kb_pipeline.auth.volc import VolcSigner

__all__ = ["Acs3Signer", "BearerSigner", "HeaderTokenSigner", "Signer", "VolcSigner"]
