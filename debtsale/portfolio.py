"""The portfolio: receivables cut at a frozen face, closed at a final price, then sold.

Cut freezes each selected receivable's face at the cut-off date (DOMAIN rule 2) and
prices it (rule 1). Close reconciles what happened between cut-off and closing under
the agreement's cut-off policy (rule 3) and records, per application, how it was
treated, so payments that arrive after the sale can be told apart (rule 4).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from debtsale.agreement import ALWAYS_EXCLUDED, Agreement, CutoffPolicy
from debtsale.eligibility import Eligibility, assess
from debtsale.errors import RuleViolation
from debtsale.events import (
    DomainEvent,
    PortfolioClosed,
    PortfolioCut,
    PutbackAccepted,
    PutbackRejected,
    PutbackRequested,
    ReceivableRemoved,
    RemittanceRecorded,
)
from debtsale.ledger import Application, ApplicationKind, Ledger, Receivable
from debtsale.lifecycle import HELD, ExclusionReason, ReceivableState, check_transition
from debtsale.money import Money, total
from debtsale.putback import (
    PutbackDecision,
    PutbackRecord,
    PutbackRequest,
    PutbackStatus,
    check_request,
    refund_for,
)
from debtsale.statute import StatuteTable

__all__ = [
    "Adjustment",
    "AnnouncedCandidate",
    "AnnouncedDue",
    "Portfolio",
    "PortfolioLine",
    "PortfolioStatus",
    "Remittance",
    "Treatment",
]

S = ReceivableState


class PortfolioStatus(StrEnum):
    """A portfolio is cut (live, changeable) and then closed (sold)."""

    CUT = "cut"
    CLOSED = "closed"


class Treatment(StrEnum):
    """How an application between cut-off and closing was reconciled."""

    IN_FACE = "in_face"  # counted in the face at cut-off
    RESTATED = "restated"  # effective by cut-off, recorded after the cut: face restated
    REDUCED_FACE = "reduced_face"  # face and price dropped by it
    OWED_TO_BUYER = "owed_to_buyer"  # face unchanged; the money is the buyer's
    REMOVED = "removed"  # the receivable left the sale


@dataclass(frozen=True, slots=True)
class Adjustment:
    """One change between the frozen face and the final face, or money owed instead."""

    source: str  # application key ("payment:P1"), or "removal"
    treatment: Treatment
    face_effect: Money  # what it did to the face (≤ 0 for payments)
    owed_to_buyer: Money  # what of it belongs to the buyer
    effective: date | None = None
    recorded: date | None = None


@dataclass(frozen=True, slots=True)
class Remittance:
    """A payment from the seller to the buyer of what was collected for it."""

    remittance_id: str
    paid_on: date
    amount: Money


@dataclass(frozen=True, slots=True)
class AnnouncedDue:
    """An amount the seller announced as owed to the buyer, as last announced.

    ``edition`` counts announcements of the same payment (0 first); a payment voided,
    deleted or changed is withdrawn, and announced again under the next edition if it
    comes back, so every announcement and withdrawal has an id of its own.
    """

    receivable_id: str
    source: str
    amount: Money
    received_on: date
    due_on: date
    edition: int = 0
    withdrawn: bool = False
    withdrawn_on: date | None = None


@dataclass(frozen=True, slots=True)
class AnnouncedCandidate:
    """A payment dated by cut-off that the sale did not see, as last announced.

    It makes its receivable a *paid before sale* put-back candidate, and its journal
    entry moves the platform's receivable credit against the loss on sale. Editions and
    withdrawals work as for ``AnnouncedDue``.
    """

    receivable_id: str
    source: str
    amount: Money
    paid_on: date
    recorded_on: date
    edition: int = 0
    withdrawn: bool = False
    withdrawn_on: date | None = None


@dataclass
class PortfolioLine:
    """One receivable in one portfolio, from cut to its final state."""

    receivable_id: str
    customer_id: str
    invoice_number: str
    face_at_cutoff: Money
    rate: Decimal
    cohort: tuple[str, str, str]
    counted_at_cutoff: dict[str, Money]
    state: ReceivableState = S.IN_PORTFOLIO
    reason: str | None = None
    adjustments: list[Adjustment] = field(default_factory=list)
    final_face: Money | None = None
    price: Money | None = None
    allowance: Money | None = None
    accounted_at_close: dict[str, tuple[Treatment, Money]] = field(default_factory=dict)
    replaces: str | None = None
    returned_on: date | None = None  # put back or replaced: later payments are the seller's
    days_past_due: int | None = None  # at the cut-off (at the decision, for a replacement)

    @property
    def currency(self) -> str:
        """The line's currency (the portfolio's)."""
        return self.face_at_cutoff.currency

    @property
    def price_at_cutoff(self) -> Money:
        """Rule 1: ``round_half_even(rate × face_at_cutoff)``."""
        return self.face_at_cutoff.times(self.rate)

    @property
    def face_adjustments(self) -> Money:
        """The sum of the adjustments' effects on face."""
        return total((a.face_effect for a in self.adjustments), self.currency)

    @property
    def owed_to_buyer_at_close(self) -> Money:
        """Money received between cut-off and closing that the buyer is owed."""
        return total((a.owed_to_buyer for a in self.adjustments), self.currency)

    @property
    def sold(self) -> bool:
        """True once the line was sold (whatever happened after)."""
        return self.final_face is not None and self.state not in (S.REMOVED, S.IN_PORTFOLIO)

    def move(self, target: ReceivableState, reason: str | None = None) -> None:
        """Move along the lifecycle; an illegal move raises naming the rule."""
        check_transition(self.state, target, self.receivable_id)
        self.state = target
        if reason is not None:
            self.reason = reason


@dataclass
class Portfolio:
    """A sale of receivables to one buyer under one agreement."""

    id: str
    tenant: str
    agreement_id: str
    currency: str
    cutoff: date
    lines: dict[str, PortfolioLine]
    status: PortfolioStatus = PortfolioStatus.CUT
    closing: date | None = None
    putbacks: dict[str, PutbackRecord] = field(default_factory=dict)
    remittances: dict[str, Remittance] = field(default_factory=dict)
    announced_dues: dict[str, AnnouncedDue] = field(default_factory=dict)
    announced_candidates: dict[str, AnnouncedCandidate] = field(default_factory=dict)
    events: list[DomainEvent] = field(default_factory=list, repr=False)
    version: int = field(default=0, compare=False)
    """The store's version of this portfolio when it was read (0: never stored). The store
    saves only over that same version, so a change based on a stale read is refused."""

    # ------------------------------------------------------------------ cut
    @classmethod
    def cut(
        cls,
        portfolio_id: str,
        agreement: Agreement,
        ledger: Ledger,
        cutoff: date,
        *,
        statute: StatuteTable | None = None,
        flags: Mapping[str, Collection[ExclusionReason]] | None = None,
        taken: Collection[str] = (),
        assessments: list[Eligibility] | None = None,
    ) -> Portfolio:
        """Select every eligible receivable on ``cutoff`` and freeze its face.

        ``taken`` holds receivables already in a live portfolio (never selected twice);
        ``flags`` the exclusion facts per receivable. Each verdict, eligible or not, is
        appended to ``assessments`` when a list is given.
        """
        statute = statute or StatuteTable.shipped()
        flags = flags or {}
        lines: dict[str, PortfolioLine] = {}
        for receivable in ledger.receivables():
            if receivable.id in taken:
                continue
            verdict = assess(
                receivable,
                ledger.profile(receivable.customer_id),
                agreement,
                cutoff,
                statute,
                flags.get(receivable.id, ()),
            )
            if assessments is not None:
                assessments.append(verdict)
            if not verdict.eligible:
                continue
            assert verdict.rate is not None
            assert verdict.segment is not None
            check_transition(S.OPEN, S.ELIGIBLE, receivable.id)
            check_transition(S.ELIGIBLE, S.IN_PORTFOLIO, receivable.id)
            lines[receivable.id] = PortfolioLine(
                receivable_id=receivable.id,
                customer_id=receivable.customer_id,
                invoice_number=receivable.number,
                face_at_cutoff=receivable.face_on(cutoff),
                rate=verdict.rate,
                cohort=verdict.segment.cohort,
                days_past_due=receivable.days_past_due(cutoff),
                counted_at_cutoff={
                    a.key: a.amount for a in receivable.applications if a.effective <= cutoff
                },
            )
        portfolio = cls(
            portfolio_id, ledger.tenant, agreement.id, agreement.currency, cutoff, lines
        )
        portfolio.events.append(
            PortfolioCut(
                portfolio_id=portfolio_id,
                agreement_id=agreement.id,
                cutoff=cutoff,
                count=len(lines),
                face=portfolio.total_face_at_cutoff,
                price=portfolio.total_price_at_cutoff,
            )
        )
        return portfolio

    # ------------------------------------------------------------------ reading
    def line(self, receivable_id: str) -> PortfolioLine:
        """The line of a receivable; one not in this portfolio is a rule violation."""
        try:
            return self.lines[receivable_id]
        except KeyError:
            raise RuleViolation(
                "portfolio.member", f"receivable {receivable_id} is not in portfolio {self.id}"
            ) from None

    def held(self) -> frozenset[str]:
        """Receivables this portfolio holds (live or sold): no other portfolio may take them."""
        return frozenset(rid for rid, line in self.lines.items() if line.state in HELD)

    def _sum(self, amounts: Iterable[Money]) -> Money:
        return total(amounts, self.currency)

    @property
    def live(self) -> bool:
        """A cut portfolio not yet closed."""
        return self.status is PortfolioStatus.CUT

    @property
    def total_face_at_cutoff(self) -> Money:
        """Σ face at cut-off of every line."""
        return self._sum(line.face_at_cutoff for line in self.lines.values())

    @property
    def total_price_at_cutoff(self) -> Money:
        """Σ receivable prices at cut-off (rule 1: never recomputed from the total)."""
        return self._sum(line.price_at_cutoff for line in self.lines.values())

    def sold_lines(self, *, replacements: bool = False) -> list[PortfolioLine]:
        """Lines sold at close, in receivable order (with replacements given later if asked)."""
        return [
            line
            for _, line in sorted(self.lines.items())
            if line.sold and (replacements or line.replaces is None)
        ]

    @property
    def total_face(self) -> Money:
        """Σ final face of the sold receivables."""
        return self._sum(
            line.final_face for line in self.sold_lines() if line.final_face is not None
        )

    @property
    def total_price(self) -> Money:
        """Rule 1: the portfolio price is the sum of receivable prices."""
        return self._sum(line.price for line in self.sold_lines() if line.price is not None)

    @property
    def total_allowance(self) -> Money:
        """Σ specific allowance carried against the sold receivables."""
        return self._sum(line.allowance for line in self.sold_lines() if line.allowance is not None)

    @property
    def loss_on_sale(self) -> Money:
        """Rule 7: carrying amount (face − allowance) − price, booked at close."""
        return self.total_face - self.total_allowance - self.total_price

    # ------------------------------------------------------------------ before close
    def _require_live(self, action: str) -> None:
        if not self.live:
            raise RuleViolation(
                "portfolio.closed", f"cannot {action}: portfolio {self.id} is already closed"
            )

    def remove(self, receivable_id: str, reason: ExclusionReason | str) -> None:
        """Drop a receivable before closing, with the reason."""
        self._require_live("remove a receivable")
        self._remove_line(self.line(receivable_id), str(reason))

    # ------------------------------------------------------------------ close
    def close(
        self,
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
        self._require_live("close")
        if agreement.id != self.agreement_id:
            raise RuleViolation(
                "portfolio.agreement",
                f"portfolio {self.id} is under {self.agreement_id}, not {agreement.id}",
            )
        if closing < self.cutoff:
            raise RuleViolation(
                "portfolio.closing_after_cutoff",
                f"closing {closing} is before the cut-off {self.cutoff}",
            )
        flags = flags or {}
        allowances = allowances or {}
        for receivable_id, line in sorted(self.lines.items()):
            if line.state is not S.IN_PORTFOLIO:
                continue
            receivable = ledger.receivable(receivable_id)
            exclusion = self._exclusion(receivable, flags.get(receivable_id, ()))
            if exclusion is not None:
                self._remove_line(line, exclusion)
                continue
            assert receivable is not None
            self._reconcile(line, receivable, agreement.cutoff_policy, closing)
            if line.state is S.IN_PORTFOLIO:
                line.allowance = allowances.get(receivable_id, Money.zero(self.currency))
                line.move(S.SOLD)
        self.status = PortfolioStatus.CLOSED
        self.closing = closing
        self.events.append(
            PortfolioClosed(
                portfolio_id=self.id,
                agreement_id=self.agreement_id,
                closing=closing,
                count=len(self.sold_lines()),
                face=self.total_face,
                price=self.total_price,
                loss_on_sale=self.loss_on_sale,
            )
        )

    @staticmethod
    def _exclusion(receivable: Receivable | None, flags: Collection[ExclusionReason]) -> str | None:
        if receivable is None or receivable.removal is not None:
            return ExclusionReason.VOIDED.value
        found = sorted(flag.value for flag in set(flags) & ALWAYS_EXCLUDED)
        return found[0] if found else None

    def _remove_line(self, line: PortfolioLine, reason: str) -> None:
        check_transition(line.state, S.REMOVED, line.receivable_id)
        line.adjustments.append(
            Adjustment(
                "removal",
                Treatment.REMOVED,
                -(line.face_at_cutoff + line.face_adjustments),
                Money.zero(self.currency),
            )
        )
        line.move(S.REMOVED, reason)
        self.events.append(
            ReceivableRemoved(portfolio_id=self.id, receivable_id=line.receivable_id, reason=reason)
        )

    def _reconcile(
        self, line: PortfolioLine, receivable: Receivable, policy: CutoffPolicy, closing: date
    ) -> None:
        zero = Money.zero(self.currency)
        restated = receivable.face_on(self.cutoff)
        if restated != line.face_at_cutoff:
            line.adjustments.append(
                Adjustment("restated", Treatment.RESTATED, restated - line.face_at_cutoff, zero)
            )
        between = [a for a in receivable.applications if self.cutoff < a.effective <= closing]
        credits = [a for a in between if a.kind is ApplicationKind.CREDIT]
        payments = [a for a in between if a.kind is ApplicationKind.PAYMENT]
        face = restated
        for credit in credits:  # a credit is not money: it always lowers the claim
            effect = -(credit.amount.min(face))
            face = face + effect
            line.adjustments.append(self._adjust(credit, Treatment.REDUCED_FACE, effect, zero))
        paid = total((p.amount for p in payments), self.currency)
        buyer_keeps_payments = policy is CutoffPolicy.REMIT or (
            policy is CutoffPolicy.REMOVE_IF_PAID and paid < face
        )
        for payment in payments:
            if buyer_keeps_payments:  # face unchanged, the money is owed to the buyer
                line.adjustments.append(
                    self._adjust(payment, Treatment.OWED_TO_BUYER, zero, payment.amount)
                )
            else:  # reduce_face, or remove_if_paid with the receivable paid in full
                effect = -(payment.amount.min(face))
                face = face + effect
                line.adjustments.append(self._adjust(payment, Treatment.REDUCED_FACE, effect, zero))
        line.accounted_at_close = {
            a.key: (self._treatment_of(line, a), a.amount)
            for a in receivable.applications
            if a.effective <= closing
        }
        if face.is_zero:
            self._remove_line(line, ExclusionReason.PAID_IN_FULL.value)
            return
        line.final_face = face
        line.price = face.times(line.rate)

    @staticmethod
    def _adjust(
        application: Application, treatment: Treatment, effect: Money, owed: Money
    ) -> Adjustment:
        return Adjustment(
            application.key, treatment, effect, owed, application.effective, application.recorded
        )

    def _treatment_of(self, line: PortfolioLine, application: Application) -> Treatment:
        for adjustment in line.adjustments:
            if adjustment.source == application.key:
                return adjustment.treatment
        if application.effective <= self.cutoff:
            counted = line.counted_at_cutoff.get(application.key)
            return Treatment.IN_FACE if counted == application.amount else Treatment.RESTATED
        return Treatment.OWED_TO_BUYER

    # ------------------------------------------------------------------ put-backs
    @property
    def refunds(self) -> Money:
        """Σ refunds of accepted put-backs."""
        return self._sum(
            r.decision.refund
            for r in self.putbacks.values()
            if r.decision.status is PutbackStatus.ACCEPTED and r.decision.refund is not None
        )

    @property
    def net_proceeds(self) -> Money:
        """Rule 7: portfolio price − refunds."""
        return self.total_price - self.refunds

    def _reject(
        self,
        request: PutbackRequest,
        rule: str,
        detail: str,
        line: PortfolioLine | None,
        *,
        keep: bool = True,
    ) -> PutbackDecision:
        decision = PutbackDecision(
            request.request_id,
            PutbackStatus.REJECTED,
            rule,
            detail,
            decided_on=request.requested_on,
        )
        if not keep:
            return decision
        self.putbacks[request.request_id] = PutbackRecord(request, decision)
        if line is not None and line.state in (S.SOLD, S.PUTBACK_REJECTED):
            line.move(S.PUTBACK_REQUESTED)
            line.move(S.PUTBACK_REJECTED, rule)
        self._announce_rejection(request, rule, detail)
        return decision

    def _announce_rejection(self, request: PutbackRequest, rule: str, detail: str) -> None:
        self.events.append(
            PutbackRejected(
                portfolio_id=self.id,
                request_id=request.request_id,
                receivable_id=request.receivable_id,
                rule=rule,
                detail=detail,
            )
        )

    def _cap_exceeded(self, agreement: Agreement, refund: Money) -> str | None:
        cap = agreement.putback.cap_percent
        if cap is None:
            return None
        limit = self.total_price.times(cap / 100)
        if self.refunds + refund > limit:
            return (
                f"refunds would reach {self.refunds + refund}, over the cap of {cap} % "
                f"of the portfolio price ({limit})"
            )
        return None

    def request_putback(
        self,
        request: PutbackRequest,
        agreement: Agreement,
        collections: Money | None = None,
        *,
        keep_rejection: bool = True,
    ) -> PutbackDecision:
        """Check a request against the agreement (rule 5); pending if it passes.

        ``collections`` is what the buyer already received on the receivable through the
        seller (amounts due to it). The same request id again returns the first answer.
        With ``keep_rejection=False`` a rejected request leaves the portfolio untouched
        (no record, no event): the caller keeps it elsewhere (lines of buyers' files).
        """
        if request.request_id in self.putbacks:
            return self.putbacks[request.request_id].decision
        keep = keep_rejection
        if self.closing is None:
            return self._reject(
                request,
                "putback.portfolio_closed",
                f"portfolio {self.id} is not closed",
                None,
                keep=keep,
            )
        line = self.lines.get(request.receivable_id)
        if line is None or not line.sold:
            return self._reject(
                request,
                "putback.receivable_sold",
                f"receivable {request.receivable_id} was not sold in portfolio {self.id}",
                None,
                keep=keep,
            )
        terms = agreement.putback
        failed = check_request(
            request,
            terms,
            self.closing,
            already_returned=line.state in (S.PUT_BACK, S.REPLACED),
            pending=line.state is S.PUTBACK_REQUESTED,
        )
        if failed is None and request.replacement_id and not terms.replacement_allowed:
            failed = (
                "putback.replacement_allowed",
                "the agreement does not allow replacement instead of a refund",
            )
        if failed is None:
            refund = self._refund(line, agreement, request, collections)
            cap = self._cap_exceeded(agreement, refund)
            failed = ("putback.cap", cap) if cap else None
        if failed is not None:
            return self._reject(request, *failed, line, keep=keep)
        line.move(S.PUTBACK_REQUESTED, request.reason.value)
        decision = PutbackDecision(request.request_id, PutbackStatus.PENDING)
        self.putbacks[request.request_id] = PutbackRecord(request, decision)
        self.events.append(
            PutbackRequested(
                portfolio_id=self.id,
                request_id=request.request_id,
                receivable_id=request.receivable_id,
                reason=request.reason.value,
            )
        )
        return decision

    def _refund(
        self,
        line: PortfolioLine,
        agreement: Agreement,
        request: PutbackRequest,
        collections: Money | None,
    ) -> Money:
        assert line.price is not None
        collected = (collections or Money.zero(self.currency)) + (
            request.buyer_collections or Money.zero(self.currency)
        )
        return refund_for(agreement.putback.refund_method, line.price, collected)

    def decide_putback(
        self,
        request_id: str,
        *,
        accept: bool,
        decided_on: date,
        agreement: Agreement,
        collections: Money | None = None,
        replacement: tuple[Receivable, str] | None = None,
        note: str = "",
        reinstate: bool = False,
    ) -> PutbackDecision:
        """Accept (refund, or replace with ``(receivable, customer_id)``) or decline.

        ``reinstate``: the seller pursues the refunded receivable itself, so it is booked
        back at the refund (DOMAIN: "reinstate it at the refund amount, not at face").
        """
        record = self.putbacks.get(request_id)
        if record is None:
            raise RuleViolation("putback.known", f"no put-back request {request_id}")
        if record.decision.status is not PutbackStatus.PENDING:
            return record.decision  # decided already: deciding again changes nothing
        request = record.request
        line = self.line(request.receivable_id)
        if not accept:
            decision = PutbackDecision(
                request_id,
                PutbackStatus.REJECTED,
                "putback.seller_declined",
                note,
                decided_on=decided_on,
            )
            record.decision = decision
            line.move(S.PUTBACK_REJECTED, decision.rule)
            self._announce_rejection(request, "putback.seller_declined", note)
            return decision
        if replacement is not None:
            return self._replace(record, line, replacement, agreement, decided_on)
        refund = self._refund(line, agreement, request, collections)
        cap = self._cap_exceeded(agreement, refund)
        if cap:
            raise RuleViolation("putback.cap", cap)
        record.decision = PutbackDecision(
            request_id,
            PutbackStatus.ACCEPTED,
            refund=refund,
            decided_on=decided_on,
            reinstated=reinstate and not refund.is_zero,
        )
        line.move(S.PUT_BACK)
        line.returned_on = decided_on
        self.events.append(
            PutbackAccepted(
                portfolio_id=self.id,
                request_id=request_id,
                receivable_id=line.receivable_id,
                refund=refund,
                replacement_id=None,
            )
        )
        return record.decision

    def _replace(
        self,
        record: PutbackRecord,
        line: PortfolioLine,
        replacement: tuple[Receivable, str],
        agreement: Agreement,
        decided_on: date,
    ) -> PutbackDecision:
        substitute, customer_id = replacement
        if not agreement.putback.replacement_allowed:
            raise RuleViolation(
                "putback.replacement_allowed", "the agreement does not allow replacement"
            )
        if substitute.id in self.lines:
            raise RuleViolation(
                "putback.replacement_new", f"{substitute.id} is already in portfolio {self.id}"
            )
        face = substitute.face_on(decided_on)
        assert line.final_face is not None
        if face < line.final_face:
            raise RuleViolation(
                "putback.replacement_face",
                f"replacement face {face} is below the returned {line.final_face}",
            )
        self.lines[substitute.id] = PortfolioLine(
            receivable_id=substitute.id,
            customer_id=customer_id,
            invoice_number=substitute.number,
            face_at_cutoff=face,
            rate=Decimal(0),
            cohort=line.cohort,
            counted_at_cutoff={},
            state=S.SOLD,
            final_face=face,
            days_past_due=substitute.days_past_due(decided_on),
            price=Money.zero(self.currency),
            allowance=Money.zero(self.currency),
            accounted_at_close={
                a.key: (Treatment.IN_FACE, a.amount)
                for a in substitute.applications
                if a.effective <= decided_on
            },
            replaces=line.receivable_id,
        )
        line.move(S.REPLACED)
        line.returned_on = decided_on
        record.decision = PutbackDecision(
            record.request.request_id,
            PutbackStatus.ACCEPTED,
            refund=Money.zero(self.currency),
            replacement_id=substitute.id,
            decided_on=decided_on,
        )
        self.events.append(
            PutbackAccepted(
                portfolio_id=self.id,
                request_id=record.request.request_id,
                receivable_id=line.receivable_id,
                refund=Money.zero(self.currency),
                replacement_id=substitute.id,
            )
        )
        return record.decision

    # ------------------------------------------------------------------ remittances
    def record_remittance(self, remittance: Remittance, outstanding: Money) -> None:
        """Record a payment to the buyer; more than is outstanding is refused."""
        if remittance.remittance_id in self.remittances:
            return
        if not remittance.amount > Money.zero(self.currency):
            raise RuleViolation("remittance.positive", "a remittance must be above zero")
        if remittance.amount > outstanding:
            raise RuleViolation(
                "remittance.exceeds_outstanding",
                f"{remittance.amount} exceeds the {outstanding} outstanding",
            )
        self.remittances[remittance.remittance_id] = remittance
        self.events.append(
            RemittanceRecorded(
                portfolio_id=self.id,
                remittance_id=remittance.remittance_id,
                amount=remittance.amount,
                paid_on=remittance.paid_on,
            )
        )

    @property
    def remitted(self) -> Money:
        """Σ remittances paid to the buyer."""
        return self._sum(r.amount for r in self.remittances.values())

    # ------------------------------------------------------------------ events
    def pull_events(self) -> list[DomainEvent]:
        """Hand over the events raised since the last pull (for the outbox)."""
        events, self.events = self.events, []
        return events
