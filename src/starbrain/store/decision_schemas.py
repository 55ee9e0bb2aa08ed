"""Moved to :mod:`starbrain.core.schemas` (``decisions``, ``registry``, ``anomalies``); this alias
goes in the next release."""

from starbrain.core.schemas.anomalies import ANOMALIES_KEY as ANOMALIES_KEY
from starbrain.core.schemas.anomalies import ANOMALIES_SCHEMA as ANOMALIES_SCHEMA
from starbrain.core.schemas.decisions import CONJUNCTIONS_KEY as CONJUNCTIONS_KEY
from starbrain.core.schemas.decisions import CONJUNCTIONS_SCHEMA as CONJUNCTIONS_SCHEMA
from starbrain.core.schemas.decisions import COVARIANCE_COLUMNS as COVARIANCE_COLUMNS
from starbrain.core.schemas.decisions import MANOEUVRES_KEY as MANOEUVRES_KEY
from starbrain.core.schemas.decisions import MANOEUVRES_SCHEMA as MANOEUVRES_SCHEMA
from starbrain.core.schemas.decisions import STATE_COLUMNS as STATE_COLUMNS
from starbrain.core.schemas.registry import MODELS_KEY as MODELS_KEY
from starbrain.core.schemas.registry import MODELS_SCHEMA as MODELS_SCHEMA

__all__ = [
    "ANOMALIES_KEY",
    "ANOMALIES_SCHEMA",
    "CONJUNCTIONS_KEY",
    "CONJUNCTIONS_SCHEMA",
    "COVARIANCE_COLUMNS",
    "MANOEUVRES_KEY",
    "MANOEUVRES_SCHEMA",
    "MODELS_KEY",
    "MODELS_SCHEMA",
    "STATE_COLUMNS",
]
