"""The simulator's plans: the dated steps of one episode's history, drawn from generators seeded
by the run's seed and the episode's number. `ehqa.simulate` runs them through the domain.

- `plan`: one episode's plan and its generator.
- `scenarios`: the scenarios (on time, late assessment, drifting ...), the visits and reviews.
- `family`: the family's feedback, the Level 2 Panel and Supporting Families' needs and outcomes.
"""
