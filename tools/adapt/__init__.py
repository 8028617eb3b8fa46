"""The DiffuSmol adaptation tool (opt-in: torch): adapt.py, its tests and the learning-curve plot."""
