"""A/B tests stored per workspace: arms that are post variants (trials = impressions, successes
= the test's metric, both from the variant's totals) or counted elsewhere (counts given through
the API); results with :mod:`dialogo.analytics.abtest`; stopping records the winner."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.accounts.permissions import Permission
from dialogo.accounts.service import Principal, authorize
from dialogo.analytics import abtest
from dialogo.analytics.models import ENGAGEMENT_FIELDS, AbArm, AbTest, MetricVariantTotal
from dialogo.core.errors import Conflict, InvalidInput, NotFound
from dialogo.publishing.models import PostVariant

METRICS = ("clicks", "likes", "replies", "reposts", "engagements")


@dataclasses.dataclass(frozen=True)
class ArmSpec:
    name: str
    weight: float = 1.0
    variant_id: int | None = None
    trials: int = 0
    successes: int = 0


@dataclasses.dataclass(frozen=True)
class ArmResult:
    id: int
    name: str
    weight: float
    variant_id: int | None
    trials: int
    successes: int
    rate: float | None
    probability_best: float
    expected_loss: float
    z: float | None  # against the control (the first arm)
    p_value: float | None
    lift: float | None


@dataclasses.dataclass(frozen=True)
class TestResult:
    id: int
    name: str
    metric: str
    status: str
    loss_threshold: float
    arms: list[ArmResult]
    stop: bool
    winner: str | None
    reason: str
    horizon: int | None
    created_at: dt.datetime
    stopped_at: dt.datetime | None


def create_test(
    session: Session,
    principal: Principal,
    workspace_id: int,
    *,
    name: str,
    arms: list[ArmSpec],
    metric: str = "clicks",
    loss_threshold: float = 0.001,
    alpha: float = 0.05,
    power: float = 0.8,
    min_effect: float = 0.1,
) -> AbTest:
    authorize(session, principal, workspace_id, Permission.posts_write)
    if metric not in METRICS:
        raise InvalidInput(f"unknown metric {metric!r}; use one of {list(METRICS)}")
    if len(arms) < 2:
        raise InvalidInput("an A/B test needs at least two arms", code="too_few_arms")
    if len({a.name for a in arms}) != len(arms):
        raise InvalidInput("the arms need different names", code="duplicate_arm")
    for arm in arms:
        if arm.variant_id is not None:
            variant = session.get(PostVariant, arm.variant_id)
            if variant is None or variant.workspace_id != workspace_id:
                raise NotFound(f"no post variant {arm.variant_id}", code="variant_not_found")
        if arm.successes > arm.trials or arm.trials < 0 or arm.successes < 0 or arm.weight <= 0:
            raise InvalidInput(f"arm {arm.name!r}: impossible counts or weight")
    test = AbTest(
        workspace_id=workspace_id,
        name=name,
        metric=metric,
        loss_threshold=loss_threshold,
        alpha=alpha,
        power=power,
        min_effect=min_effect,
    )
    session.add(test)
    session.flush()
    for arm in arms:
        session.add(
            AbArm(
                test_id=test.id,
                name=arm.name,
                weight=arm.weight,
                variant_id=arm.variant_id,
                trials=arm.trials,
                successes=arm.successes,
            )
        )
    session.flush()
    return test


def _get(session: Session, workspace_id: int, test_id: int) -> AbTest:
    test = session.get(AbTest, test_id)
    if test is None or test.workspace_id != workspace_id:
        raise NotFound("no such A/B test", code="ab_test_not_found")
    return test


def _arms(session: Session, test: AbTest) -> list[AbArm]:
    return list(session.scalars(select(AbArm).where(AbArm.test_id == test.id).order_by(AbArm.id)))


def counts(session: Session, test: AbTest, arms: list[AbArm]) -> list[tuple[int, int]]:
    """(successes, trials) per arm: from the variant's totals for post arms."""
    ids = [a.variant_id for a in arms if a.variant_id is not None]
    totals = {
        t.variant_id: t
        for t in session.scalars(
            select(MetricVariantTotal).where(MetricVariantTotal.variant_id.in_(ids))
        )
    }
    out = []
    for arm in arms:
        if arm.variant_id is None:
            out.append((arm.successes, arm.trials))
            continue
        total = totals.get(arm.variant_id)
        if total is None:
            out.append((0, 0))
            continue
        if test.metric == "engagements":
            success = sum(getattr(total, f) for f in ENGAGEMENT_FIELDS)
        else:
            success = int(getattr(total, test.metric))
        trials = max(total.impressions, success)
        out.append((success, trials))
    return out


def result(session: Session, principal: Principal, workspace_id: int, test_id: int) -> TestResult:
    authorize(session, principal, workspace_id, Permission.analytics_read)
    return _result(session, _get(session, workspace_id, test_id))


def assign(
    session: Session, principal: Principal, workspace_id: int, test_id: int, unit: str
) -> str:
    """The name of the arm ``unit`` belongs to (:func:`abtest.assign`): the arms' weights are
    all it needs, not the test's result (whose Monte Carlo draws would make every assignment
    slow)."""
    authorize(session, principal, workspace_id, Permission.analytics_read)
    arms = _arms(session, _get(session, workspace_id, test_id))
    return arms[abtest.assign(test_id, unit, [a.weight for a in arms])].name


def _result(session: Session, test: AbTest) -> TestResult:
    arms = _arms(session, test)
    found = counts(session, test, arms)
    successes = [s for s, _ in found]
    trials = [n for _, n in found]
    bayes = abtest.bayesian(successes, trials, seed=test.id)
    decision = abtest.decide(
        successes,
        trials,
        loss_threshold=test.loss_threshold,
        alpha=test.alpha,
        power=test.power,
        min_effect=test.min_effect,
        seed=test.id,
        bayes=bayes,
    )
    rows = []
    for i, arm in enumerate(arms):
        z = abtest.z_test(successes[0], trials[0], successes[i], trials[i]) if i else None
        rows.append(
            ArmResult(
                id=arm.id,
                name=arm.name,
                weight=arm.weight,
                variant_id=arm.variant_id,
                trials=trials[i],
                successes=successes[i],
                rate=successes[i] / trials[i] if trials[i] else None,
                probability_best=round(bayes.probability_best[i], 4),
                expected_loss=bayes.expected_loss[i],
                z=z.z if z else None,
                p_value=z.p_value if z else None,
                lift=z.lift if z else None,
            )
        )
    winner = None
    if test.status == "stopped" and test.winner_arm_id is not None:
        winner = next((a.name for a in arms if a.id == test.winner_arm_id), None)
    elif decision.winner is not None:
        winner = arms[decision.winner].name
    return TestResult(
        id=test.id,
        name=test.name,
        metric=test.metric,
        status=test.status,
        loss_threshold=test.loss_threshold,
        arms=rows,
        stop=decision.stop,
        winner=winner,
        reason=decision.reason,
        horizon=decision.horizon,
        created_at=test.created_at,
        stopped_at=test.stopped_at,
    )


def list_results(session: Session, principal: Principal, workspace_id: int) -> list[TestResult]:
    authorize(session, principal, workspace_id, Permission.analytics_read)
    tests = session.scalars(
        select(AbTest).where(AbTest.workspace_id == workspace_id).order_by(AbTest.id.desc())
    )
    return [_result(session, t) for t in tests]


def record_counts(
    session: Session,
    principal: Principal,
    workspace_id: int,
    test_id: int,
    arm_counts: dict[str, tuple[int, int]],
) -> TestResult:
    """Set (successes, trials) of arms that are not post variants, by arm name."""
    authorize(session, principal, workspace_id, Permission.posts_write)
    test = _get(session, workspace_id, test_id)
    if test.status != "running":
        raise Conflict("the test is stopped", code="ab_test_stopped")
    arms = {a.name: a for a in _arms(session, test)}
    for name, (successes, trials) in arm_counts.items():
        arm = arms.get(name)
        if arm is None:
            raise NotFound(f"no arm {name!r}", code="ab_arm_not_found")
        if arm.variant_id is not None:
            raise InvalidInput(f"arm {name!r} is counted from its post", code="arm_is_a_post")
        if trials < 0 or successes < 0 or successes > trials:
            raise InvalidInput(f"arm {name!r}: {successes} successes out of {trials} trials")
        arm.successes, arm.trials = successes, trials
    session.flush()
    return _result(session, test)


def stop_test(
    session: Session, principal: Principal, workspace_id: int, test_id: int, *, now: dt.datetime
) -> TestResult:
    """Stop now: the winner is the stopping rule's, if it has one."""
    authorize(session, principal, workspace_id, Permission.posts_write)
    test = _get(session, workspace_id, test_id)
    if test.status != "running":
        raise Conflict("the test is already stopped", code="ab_test_stopped")
    current = _result(session, test)
    arms = {a.name: a for a in _arms(session, test)}
    test.status = "stopped"
    test.stopped_at = now
    test.winner_arm_id = arms[current.winner].id if current.winner else None
    session.flush()
    return _result(session, test)


def as_dict(found: TestResult) -> dict[str, Any]:
    return dataclasses.asdict(found)
