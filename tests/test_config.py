"""The config file: what users write by hand, so every mistake must name the file and the key."""

from pathlib import Path

import pytest
import yaml

from kb_pipeline.config import ConfigError, load_config

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "example.yaml"
EXAMPLE_SECRETS = {
    "ALIBABA_CLOUD_ACCESS_KEY_ID": "id-1",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "very-secret-1",
    "VOLC_ACCESSKEY": "ak-2",
    "VOLC_SECRETKEY": "very-secret-2",
    "YUNXIAO_PERSONAL_ACCESS_TOKEN": "very-secret-3",
    "APPBUILDER_API_KEY": "very-secret-4",
}


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in EXAMPLE_SECRETS.items():
        monkeypatch.setenv(name, value)


def write(tmp_path: Path, document: dict) -> Path:
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def example() -> dict:
    return yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))


def test_the_example_loads_and_resolves_credentials_from_the_environment(secrets: None) -> None:
    config = load_config(EXAMPLE)
    assert set(config.sources.enabled()) == {"pai_langstudio", "vikingdb", "lingma", "qianfan"}
    assert config.sources.qianfan.credentials.api_key.get_secret_value() == "very-secret-4"
    assert config.data_dir == (EXAMPLE.parent / "data").resolve()
    assert "very-secret" not in repr(config)


def test_a_typo_names_the_key_and_the_file(tmp_path: Path, secrets: None) -> None:
    document = example()
    document["sources"]["qianfan"]["page_sise"] = 50
    path = write(tmp_path, document)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(path) in str(raised.value)
    assert "sources.qianfan.page_sise: unknown key" in str(raised.value)


def test_a_missing_environment_variable_is_named(tmp_path: Path, secrets: None, monkeypatch) -> None:
    monkeypatch.delenv("VOLC_SECRETKEY")
    with pytest.raises(
        ConfigError, match=r"sources\.vikingdb\.credentials\.secret_access_key: .*VOLC_SECRETKEY"
    ):
        load_config(write(tmp_path, example()))


def test_an_inline_credential_is_refused_without_echoing_it(tmp_path: Path, secrets: None) -> None:
    document = example()
    document["sources"]["lingma"]["credentials"]["token"] = "pt-leaked-token-value"
    with pytest.raises(ConfigError) as raised:
        load_config(write(tmp_path, document))
    assert "sources.lingma.credentials.token" in str(raised.value)
    assert "pt-leaked-token-value" not in str(raised.value)


def test_out_of_range_page_size_is_refused(tmp_path: Path, secrets: None) -> None:
    document = example()
    document["sources"]["lingma"]["page_size"] = 50
    with pytest.raises(ConfigError, match=r"sources\.lingma\.page_size"):
        load_config(write(tmp_path, document))


def test_missing_file_and_bad_yaml_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("sources: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(broken)


def test_the_checked_in_sandbox_config_follows_the_sandbox_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """config/sandbox.yaml names every workspace, organization and task of `kb-pipeline sandbox`."""
    from kb_pipeline.demo import SANDBOX_ENVIRONMENT, sandbox_config
    from kb_pipeline.sandbox import Dataset

    for name, value in SANDBOX_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    checked_in = yaml.safe_load((EXAMPLE.parent / "sandbox.yaml").read_text(encoding="utf-8"))
    assert checked_in == sandbox_config("http://127.0.0.1:8765", Dataset.generate(7, 1.0), Path("../data"))
    assert load_config(EXAMPLE.parent / "sandbox.yaml").data_dir == (EXAMPLE.parents[1] / "data").resolve()
