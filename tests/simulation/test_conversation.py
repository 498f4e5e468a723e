"""People expect answers, and grow more negative when ignored."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from dialogo.simulation import Event, Message, World, follow_up_behaviour
from dialogo.simulation.conversation import MAX_ANSWER_HOURS, working_answer_time
from dialogo.simulation.events import BrandReply
from dialogo.simulation.world import epoch_day


@pytest.mark.parametrize("negative", [False, True])
def test_behaviour_worsens_with_delay(negative: bool) -> None:
    delays: list[float | None] = [0.25, 1, 2, 4, 6, 8, 12, 24, 48, None]
    behaviours = [follow_up_behaviour(d, 4.0, negative=negative) for d in delays]
    for earlier, later in itertools.pairwise(behaviours):
        assert later.negative >= earlier.negative - 1e-12
        assert later.thanks <= earlier.thanks + 1e-12
        assert later.escalation + later.churn >= earlier.escalation + earlier.churn - 1e-12
    prompt, ignored = behaviours[0], behaviours[-1]
    assert prompt.thanks > 0.4 and prompt.chase == 0 and prompt.negative < 0.1
    assert ignored.thanks == 0 and ignored.negative > 0.5
    for behaviour in behaviours:
        assert abs(sum(p for _, p in behaviour.outcomes()) - 1.0) < 1e-9
    with pytest.raises(ValueError):
        follow_up_behaviour(1.0, 0.0)


def test_working_hours_delay_answers(world: World) -> None:
    mapper = world.mapper
    # Friday 17:30 in Rome (16:30 UTC in winter), a team working 9–18, Monday to Saturday.
    friday = int(dt.datetime(2026, 1, 16, 16, 30, tzinfo=dt.UTC).timestamp())
    answer = working_answer_time(mapper, friday, 2.0, (9, 18))
    assert answer is not None
    # Half an hour on Friday, then 1.5 hours from Saturday 09:00 → Saturday 10:30 local.
    assert answer == int(dt.datetime(2026, 1, 17, 9, 30, tzinfo=dt.UTC).timestamp())
    assert working_answer_time(mapper, friday, 40.0, (9, 18)) is None  # beyond the cap
    assert MAX_ANSWER_HOURS >= 48


def _roots(events: list[Event]) -> list[Message]:
    return [
        e
        for e in events
        if isinstance(e, Message) and e.expects_answer and e.followup is None and e.brand
    ]


def test_follow_up_is_a_pure_function_of_message_and_answer(
    world: World, week: list[Event]
) -> None:
    roots = _roots(week)
    assert len(roots) > 50
    for message in roots:
        never = world.follow_up(message, None)
        assert world.follow_up(message, None) == never
        late = world.follow_up(message, message.at + dt.timedelta(days=3))
        # A chase written before any answer is the same whether or not an answer comes later.
        chases = [m for m in never if m.followup == "waiting"]
        assert chases == [m for m in late if m.followup == "waiting"]
        for reply in never + late:
            assert reply.conversation_id == message.conversation_id
            assert reply.in_reply_to == message.id and reply.at > message.at
            assert reply.at - message.at <= dt.timedelta(hours=90)


def test_ignored_people_write_more_negative_follow_ups(world: World, week: list[Event]) -> None:
    roots = _roots(week)
    prompt_neg = ignored_neg = 0
    for message in roots:
        prompt = world.follow_up(message, message.at + dt.timedelta(minutes=20))
        ignored = world.follow_up(message, None)
        prompt_neg += sum(m.sentiment == "neg" for m in prompt)
        ignored_neg += sum(m.sentiment == "neg" for m in ignored)
        assert all(m.sentiment in ("pos", "neg") for m in prompt + ignored)
    assert ignored_neg > 5 * max(prompt_neg, 1)


def test_autopilot_answers_and_stops_at_live_from(world: World) -> None:
    live = world.config.live_from
    day = epoch_day(live) - 1
    before = [e for d in range(day - 6, day) for e in world.day_events(d)]
    replies = [e for e in before if isinstance(e, BrandReply)]
    assert {r.brand for r in replies} >= {"caffeaurora", "dolceforno"}
    for reply in replies:
        assert reply.delay_hours > 0
    after = [
        e for d in range(epoch_day(live) + 1, epoch_day(live) + 4) for e in world.day_events(d)
    ]
    assert not [e for e in after if isinstance(e, BrandReply) and e.brand == "caffeaurora"]
    assert [e for e in after if isinstance(e, BrandReply) and e.brand != "caffeaurora"]
    # The workspace brand's own posts stop too: from then on people publish them.
    posts = [spec.brand for spec, _ in world.scheduled_posts(epoch_day(live) + 1)]
    assert "caffeaurora" not in posts


def test_answered_brands_get_fewer_escalations(world: World, week: list[Event]) -> None:
    rate: dict[str, list[int]] = {}
    roots = {m.id: m for m in _roots(week)}
    escalations = {
        e.in_reply_to
        for e in week
        if isinstance(e, Message) and e.followup in ("escalation", "churn")
    }
    for message in roots.values():
        assert message.brand is not None
        rate.setdefault(message.brand, [0, 0])
        rate[message.brand][0] += message.id in escalations
        rate[message.brand][1] += 1
    share = {brand: hits / total for brand, (hits, total) in rate.items()}
    # Dolce Forno answers 85 % within ~1.5 working hours, Moka Nera 30 % in ~20.
    assert share["dolceforno"] < share["mokanera"]
