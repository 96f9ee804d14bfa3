from aggregates.programme import AuditKind, Auditor, AuditorRole, standings, weighted_sample

D, B, ONE = AuditKind.DETAILED, AuditKind.BRIEF, AuditKind.ONE_TO_ONE


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


def test_who_is_behind_each_quota() -> None:
    auditors = [
        Auditor("Kate", AuditorRole.PARTNERSHIP_COORDINATOR),
        Auditor("Priya", AuditorRole.TEAM_MANAGER, workers=4),
        Auditor("Omar", AuditorRole.SERVICE_MANAGER),
    ]
    done = {("Kate", D): 2, ("Kate", ONE): 3, ("Priya", D): 5, ("Priya", B): 20}
    found = {
        (s.auditor, s.kind): (s.expected, s.completed, s.behind)
        for s in standings(auditors, done, months=3)
    }
    assert found == {
        ("Kate", D): (6, 2, 4), ("Kate", ONE): (3, 3, 0),
        ("Priya", D): (6, 5, 1), ("Priya", B): (24, 20, 4),  # 2 brief audits per worker a month
        ("Omar", D): (1.5, 0, 1.5),  # 6 a year
    }  # fmt: skip
    first = standings(auditors, done, months=3)[0]
    assert (first.auditor, first.behind) in {("Kate", 4), ("Priya", 4)}
