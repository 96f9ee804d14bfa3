from aggregates.programme import AuditorRole, standings, weighted_sample


def test_the_same_seed_gives_the_same_sample() -> None:
    candidates = [(f"EH-{n}", 1 + n % 4) for n in range(200)]
    assert weighted_sample(candidates, 10, 7) == weighted_sample(list(reversed(candidates)), 10, 7)
    assert weighted_sample(candidates, 10, 7) != weighted_sample(candidates, 10, 8)
    assert len(set(weighted_sample(candidates, 10, 7))) == 10


def test_multi_agency_episodes_are_sampled_more_often() -> None:
    candidates = [(f"ONE-{n}", 1) for n in range(500)] + [(f"FOUR-{n}", 4) for n in range(500)]
    picked = [ref for seed in range(40) for ref in weighted_sample(candidates, 20, seed)]
    four = sum(ref.startswith("FOUR") for ref in picked)
    assert four > 2 * (len(picked) - four)


def test_who_is_behind_their_quota() -> None:
    found = standings(
        {"Kate": AuditorRole.PARTNERSHIP_COORDINATOR, "Priya": AuditorRole.TEAM_MANAGER,
         "Omar": AuditorRole.SERVICE_MANAGER},
        {"Kate": 2, "Priya": 5}, months=3,
    )  # fmt: skip
    assert [(s.auditor, s.expected, s.completed, s.behind) for s in found] == [
        ("Kate", 6, 2, 4), ("Omar", 1.5, 0, 1.5), ("Priya", 6, 5, 1),
    ]  # fmt: skip
