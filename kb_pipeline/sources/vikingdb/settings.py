"""VikingDB's section of the configuration: region, projects, tasks to follow, Volcengine AccessKey."""

from pydantic import Field, SecretStr

from kb_pipeline.sources.base import SourceSettings, Strict


class VolcCredentials(Strict):
    access_key_id: SecretStr
    secret_access_key: SecretStr


class VikingDbSettings(SourceSettings):
    """VikingDB knowledge base: collections (snapshots), their documents, and the tasks to follow."""

    region: str = "cn-beijing"
    projects: list[str] = Field(default_factory=list, description="empty = every project")
    task_ids: list[str] = Field(default_factory=list)
    doc_page_size: int = Field(default=100, ge=1, le=100, description="documents per doc/list call")
    credentials: VolcCredentials
