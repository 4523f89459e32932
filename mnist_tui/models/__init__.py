"""Model presets: declarative layer specs, Keras builders and the NumPy scratch net."""
