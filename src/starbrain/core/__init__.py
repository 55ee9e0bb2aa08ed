"""The layer under every other: errors, constants, the time converter and record schemas.

``core`` imports nothing else of starbrain, so any layer may import it (DESIGN.md).
"""
