"""After the sale: what the facts now owe the buyer, and which receivables it may put back.

One step, run whenever money moves on a tenant with sold portfolios (and at the close and
at put-back decisions): the portfolio's announcements are brought in line with the
facts, and each change becomes an event and its journal entry. Everything is derived
from the ledger and what the portfolio already announced, so it is order-independent and
running it twice announces nothing twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from debtsale.agreement import PutbackReason, RemittanceTerms
from debtsale.events import (
    AmountDueToBuyer,
    AmountDueWithdrawn,
    DomainEvent,
    PutbackCandidateFound,
    PutbackCandidateWithdrawn,
)
from debtsale.journal import (
    due_withdrawn_entry,
    paid_before_sale_entry,
    paid_before_sale_withdrawn_entry,
    payment_after_sale_entry,
)
from debtsale.ledger import Ledger
from debtsale.lifecycle import ExclusionReason, ReceivableState
from debtsale.money import Money
from debtsale.portfolio import Portfolio
from debtsale.remittance import (
    DueItem,
    amounts_due,
    paid_before_sale,
    settle_announcements,
    settle_candidates,
)

__all__ = [
    "FLAG_REASONS",
    "PutbackCandidate",
    "flag_candidate_events",
    "putback_candidates",
    "settle_after_sale",
]

_RETURNED = (ReceivableState.PUT_BACK, ReceivableState.REPLACED)

FLAG_REASONS: Mapping[ExclusionReason, PutbackReason] = {
    ExclusionReason.BANKRUPTCY: PutbackReason.BANKRUPTCY,
    ExclusionReason.DECEASED_GUARANTOR: PutbackReason.DECEASED,
    ExclusionReason.FRAUD: PutbackReason.FRAUD,
    ExclusionReason.ACTIVE_DISPUTE: PutbackReason.DISPUTE,
    ExclusionReason.TIME_BARRED: PutbackReason.TIME_BARRED,
}
"""Exclusion facts that, when they predate the closing, let the buyer put a receivable back."""


def settle_after_sale(
    portfolio: Portfolio,
    ledger: Ledger,
    terms: RemittanceTerms,
    on: date,
    items: list[DueItem] | None = None,
) -> list[DomainEvent]:
    """Announce and withdraw amounts due and paid-before-sale candidates; their entries.

    ``on`` dates withdrawals (when the payment changed on the platform); ``items`` are the
    amounts due now, when the caller computed them already. The returned events go to
    the outbox in the same commit as the portfolio.
    """
    if portfolio.closing is None:
        return []
    events: list[DomainEvent] = []
    due = amounts_due(portfolio, ledger, terms) if items is None else items
    dues = settle_announcements(portfolio, due, on)
    for held in dues.withdraw:
        events.append(
            AmountDueWithdrawn(
                portfolio_id=portfolio.id,
                receivable_id=held.receivable_id,
                source=held.source,
                amount=held.amount,
                edition=held.edition,
                withdrawn_on=on,
            )
        )
        events.append(due_withdrawn_entry(portfolio, held, on).as_event(portfolio.id))
    for held in dues.announce:
        events.append(
            AmountDueToBuyer(
                portfolio_id=portfolio.id,
                receivable_id=held.receivable_id,
                source=held.source,
                amount=held.amount,
                received_on=held.received_on,
                due_on=held.due_on,
                edition=held.edition,
            )
        )
        events.append(payment_after_sale_entry(portfolio, held).as_event(portfolio.id))
    found = settle_candidates(portfolio, paid_before_sale(portfolio, ledger, returned=True), on)
    reason = PutbackReason.PAID_BEFORE_SALE.value
    for candidate in found.withdraw:
        events.append(
            PutbackCandidateWithdrawn(
                portfolio_id=portfolio.id,
                receivable_id=candidate.receivable_id,
                reason=reason,
                source=candidate.source,
                amount=candidate.amount,
                edition=candidate.edition,
                withdrawn_on=on,
            )
        )
        events.append(
            paid_before_sale_withdrawn_entry(portfolio, candidate, on).as_event(portfolio.id)
        )
    for candidate in found.announce:
        events.append(
            PutbackCandidateFound(
                portfolio_id=portfolio.id,
                receivable_id=candidate.receivable_id,
                reason=reason,
                source=candidate.source,
                fact_date=candidate.paid_on,
                found_on=candidate.recorded_on,
                amount=candidate.amount,
                edition=candidate.edition,
            )
        )
        events.append(paid_before_sale_entry(portfolio, candidate).as_event(portfolio.id))
    return events


def flag_candidate_events(
    portfolio: Portfolio, receivable_id: str, reason: ExclusionReason, since: date
) -> list[DomainEvent]:
    """A flag recorded after the close whose fact predates it: a put-back candidate."""
    line = portfolio.lines.get(receivable_id)
    mapped = FLAG_REASONS.get(reason)
    if (
        mapped is None
        or portfolio.closing is None
        or line is None
        or not line.sold
        or line.state in _RETURNED
        or since > portfolio.closing
    ):
        return []
    return [
        PutbackCandidateFound(
            portfolio_id=portfolio.id,
            receivable_id=receivable_id,
            reason=mapped.value,
            source=f"flag:{reason.value}",
            fact_date=since,
            found_on=None,
        )
    ]


@dataclass(frozen=True, slots=True)
class PutbackCandidate:
    """A sold receivable the buyer may put back, and the fact that allows it."""

    receivable_id: str
    invoice_number: str
    customer_id: str
    reason: str
    source: str  # the payment ("payment:P9") or the flag ("flag:bankruptcy")
    fact_date: date
    found_on: date | None
    amount: Money | None  # the payment, for paid before sale
    state: str


def putback_candidates(
    portfolio: Portfolio,
    ledger: Ledger,
    flags: Mapping[str, Mapping[ExclusionReason, date]] | None = None,
) -> list[PutbackCandidate]:
    """Every open put-back candidate of a closed portfolio, by receivable.

    Paid before sale (payments dated by cut-off, recorded after the close) and exclusion
    facts dated by the closing but recorded after it; receivables already returned are
    left out; one with a request pending shows it in its state.
    """
    if portfolio.closing is None:
        return []
    found = []
    for item in paid_before_sale(portfolio, ledger):
        line = portfolio.lines[item.receivable_id]
        found.append(
            PutbackCandidate(
                receivable_id=item.receivable_id,
                invoice_number=line.invoice_number,
                customer_id=line.customer_id,
                reason=PutbackReason.PAID_BEFORE_SALE.value,
                source=item.source,
                fact_date=item.paid_on,
                found_on=item.recorded_on,
                amount=item.amount,
                state=line.state.value,
            )
        )
    for receivable_id, dated in sorted((flags or {}).items()):
        flagged = portfolio.lines.get(receivable_id)
        if flagged is None or not flagged.sold or flagged.state in _RETURNED:
            continue
        for reason, since in sorted(dated.items()):
            mapped = FLAG_REASONS.get(reason)
            if mapped is None or since > portfolio.closing:
                continue
            found.append(
                PutbackCandidate(
                    receivable_id=receivable_id,
                    invoice_number=flagged.invoice_number,
                    customer_id=flagged.customer_id,
                    reason=mapped.value,
                    source=f"flag:{reason.value}",
                    fact_date=since,
                    found_on=None,
                    amount=None,
                    state=flagged.state.value,
                )
            )
    return sorted(found, key=lambda c: (c.receivable_id, c.fact_date, c.source))
