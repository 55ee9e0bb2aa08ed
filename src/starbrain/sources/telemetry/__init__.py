"""CCSDS Space Packet telemetry: packet definitions (``packets``, the YAML files in
``definitions/``) and the decoder/encoder (``ccsds`` and its ``ccsds_*`` parts), into the
``telemetry`` stream. Transports (file replay, UDP, TCP, NATS, MQTT) are in
:mod:`starbrain.sources.transport`."""
