from pathlib import Path

import pytest

from cartflow.config import ConfigError, load_project, parse_config
from cartflow.scaffold import init_project


def test_init_writes_a_commented_config_with_the_online_retail_source(tmp_path: Path) -> None:
    path = init_project(tmp_path / "p")
    text = path.read_text()
    assert text.count("#") > 10
    project = load_project(tmp_path / "p")
    source = project.config.sources["online_retail"]
    assert source.kind == "files"
    assert project.resolve(source.path) == (tmp_path / "p" / "landing" / "online_retail")
    assert project.lake_uri == str((tmp_path / "p" / "lake").resolve())
    assert project.warehouse_path == (tmp_path / "p" / "lake" / "warehouse.duckdb").resolve()
    assert (tmp_path / "p" / "landing" / "online_retail").is_dir()


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    init_project(tmp_path)
    with pytest.raises(FileExistsError, match="--force"):
        init_project(tmp_path)


def test_missing_config_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cartflow init"):
        load_project(tmp_path)


def test_validation_error_names_key_value_and_allowed_values() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"warehouse": {"engine": "oracle"}})
    msg = str(err.value)
    assert "warehouse.engine" in msg and "'oracle'" in msg and "'duckdb'" in msg and "'spark'" in msg


def test_bad_memory_limit_is_named_and_a_size_is_accepted() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"warehouse": {"memory_limit": "lots"}})
    assert "warehouse.memory_limit" in str(err.value) and "'lots'" in str(err.value)
    assert parse_config({"warehouse": {"memory_limit": "8GiB"}}).warehouse.memory_limit == "8GiB"


def test_unknown_key_and_bad_source_kind_are_named() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"lake": {"rooot": "x"}, "sources": {"s": {"kind": "ftp", "path": "x"}}})
    msg = str(err.value)
    assert "lake.rooot = 'x': unknown key" in msg
    assert "sources.s" in msg and "'ftp'" in msg and "files" in msg


def test_missing_required_source_field_is_named() -> None:
    with pytest.raises(ConfigError, match=r"sources\.s\.path = \(missing\)"):
        parse_config({"sources": {"s": {"kind": "files"}}})


def test_environment_overrides_a_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    init_project(tmp_path)
    monkeypatch.setenv("CARTFLOW__LAKE__ROOT", "other-lake")
    monkeypatch.setenv("CARTFLOW__CURRENCY__MAX_RATE_AGE_DAYS", "3")
    project = load_project(tmp_path)
    assert project.lake_uri.endswith("other-lake")
    assert project.config.currency.max_rate_age_days == 3


@pytest.mark.parametrize("config", [
    {"sources": {"shop": {"kind": "files", "path": "x", "currency": "USD"}}},
    {"sources": {"api": {"kind": "http", "entity": "order_lines", "url": "http://x", "currency": "EUR"}}},
    {"stream": {"currency": "USD"}},
])
def test_order_lines_in_another_currency_than_the_base_are_refused_not_mislabelled(config: dict) -> None:
    """Order-line prices are never converted: a USD source under a GBP base would publish dollars as pounds."""
    with pytest.raises(ConfigError) as err:
        parse_config(config)
    msg = str(err.value)
    assert "never converted" in msg and "[currency] base = 'GBP'" in msg and "set [currency] base" in msg


def test_order_lines_in_the_base_currency_and_other_entities_in_any_currency_are_accepted() -> None:
    parse_config({"currency": {"base": "EUR"}, "stream": {"currency": "EUR"},
                  "sources": {"shop": {"kind": "files", "path": "x", "currency": "EUR"},
                              "sales": {"kind": "files", "entity": "sales", "path": "y", "currency": "USD"}}})
    parse_config({"sources": {"shop": {"kind": "files", "path": "x"}}})
