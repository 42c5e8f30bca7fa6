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

from debtsale import closing as closing_rules
from debtsale import returns
from debtsale.agreement import Agreement
from debtsale.eligibility import Eligibility, assess
from debtsale.errors import RuleViolation
from debtsale.events import (
    DomainEvent,
    PortfolioCut,
    ReceivableRemoved,
    RemittanceRecorded,
)
from debtsale.ledger import Ledger, Receivable
from debtsale.lifecycle import HELD, ExclusionReason, ReceivableState, check_transition
from debtsale.lines import (
    Adjustment,
    AnnouncedCandidate,
    AnnouncedDue,
    PortfolioLine,
    PortfolioStatus,
    Remittance,
    Treatment,
)
from debtsale.money import Money, total
from debtsale.putback import (
    PutbackDecision,
    PutbackRecord,
    PutbackRequest,
    PutbackStatus,
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
    def require_live(self, action: str) -> None:
        if not self.live:
            raise RuleViolation(
                "portfolio.closed", f"cannot {action}: portfolio {self.id} is already closed"
            )

    def remove(self, receivable_id: str, reason: ExclusionReason | str) -> None:
        """Drop a receivable before closing, with the reason."""
        self.require_live("remove a receivable")
        self.remove_line(self.line(receivable_id), str(reason))

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
        closing_rules.close(self, agreement, ledger, closing, flags=flags, allowances=allowances)

    def remove_line(self, line: PortfolioLine, reason: str) -> None:
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
        return returns.request_putback(
            self, request, agreement, collections, keep_rejection=keep_rejection
        )

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
        return returns.decide_putback(
            self,
            request_id,
            accept=accept,
            decided_on=decided_on,
            agreement=agreement,
            collections=collections,
            replacement=replacement,
            note=note,
            reinstate=reinstate,
        )

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
