"""The avoidance planner computes what does not depend on the burn once per plan.

On the head-on scenario of ``test_avoidance`` with ``margin=1`` (aim the linear model exactly
at ``pc_max``), the first burn ends a little above ``pc_max`` when re-propagated and is scaled
by 1.3: two burns are fitted and verified, but the no-burn trajectory and fit (``_nominal``)
and the baseline screening (``_baseline``) run once. The real functions run; the test only
counts their calls. The second burn must still pass the verification (Pc under 1e-4).
"""

from __future__ import annotations

import numpy as np

from starbrain.planners import avoidance as av
from tests.planners.test_avoidance import PC_MAX, scenario  # noqa: F401 - the fixture


def test_nominal_and_baseline_once_for_several_burns(scenario, monkeypatch) -> None:  # noqa: F811
    population, table, index = scenario
    calls = {"_nominal": 0, "_baseline": 0, "manoeuvred_elements": 0}
    for name in calls:
        real = getattr(av, name)

        def spy(*args, _real=real, _name=name, **kwargs):
            calls[_name] += 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(av, name, spy)
    plan = av.plan_avoidance(population, table, index, pc_max=PC_MAX, margin=1.0)
    assert len(plan.attempts) >= 2, plan.attempts
    assert calls["manoeuvred_elements"] == len(plan.attempts)
    assert calls["_nominal"] == 1 and calls["_baseline"] == 1
    assert plan.verified and plan.pc_after < PC_MAX


def test_precomputed_nominal_gives_the_same_elements(scenario) -> None:  # noqa: F811
    population, table, index = scenario
    own = population.slice(0, 1)
    tca = np.asarray(table["tca"].to_numpy())[index].astype("datetime64[ns]")
    t_b = tca - np.timedelta64(5400, "s")
    dv = np.array([0.0, 1e-4, 0.0])
    nominal = av._nominal(own, t_b, 7200.0, 60.0)
    a, rms_a = av.manoeuvred_elements(own, t_b, dv, 7200.0)
    b, rms_b = av.manoeuvred_elements(own, t_b, dv, 7200.0, nominal=nominal)
    assert a.equals(b) and rms_a == rms_b
    assert rms_a < 0.005  # km
