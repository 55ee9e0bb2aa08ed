"""Everything that produces records: catalogue parsers, generators, decoders, connectors."""
