"""The sandbox's fixed credentials: obviously fake, public, and the only ones it accepts.

Tests and the demo configuration import them from here, so a client is configured for the
sandbox exactly as it would be for a vendor (same header names, same signing), only with these
values. None of them is valid anywhere else.
"""

from __future__ import annotations

PAI_ACCESS_KEY_ID = "LTAI5tSandboxPaiFakeKey01"
PAI_ACCESS_KEY_SECRET = "sandbox-pai-secret-not-a-real-one"

VOLC_ACCESS_KEY = "AKLTsandboxVolcFakeKey0001"
VOLC_SECRET_KEY = "sandbox-volc-secret-not-a-real-one"

QIANFAN_API_KEY = "bce-v3/ALTAK-sandboxFakeKey01/sandbox-qianfan-not-a-real-one"
QIANFAN_FORBIDDEN_API_KEY = "bce-v3/ALTAK-sandboxNoRights/sandbox-qianfan-no-permission"
"""A key the sandbox recognises but grants no permission: answered 403 PermissionDeniedError."""

LINGMA_TOKEN = "pt-sandboxFakeToken01_notareal0001"
LINGMA_EXPIRED_TOKEN = "pt-sandboxExpiredToken_notareal0002"
"""A token the sandbox recognises as expired: answered 401 ExpiredTokenError."""

PAI_SECRETS: dict[str, str] = {PAI_ACCESS_KEY_ID: PAI_ACCESS_KEY_SECRET}
VOLC_SECRETS: dict[str, str] = {VOLC_ACCESS_KEY: VOLC_SECRET_KEY}
