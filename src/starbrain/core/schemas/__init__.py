"""Every stored or exchanged Arrow schema of starbrain and its key columns, one module per domain.

``core`` imports nothing else of starbrain, so any layer (a source that produces a stream, the
store that registers it, a planner that returns one) takes its schema from here.

* :mod:`~starbrain.core.schemas.elements`: element sets (the ``elements`` stream);
* :mod:`~starbrain.core.schemas.ephemeris`: precise ephemerides (OEM, SP3: ``ephemeris``);
* :mod:`~starbrain.core.schemas.telemetry`: decoded CCSDS telemetry (``telemetry``);
* :mod:`~starbrain.core.schemas.anomalies`: detected anomalies and simulated flights' labels;
* :mod:`~starbrain.core.schemas.decisions`: conjunctions, manoeuvres, passes and contacts;
* :mod:`~starbrain.core.schemas.registry`: the world-model registry (``models``);
* :mod:`~starbrain.core.schemas.vehicle`, :mod:`~starbrain.core.schemas.arm`,
  :mod:`~starbrain.core.schemas.compute`, :mod:`~starbrain.core.schemas.posts`: the fleets.

A stream's schema carries ``{"stream": name, "key": "a,b"}`` metadata; its ``*_KEY`` tuple names
the same columns. Times are ``timestamp[ns, UTC]``; a column's unit is in its name or its field
metadata (``unit``).
"""
