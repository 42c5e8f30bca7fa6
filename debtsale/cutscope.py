"""A cut's scope: only the cohorts the valuation advises to sell, and customers left out.

The controller narrows a cut before it is committed (the console's cut preview, the
CLI's ``--only-advised`` / ``--exclude-customer``). The scope is turned into receivables
to skip, the same way receivables held by another sale are skipped, so the cut itself
is unchanged and its preview is the cut computed without saving.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date

from debtsale.agreement import Agreement
from debtsale.eligibility import assess
from debtsale.ledger import Ledger
from debtsale.lifecycle import ExclusionReason
from debtsale.statute import StatuteTable
from debtsale.valuation import Recommendation, value_receivables

__all__ = ["out_of_scope"]


def out_of_scope(
    ledger: Ledger,
    agreement: Agreement,
    cutoff: date,
    *,
    only_advised: bool = False,
    excluded_customers: Collection[str] = (),
    flags: Mapping[str, Collection[ExclusionReason]] | None = None,
    taken: Collection[str] = (),
) -> frozenset[str]:
    """Receivables a cut with this scope leaves out (besides those it finds ineligible).

    "Only advised" keeps the cohorts whose offer beats internal recovery on the cut-off
    date, judged on the whole cohort (as the valuation page shows it); a left-out
    customer's receivables are skipped whatever their cohort.
    """
    customers = {ledger.customer_of(c) for c in excluded_customers}
    skipped = {r.id for r in ledger.receivables() if ledger.customer_of(r.customer_id) in customers}
    if not only_advised:
        return frozenset(skipped)
    statute = StatuteTable.shipped()
    report = value_receivables(ledger, agreement, cutoff, statute=statute, flags=flags, taken=taken)
    kept = {
        (c.age_bucket, c.balance_tier, c.documentation)
        for c in report.cohorts
        if c.recommendation is Recommendation.KEEP
    }
    if not kept:
        return frozenset(skipped)
    flags = flags or {}
    for receivable in ledger.receivables():
        if receivable.id in skipped or receivable.id in taken:
            continue
        verdict = assess(
            receivable,
            ledger.profile(receivable.customer_id),
            agreement,
            cutoff,
            statute,
            flags.get(receivable.id, ()),
        )
        if verdict.eligible and verdict.segment is not None and verdict.segment.cohort in kept:
            skipped.add(receivable.id)
    return frozenset(skipped)
