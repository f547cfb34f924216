"""migration.yaml: validation, credential references, no secrets in repr or errors."""

from __future__ import annotations

import pytest

from migrator.config import load_config
from migrator.errors import ConfigError

GOOD = """
source:
  type: zendesk
  subdomain: acme
  email: admin@acme.test
  token: ${ZD_TOKEN}
target:
  type: freshdesk
  base_url: http://127.0.0.1:9000
  api_key: ${FD_KEY}
mapping: mapping.yaml
options:
  tags: [migrated, from-zendesk]
"""


def write(tmp_path, text, name="migration.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_good_config_resolves_paths_and_secrets(tmp_path, monkeypatch):
    monkeypatch.setenv("ZD_TOKEN", "zd-secret-123")
    cfg = load_config(write(tmp_path, GOOD))
    assert cfg.mapping_path == tmp_path / "mapping.yaml"
    assert cfg.state_url == f"sqlite:///{tmp_path / '.migrator/state.db'}"
    assert cfg.source.secret("token") == "zd-secret-123"
    assert "zd-secret-123" not in repr(cfg) and "zd-secret-123" not in repr(cfg.source)
    assert cfg.options.tags == ["migrated", "from-zendesk"]


def test_missing_env_var_says_which(tmp_path, monkeypatch):
    monkeypatch.delenv("FD_KEY", raising=False)
    cfg = load_config(write(tmp_path, GOOD))
    with pytest.raises(ConfigError, match="FD_KEY is not set") as info:
        cfg.target.secret("api_key")
    assert "export FD_KEY" in info.value.hint


def test_literal_secret_in_file_is_refused(tmp_path):
    text = GOOD.replace("${ZD_TOKEN}", "abcd1234realtoken")
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    assert "source.token" in info.value.message and "environment reference" in info.value.message
    assert "abcd1234realtoken" not in info.value.message


@pytest.mark.parametrize("text,expected", [
    ("source: [\n", "not valid YAML"),
    ("- a\n- b\n", "expected a mapping"),
    ("source: {type: zendesk}\n", "target: Field required"),
    (GOOD.replace("type: freshdesk", "type: kayako"), "target.type"),
    (GOOD + "\nbogus: 1\n", "bogus: Extra inputs are not permitted"),
    (GOOD.replace("tags: [migrated, from-zendesk]", "batch_size: 500"), "options.batch_size"),
])
def test_bad_config_gives_located_message(tmp_path, text, expected):
    with pytest.raises(ConfigError, match=expected.replace("[", r"\[")):
        load_config(write(tmp_path, text))


def test_missing_file_points_to_init(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.yaml")
    assert "migrator init" in info.value.hint


def test_binary_file_is_a_clear_error(tmp_path):
    path = tmp_path / "migration.yaml"
    path.write_bytes(b"\xff\xfe\x00\x01binary")
    with pytest.raises(ConfigError):
        load_config(path)


@pytest.mark.parametrize("key,side", [("retry_backof", "source"), ("api_kye", "target"),
                                      ("comments_strategy", "target")])
def test_unknown_endpoint_key_is_refused_with_its_line(tmp_path, key, side):
    text = GOOD.replace("  type: zendesk\n" if side == "source" else "  type: freshdesk\n",
                        f"  type: {'zendesk' if side == 'source' else 'freshdesk'}\n"
                        f"  {key}: 2\n")
    path = write(tmp_path, text)
    line = text.splitlines().index(f"  {key}: 2") + 1
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert f"{path}:{line}" in info.value.message
    assert f"{side}.{key}" in info.value.message and "unknown" in info.value.message
    assert info.value.hint and "README" in info.value.hint


def test_known_vendor_keys_are_accepted(tmp_path):
    text = GOOD.replace("  type: zendesk\n", "  type: zendesk\n  comments_strategy: events\n"
                        "  job_cap: 3\n  retry_backoff: 0.1\n  rate_window: 5\n"
                        "  placeholder_email: p@acme.test\n  account_limit: 100\n")
    text = text.replace("  type: freshdesk\n", "  type: freshdesk\n  page_cap: 2\n"
                        "  create_agents: true\n")
    cfg = load_config(write(tmp_path, text))
    assert cfg.source.model_extra["job_cap"] == 3


def test_invalid_value_names_its_line(tmp_path):
    text = GOOD.replace("tags: [migrated, from-zendesk]", "batch_size: lots")
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    line = text.splitlines().index("  batch_size: lots") + 1
    assert f"{path}:{line}:" in info.value.message and "options.batch_size" in info.value.message


@pytest.mark.parametrize("value, ok", [("2024-01-31", True), ("2024-01-31T08:00:00Z", True),
                                       ("yesterday", False), ("2024-13-01", False)])
def test_since_must_be_a_date_when_the_file_is_read(tmp_path, monkeypatch, value, ok):
    """A wrong ``options.since`` is said at once, with its line, not when the export starts."""
    monkeypatch.setenv("ZD_TOKEN", "t")
    monkeypatch.setenv("FD_KEY", "k")
    text = GOOD.replace("tags: [migrated, from-zendesk]", f"since: '{value}'")
    path = write(tmp_path, text)
    if ok:
        assert load_config(path).options.since == value
        return
    with pytest.raises(ConfigError) as info:
        load_config(path)
    line = text.splitlines().index(f"  since: '{value}'") + 1
    assert f"{path}:{line}:" in info.value.message and "YYYY-MM-DD" in info.value.message
