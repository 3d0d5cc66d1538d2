"""A panel member hears that their involvement claim was approved (with the benefits guidance), not
approved (with the manager's reason), refused by their bank, and paid: in their inbox, and by email once they have an address."""

from datetime import UTC, datetime

from grants_shared.events import (
    InvolvementClaimApproved, InvolvementClaimPaid, InvolvementClaimRejected, InvolvementPaymentFailed,
    NotificationDelivered,
)  # fmt: skip
from notifications.config import Settings
from notifications.main import build_app
from tests.integration.notifications.builders import PROGRAMME, gbp, programme_known, reviewer, wait_for_inbox
from tests.integration.notifications.conftest import SmtpSink
from tests.support.app import serve
from tests.support.bus import TestBus

NOW = datetime(2026, 12, 2, 10, tzinfo=UTC)


async def test_a_member_is_told_of_each_step_of_their_claims_once(
    service_settings: Settings, bus: TestBus, running_sink: SmtpSink
) -> None:
    async with serve(build_app(service_settings)) as client:
        await programme_known(bus, client)
        member = reviewer(service_settings, "member-1")
        registered = await client.put("/v1/me/contact", headers=member, json={"email": "ali@panel.example", "name": "Ali"})
        assert registered.status_code == 201, registered.text
        approved = InvolvementClaimApproved(claim_id="clm-1", programme_id="prog-1", member_id="member-1", kind="time",
                                            amount=gbp(15_000), approved_at=NOW)  # fmt: skip
        await bus.publish(approved)
        await bus.publish(approved)  # announced again (a new event id): told once
        await wait_for_inbox(client, member, 1)
        await bus.publish(InvolvementClaimRejected(claim_id="clm-2", programme_id="prog-1", member_id="member-1",
                                                   kind="expenses", amount=gbp(1_250),
                                                   reason="The venue paid the fares"))  # fmt: skip
        await wait_for_inbox(client, member, 2)
        await bus.publish(InvolvementPaymentFailed(claim_id="clm-1", payment_id="inv-clm-1", programme_id="prog-1",
                                                   member_id="member-1", amount=gbp(15_000), failed_at=NOW))
        await wait_for_inbox(client, member, 3)
        await bus.publish(InvolvementClaimPaid(claim_id="clm-1", payment_id="inv-clm-1", programme_id="prog-1",
                                               member_id="member-1", amount=gbp(15_000), method="bank", paid_at=NOW))
        items = await wait_for_inbox(client, member, 4)
        assert [i["kind"] for i in items] == [
            "involvement_claim_paid", "involvement_payment_failed", "involvement_claim_rejected",
            "involvement_claim_approved",
        ]
        assert items[3]["subject"] == "Your involvement claim for £150.00 is approved"
        assert items[1]["subject"] == "We could not pay £150.00 into your bank account"
        assert items[0]["subject"] == "Your involvement claim of £150.00 is paid"
        assert await reviewer_inbox_is_empty(client, service_settings)

        await bus.wait_for(NotificationDelivered.type, 4, channel="email")
        emails = await running_sink.wait_for(4)
        texts = {e["Subject"]: e.get_body(("plain",)).get_content() for e in emails}
        approved_text = texts["Your involvement claim for £150.00 is approved"]
        assert "Citizens Advice" in approved_text and PROGRAMME in approved_text and "/panel/involvement" in approved_text
        assert "The venue paid the fares" in texts["Your involvement claim for £12.50 was not approved"]
        assert "to your bank account" in texts["Your involvement claim of £150.00 is paid"]
        refused = texts["We could not pay £150.00 into your bank account"]
        assert "save them again" in refused and "/panel/involvement" in refused


async def reviewer_inbox_is_empty(client, settings: Settings) -> bool:
    """Nobody else hears of a member's claims."""
    other = await client.get("/v1/inbox", headers=reviewer(settings, "member-2"))
    return other.json()["items"] == []
