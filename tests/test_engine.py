from hairpin.engine import Engine


def test_events_run_in_time_then_priority_then_schedule_order() -> None:
    e = Engine()
    seen: list[str] = []
    e.at(2.0, lambda: seen.append("t2"))
    e.at(1.0, lambda: seen.append("t1-p1"), priority=1)
    e.at(1.0, lambda: seen.append("t1-p0-a"))
    e.at(1.0, lambda: seen.append("t1-p0-b"))
    e.run()
    assert seen == ["t1-p0-a", "t1-p0-b", "t1-p1", "t2"]
    assert e.now == 2.0


def test_cancelled_timer_does_not_fire_and_until_stops_the_clock() -> None:
    e = Engine()
    seen: list[float] = []
    t = e.after(1.0, lambda: seen.append(1.0))
    e.after(3.0, lambda: seen.append(3.0))
    t.cancel()
    e.run(until=2.0)
    assert seen == [] and e.now == 2.0
    e.run()
    assert seen == [3.0] and e.now == 3.0


def test_events_scheduled_during_run_at_the_same_time_run_after_earlier_ones() -> None:
    e = Engine()
    seen: list[str] = []
    e.at(1.0, lambda: (seen.append("a"), e.after(0.0, lambda: seen.append("c"))))
    e.at(1.0, lambda: seen.append("b"))
    e.run()
    assert seen == ["a", "b", "c"]
