"""Inventory keys of sender authentication: sends_mail and dkim_selectors."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailtls.inventory import InventoryError, load_inventory


def test_sends_mail_and_selectors(tmp_path: Path) -> None:
    inv = load_inventory(
        _write(
            tmp_path,
            "domains:\n  - {name: a.example, sends_mail: false}\n"
            "  - {name: b.example, dkim_selectors: [s1, ed.2025]}\n",
        )
    )
    a, b = inv.domains
    assert (a.sends_mail, a.dkim_selectors) == (False, ())
    assert (b.sends_mail, b.dkim_selectors) == (True, ("s1", "ed.2025"))


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{name: a.example, sends_mail: 'no'}", "sends_mail must be true or false"),
        ("{name: a.example, dkim_selectors: ['bad selector']}", "is not a DNS name"),
        ("{name: a.example, dkim_selectors: s1}", None),  # a single string is accepted
    ],
)
def test_bad_values_name_the_entry(tmp_path: Path, entry: str, message: str | None) -> None:
    path = _write(tmp_path, f"domains:\n  - {entry}\n")
    if message is None:
        assert load_inventory(path).domains[0].dkim_selectors == ("s1",)
        return
    with pytest.raises(InventoryError, match=message) as exc:
        load_inventory(path)
    assert "a.example" in str(exc.value)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "inv.yaml"
    path.write_text(text)
    return path
