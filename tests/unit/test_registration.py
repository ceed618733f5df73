"""What a number may send, and when a job stops early (pure)."""

from __future__ import annotations

from engine.early_stop import FirstResults, parse_codes
from engine.registration import NumberConfig, daily_caps, parse_config, refusal

ANSWER = {"phoneNumberId": "1", "phoneNumber": "+16501112345",
          "smsCampaignInfo": {"id": "2008", "status": "Confirmed",
                              "registrationTier": "LowVolume",
                              "useCases": ["CustomerCare", "Marketing"]},
          "smsBrandInfo": {"id": "1008", "status": "Verified"}}


def test_the_guides_sample_answer_parses_and_may_send() -> None:
    cfg = parse_config("+16501112345", ANSWER, toll_free=False)
    assert (cfg.campaign, cfg.tier, cfg.use_cases) == ("Confirmed", "LowVolume",
                                                       ("CustomerCare", "Marketing"))
    assert refusal(cfg) is None


def test_unconfirmed_unlinked_and_unverified_are_refused() -> None:
    assert "Submitted" in (refusal(NumberConfig("+1", False, "Submitted")) or "")
    assert "no TCR campaign" in (refusal(parse_config("+1", {}, toll_free=False)) or "")
    assert "SMS-CAR-461" in (refusal(NumberConfig("+1888", True, "Unconfirmed")) or "")
    assert refusal(parse_config("+1888", {}, toll_free=True)) is None  # not said: may send


def test_caps_by_tier_and_a_daily_cap_only_lowers() -> None:
    configs = {"+1a": NumberConfig("+1a", False, "Confirmed", "LowVolume"),
               "+1b": NumberConfig("+1b", False, "Confirmed", "StandardVolume")}
    assert daily_caps(["+1a", "+1b", "+1c"], configs) == {
        "+1a": 6_000, "+1b": 250_000, "+1c": 250_000}
    assert daily_caps(["+1a", "+1b"], configs, 10_000) == {"+1a": 6_000, "+1b": 10_000}


def test_a_number_wide_code_stops_at_once_and_a_high_share_after_the_first_thousand() -> None:
    first = FirstResults()
    stop = first.add("+1a", 500, 3, parse_codes("SMS-CAR-411=2,SMS-CAR-430=1"))
    assert stop is not None and stop.code == "SMS-CAR-430" and stop.number_wide
    share = FirstResults()
    assert share.add("+1b", 600, 60, {"SMS-CAR-411": 60}) is None  # not 1,000 yet
    late = share.add("+1b", 600, 10, {"SMS-CAR-411": 10})
    assert late is not None and not late.number_wide and late.share == 70 / 1200
    assert share.add("+1b", 600, 600, {"SMS-CAR-411": 600}) is None  # judged once
    calm = FirstResults()
    assert calm.add("+1c", 2000, 40, {"SMS-CAR-104": 500, "SMS-CAR-411": 40}) is None
