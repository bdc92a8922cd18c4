"""PAI LangStudio's section of the configuration: workspaces, knowledge bases, page size, AccessKey."""

from pydantic import Field, SecretStr

from kb_pipeline.sources.base import SourceSettings, Strict


class PaiCredentials(Strict):
    access_key_id: SecretStr
    access_key_secret: SecretStr


class PaiSettings(SourceSettings):
    """PAI LangStudio: knowledge bases per workspace, and their indexing jobs."""

    region: str | None = None
    workspace_ids: list[str] = Field(min_length=1)
    knowledge_base_ids: list[str] = Field(default_factory=list, description="empty = all discovered")
    page_size: int = Field(default=100, ge=1, le=100)
    credentials: PaiCredentials
