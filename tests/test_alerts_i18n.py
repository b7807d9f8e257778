"""Alert texts in kpi.toml's language: translated in every shipped catalog, and in right-to-left text
(Persian) the names, periods, rules and numbers isolated left to right so they keep their order."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpicore.alerts.evaluate import AlertState
from kpicore.alerts.message import alert_text, alert_title
from kpicore.config import parse_config

LRI, RLI, PDI = "\u2066", "\u2067", "\u2069"
FIRING = AlertState(
    alert="churn_spike",
    metric="churn_rate",
    when="churn_rate > 0.05",
    period="2026-W47",
    segment="East",
    firing=True,
    value=5.3,
    previous=2.1,
)


def _config(locale: str, currency: str = "USD"):
    return parse_config({"locale": locale, "currency": currency}, Path("/nonexistent/kpi.toml"))


def test_a_persian_alert_is_translated_and_its_numbers_isolated():
    text = alert_text(FIRING, "percent", _config("fa_IR", "IRR"), by="region")
    assert text.startswith("هشدار: ") and "پیش‌تر" in text, text
    for part in ("churn_spike", "2026-W47", "churn_rate > 0.05", "region = East"):
        assert f"{LRI}{part}{PDI}" in text, (part, text)
    numbers = [piece.split(PDI)[0] for piece in text.split(LRI)[1:]]
    assert any("5.3" in n or "۵٫۳" in n for n in numbers) and any(
        "2.1" in n or "۲٫۱" in n for n in numbers
    ), text
    cleared = alert_text(FIRING, "percent", _config("fa_IR", "IRR"), cleared=True, by="region")
    assert cleared.startswith("به حالت عادی برگشت: ") and f"{LRI}churn_spike{PDI}" in cleared
    assert alert_title("churn_spike", _config("fa_IR")) == f"هشدار {LRI}churn_spike{PDI}"


def test_a_bengali_alert_is_translated_and_left_to_right_text_is_not_isolated():
    text = alert_text(FIRING, "percent", _config("bn_BD", "BDT"), by="region")
    assert text.startswith("সতর্কতা: churn_spike (region = East), 2026-W47: churn_rate > 0.05 — "), text
    assert "আগে ছিল" in text and LRI not in text and RLI not in text
    unavailable = AlertState(
        "signups",
        "new_customers",
        "new_customers > 10",
        "2026-W47",
        None,
        False,
        None,
        reason="the source is down",
    )
    assert alert_text(unavailable, "count", _config("bn_BD")).endswith("অনুপলব্ধ: the source is down")


@pytest.mark.parametrize(
    ("locale", "fired", "cleared"),
    [
        ("en", "Alert: ", "Back to normal: "),
        ("ml_IN", "മുന്നറിയിപ്പ്: ", "സാധാരണ നിലയിലായി: "),
        ("ig_NG", "Ịdọ aka ná ntị: ", "Ọ laghachiri n'ọnọdụ nkịtị: "),
    ],
)
def test_every_catalog_has_the_alert_texts(locale, fired, cleared):
    config = _config(locale)
    assert alert_text(FIRING, "percent", config, by="region").startswith(fired)
    assert alert_text(FIRING, "percent", config, cleared=True, by="region").startswith(cleared)
    band = AlertState(
        "orders",
        "revenue",
        "revenue is unusual",
        "2026-W47",
        None,
        True,
        10.0,
        band={"low": 1.0, "high": 2.0},
    )
    assert "%(" not in alert_text(band, "count", config)
