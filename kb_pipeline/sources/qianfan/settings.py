"""Qianfan's section of the configuration: knowledge bases, page size, API key."""

from pydantic import Field, SecretStr

from kb_pipeline.sources.base import SourceSettings, Strict


class QianfanCredentials(Strict):
    api_key: SecretStr


class QianfanSettings(SourceSettings):
    """Qianfan AppBuilder: knowledge bases and their documents."""

    knowledge_base_ids: list[str] = Field(default_factory=list, description="empty = all discovered")
    page_size: int = Field(default=100, ge=1, le=100)
    credentials: QianfanCredentials
