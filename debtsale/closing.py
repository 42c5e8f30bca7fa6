"""The close: each receivable reconciled from cut-off to closing under the agreement's policy.

Payments and credits effective on or before cut-off but not counted at the cut restate
the face (any policy); between cut-off and closing, credits always reduce the face and
payments follow the cut-off policy (DOMAIN rule 3); an exclusion or a void removes the
receivable. Each application is recorded with how it was treated, so money that arrives
after the sale can be told apart (rule 4).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date
from typing import TYPE_CHECKING

from debtsale.agreement import ALWAYS_EXCLUDED, Agreement, CutoffPolicy
from debtsale.errors import RuleViolation
from debtsale.events import PortfolioClosed
from debtsale.ledger import Application, ApplicationKind, Ledger, Receivable
from debtsale.lifecycle import ExclusionReason
from debtsale.lines import Adjustment, PortfolioLine, PortfolioStatus, S, Treatment
from debtsale.money import Money, total

if TYPE_CHECKING:
    from debtsale.portfolio import Portfolio

__all__ = ["close"]


def close(
    portfolio: Portfolio,
    agreement: Agreement,
    ledger: Ledger,
    closing: date,
    *,
    flags: Mapping[str, Collection[ExclusionReason]] | None = None,
    allowances: Mapping[str, Money] | None = None,
) -> None:
    """Reconcile to ``closing`` under the agreement's cut-off policy and sell.

    Payments and credits effective on or before cut-off but not counted at the cut
    restate the face (any policy). Between cut-off and closing, credits always
    reduce the face; payments follow the policy (rule 3). An exclusion flag or a
    void removes the receivable.
    """
    portfolio.require_live("close")
    if agreement.id != portfolio.agreement_id:
        raise RuleViolation(
            "portfolio.agreement",
            f"portfolio {portfolio.id} is under {portfolio.agreement_id}, not {agreement.id}",
        )
    if closing < portfolio.cutoff:
        raise RuleViolation(
            "portfolio.closing_after_cutoff",
            f"closing {closing} is before the cut-off {portfolio.cutoff}",
        )
    flags = flags or {}
    allowances = allowances or {}
    for receivable_id, line in sorted(portfolio.lines.items()):
        if line.state is not S.IN_PORTFOLIO:
            continue
        receivable = ledger.receivable(receivable_id)
        exclusion = _exclusion(receivable, flags.get(receivable_id, ()))
        if exclusion is not None:
            portfolio.remove_line(line, exclusion)
            continue
        assert receivable is not None
        _reconcile(portfolio, line, receivable, agreement.cutoff_policy, closing)
        if line.state is S.IN_PORTFOLIO:
            line.allowance = allowances.get(receivable_id, Money.zero(portfolio.currency))
            line.move(S.SOLD)
    portfolio.status = PortfolioStatus.CLOSED
    portfolio.closing = closing
    portfolio.events.append(
        PortfolioClosed(
            portfolio_id=portfolio.id,
            agreement_id=portfolio.agreement_id,
            closing=closing,
            count=len(portfolio.sold_lines()),
            face=portfolio.total_face,
            price=portfolio.total_price,
            loss_on_sale=portfolio.loss_on_sale,
        )
    )


def _exclusion(receivable: Receivable | None, flags: Collection[ExclusionReason]) -> str | None:
    if receivable is None or receivable.removal is not None:
        return ExclusionReason.VOIDED.value
    found = sorted(flag.value for flag in set(flags) & ALWAYS_EXCLUDED)
    return found[0] if found else None


def _reconcile(
    portfolio: Portfolio,
    line: PortfolioLine,
    receivable: Receivable,
    policy: CutoffPolicy,
    closing: date,
) -> None:
    zero = Money.zero(portfolio.currency)
    restated = receivable.face_on(portfolio.cutoff)
    if restated != line.face_at_cutoff:
        line.adjustments.append(
            Adjustment("restated", Treatment.RESTATED, restated - line.face_at_cutoff, zero)
        )
    between = [a for a in receivable.applications if portfolio.cutoff < a.effective <= closing]
    credits = [a for a in between if a.kind is ApplicationKind.CREDIT]
    payments = [a for a in between if a.kind is ApplicationKind.PAYMENT]
    face = restated
    for credit in credits:  # a credit is not money: it always lowers the claim
        effect = -(credit.amount.min(face))
        face = face + effect
        line.adjustments.append(_adjust(credit, Treatment.REDUCED_FACE, effect, zero))
    paid = total((p.amount for p in payments), portfolio.currency)
    buyer_keeps_payments = policy is CutoffPolicy.REMIT or (
        policy is CutoffPolicy.REMOVE_IF_PAID and paid < face
    )
    for payment in payments:
        if buyer_keeps_payments:  # face unchanged, the money is owed to the buyer
            line.adjustments.append(_adjust(payment, Treatment.OWED_TO_BUYER, zero, payment.amount))
        else:  # reduce_face, or remove_if_paid with the receivable paid in full
            effect = -(payment.amount.min(face))
            face = face + effect
            line.adjustments.append(_adjust(payment, Treatment.REDUCED_FACE, effect, zero))
    line.accounted_at_close = {
        a.key: (_treatment_of(portfolio, line, a), a.amount)
        for a in receivable.applications
        if a.effective <= closing
    }
    if face.is_zero:
        portfolio.remove_line(line, ExclusionReason.PAID_IN_FULL.value)
        return
    line.final_face = face
    line.price = face.times(line.rate)


def _adjust(
    application: Application, treatment: Treatment, effect: Money, owed: Money
) -> Adjustment:
    return Adjustment(
        application.key, treatment, effect, owed, application.effective, application.recorded
    )


def _treatment_of(portfolio: Portfolio, line: PortfolioLine, application: Application) -> Treatment:
    for adjustment in line.adjustments:
        if adjustment.source == application.key:
            return adjustment.treatment
    if application.effective <= portfolio.cutoff:
        counted = line.counted_at_cutoff.get(application.key)
        return Treatment.IN_FACE if counted == application.amount else Treatment.RESTATED
    return Treatment.OWED_TO_BUYER
