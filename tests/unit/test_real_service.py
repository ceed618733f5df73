"""Pure pieces that meet the real service: delivery counts, error bodies, text length."""

from __future__ import annotations

import orjson

from engine.api.a2p import StatusCounts
from engine.api.answers import error_body
from engine.errors import AuthError, PermissionDenied
from engine.poller import delivery_counts
from engine.segments import text_length


def test_car_104_and_unreceipted_messages_are_pending_not_failed() -> None:
    stats = {
        "queued": {"count": 3, "cost": 0.0},
        "sent": {"count": 4, "cost": 0.028},
        "delivered": {"count": 90, "cost": 0.63},
        "deliveryFailed": {"count": 7, "cost": 0.049,
                           "errorCodeCounts": {"SMS-CAR-104": 2, "SMS-CAR-411": 5}},
        "sendingFailed": {"count": 1, "cost": 0.0, "errorCodeCounts": {"SMS-RC-413": 1}},
    }
    counts = delivery_counts(StatusCounts.parse(stats))
    assert (counts.delivered, counts.failed, counts.pending) == (90, 6, 9)
    assert counts.codes == {"SMS-CAR-104": 2, "SMS-CAR-411": 5, "SMS-RC-413": 1}
    assert delivery_counts(StatusCounts.parse({})).pending == 0
    assert StatusCounts.parse({"queued": {"count": "x"}, "sent": None}) == StatusCounts()


def test_the_specific_code_is_read_from_errors_when_the_top_one_is_a_category() -> None:
    body = {"errorCode": "InvalidParameter", "message": "Parameter is invalid",
            "errors": [{"errorCode": "CMN-101", "message": "Parameter [from] value is invalid."}]}
    assert error_body(orjson.dumps(body)) == ("CMN-101", "Parameter [from] value is invalid.")
    asg = {"errorCode": "CMN-301", "message": "Request rate exceeded",
           "errors": [{"errorCode": "CMN-301", "message": "Request rate exceeded"}]}
    assert error_body(orjson.dumps(asg)) == ("CMN-301", "Request rate exceeded")
    oauth = {"error": "invalid_client", "error_description": "Invalid client",
             "errors": [{"errorCode": "OAU-123", "message": "Invalid client"}]}
    assert error_body(orjson.dumps(oauth)) == ("OAU-123", "Invalid client")


def test_a_missing_permission_is_one_line_naming_it_and_stops_like_a_401() -> None:
    err = PermissionDenied("CMN-401", endpoint="createA2PSMS")
    assert isinstance(err, AuthError) and err.status == 403
    assert "\n" not in str(err)
    assert str(err).startswith("HTTP 403 from createA2PSMS: CMN-401: the app lacks the A2P SMS "
                               "permission")


def test_text_length_counts_utf16_units_never_fewer_than_code_points() -> None:
    assert text_length("hello") == 5
    assert text_length("Привет") == 6
    assert text_length("\U0001F600") == 2
    assert text_length("a\U0001F600é") == 4
