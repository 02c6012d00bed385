# Makes the example's root importable for its tests.
