"""Lingma's section of the configuration: organizations, page size, personal access token."""

from pydantic import Field, SecretStr

from kb_pipeline.sources.base import SourceSettings, Strict


class LingmaCredentials(Strict):
    token: SecretStr


class LingmaSettings(SourceSettings):
    """Tongyi Lingma (Yunxiao OpenAPI): knowledge bases per organization."""

    organization_ids: list[str] = Field(min_length=1)
    page_size: int = Field(default=20, ge=1, le=20)
    credentials: LingmaCredentials
