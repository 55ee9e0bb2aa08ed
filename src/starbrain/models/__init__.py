"""World models: physics prior plus learned residual, detectors, training, registry."""
