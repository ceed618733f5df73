"""RingCentral's SMS error codes: what each means and whether it is permanent (pure).

From RingCentral's developer guide ("Handling SMS Messaging Errors" and the
High Volume SMS error list). A code is

- ``permanent``: about the number itself (invalid, landline, opted out);
  sending to it again fails again, so it belongs on the next suppression list;
- ``temporary``: about this send (carrier caps, spam filtering of this text,
  a provider failure); the same number may well get the next message;
- ``unknown``: the carrier reported no final status (SMS-CAR-104/199); the
  message may have been delivered: it is pending, neither retried nor suppressed.
"""

from __future__ import annotations

from typing import Final, Literal, NamedTuple

__all__ = ["PENDING_CODES", "PERMANENT", "TEMPORARY", "UNKNOWN", "CodeInfo", "describe",
           "parse_codes"]

Kind = Literal["permanent", "temporary", "unknown"]
PERMANENT: Final[Kind] = "permanent"
TEMPORARY: Final[Kind] = "temporary"
UNKNOWN: Final[Kind] = "unknown"


class CodeInfo(NamedTuple):
    code: str
    kind: Kind
    label: str  # a few words, for reasons such as "SMS-CAR-411 invalid or landline"
    description: str  # RingCentral's own wording

    @property
    def permanent(self) -> bool:
        return self.kind == PERMANENT


_P: Final[Kind] = PERMANENT
_T: Final[Kind] = TEMPORARY
_U: Final[Kind] = UNKNOWN

_TABLE: Final[dict[str, tuple[Kind, str, str]]] = {
    "SMS-RC-403": (_T, "account limit", "Message rejected due to exceeding daily/monthly limits."),
    "SMS-RC-410": (_P, "unsupported number", "Destination number unsupported."),
    "SMS-RC-413": (_P, "opted out", "The destination subscriber opted out."),
    "SMS-RC-430": (_T, "spam filter", ("Filtered and blocked by RingCentral's message filtering "
                                      "system for spam.")),
    "SMS-RC-500": (_T, "RingCentral error", "General/Unknown internal RC error."),
    "SMS-RC-501": (_T, "RingCentral error", "RingCentral is sending an invalid upstream API call."),
    "SMS-RC-503": (_T, "provisioning error", ("RingCentral provisioning error. Phone number is "
                                             "incorrectly provisioned by RingCentral in upstream.")),
    "SMS-RC-504": (_T, "provisioning error", ("RC provisioning error. Invalid SMS provider "
                                             "configuration.")),
    "SMS-UP-410": (_P, "invalid or landline", ("Destination number invalid, unallocated, or does "
                                              "not support this kind of messaging.")),
    "SMS-UP-411": (_P, "invalid number", "Destination number invalid or unavailable."),
    "SMS-UP-412": (_P, "invalid number", "Destination number invalid or unavailable."),
    "SMS-UP-413": (_P, "opted out", "The destination subscriber opted out."),
    "SMS-UP-414": (_T, "sender not set up", ("This phone number is not set up to send text "
                                            "messages.")),
    "SMS-UP-430": (_T, "spam filter", "The message may contain spam content."),
    "SMS-UP-431": (_T, "sender flagged", "This number has been flagged for potential spam."),
    "SMS-UP-432": (_T, "text too long", ("Content length exceeded maximum supported request "
                                        "size.")),
    "SMS-UP-433": (_T, "revise text", "The message couldn't be delivered as written."),
    "SMS-UP-500": (_T, "upstream error", "General upstream error. Upstream is malfunctioning."),
    "SMS-CAR-104": (_U, "no delivery status", "Carrier has not reported delivery status."),
    "SMS-CAR-199": (_U, "unknown status", "Carrier reports unknown message status."),
    "SMS-CAR-400": (_P, "no SMS support", "Carrier does not support this kind of messaging."),
    "SMS-CAR-410": (_T, "expired", "Message was expired/canceled before reaching SMSC."),
    "SMS-CAR-411": (_P, "invalid or landline", ("Destination number invalid, unallocated, or does "
                                               "not support this kind of messaging.")),
    "SMS-CAR-412": (_P, "subscriber unavailable", "Destination subscriber unavailable."),
    "SMS-CAR-413": (_P, "opted out", "The destination subscriber opted out."),
    "SMS-CAR-414": (_T, "sender invalid", "Source number is invalid."),
    "SMS-CAR-430": (_T, "spam filter", "Filtered and blocked by a recipient's carrier for spam."),
    "SMS-CAR-431": (_T, "carrier rejected", ("Message rejected by carrier with no specific "
                                            "reason.")),
    "SMS-CAR-432": (_T, "text too long", "Message too long."),
    "SMS-CAR-433": (_T, "malformed", "Message is malformed for the carrier."),
    "SMS-CAR-434": (_T, "media too large", "Rejected as media size is too large."),
    "SMS-CAR-435": (_T, "shortened URL", "Rejected due to shortened url."),
    "SMS-CAR-450": (_T, "carrier cap", ("T-Mobile rejected this SMS: over the daily limit for "
                                       "the 10DLC brand.")),
    "SMS-CAR-451": (_T, "carrier cap", ("AT&T rejected this SMS: over the daily limit for the "
                                       "10DLC campaign.")),
    "SMS-CAR-452": (_T, "carrier cap", "Carriers rejected this SMS: over the allotted limit."),
    "SMS-CAR-460": (_T, "short code", "Destination rejected short code messaging."),
    "SMS-CAR-461": (_T, "unverified toll-free", ("Blocked by carriers: the toll-free number is "
                                                "not verified.")),
    "SMS-CAR-500": (_T, "carrier failure", "Carrier reports general service failure."),
}


# A DeliveryFailed with one of these is not a failure yet: the carrier gave no
# final status ("check the message status again after an hour"). Pending.
PENDING_CODES: Final = frozenset(c for c, (kind, _, _) in _TABLE.items() if kind == UNKNOWN)


def describe(code: str | None) -> CodeInfo:
    """What `code` means; an unlisted code is temporary (never suppress on a guess)."""
    code = (code or "").strip()
    found = _TABLE.get(code)
    if found is not None:
        return CodeInfo(code, *found)
    if not code:
        return CodeInfo("", TEMPORARY, "no error code", "The API gave no error code.")
    return CodeInfo(code, TEMPORARY, "unlisted code", "Not in RingCentral's published list.")


def parse_codes(text: str | None) -> dict[str, int]:
    """A journal's error codes, "CODE=n,CODE=n", as a dict."""
    out: dict[str, int] = {}
    for part in (text or "").split(","):
        code, eq, n = part.partition("=")
        if eq and n.isdigit():
            out[code] = int(n)
    return out
