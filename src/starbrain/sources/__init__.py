"""Everything that produces records: catalogue parsers, generators, decoders, connectors."""

from starbrain._lazy import lazy_exports

_EXPORTS = {
    # records
    "ELEMENTS_SCHEMA": ("starbrain.core.schemas.elements", "ELEMENTS_SCHEMA"),
    "LoadResult": ("records", "LoadResult"),
    "RecordError": ("records", "RecordError"),
    "StarbrainError": ("records", "StarbrainError"),
    # catalogues
    "load_catalog": ("catalog", "load_catalog"),
    "parse_catalog_text": ("catalog", "parse_catalog_text"),
    "parse_tle": ("tle", "parse_tle"),
    "parse_tle_lines": ("tle", "parse_tle_lines"),
    "format_tle": ("tle", "format_tle"),
    "parse_omm": ("omm", "parse_omm"),
    "write_omm": ("omm", "write_omm"),
    # precise ephemerides (OEM KVN/XML, SP3)
    "EPHEMERIS_SCHEMA": ("oem", "EPHEMERIS_SCHEMA"),
    "OemSegment": ("oem", "OemSegment"),
    "read_oem": ("oem", "read_oem"),
    "write_oem": ("oem", "write_oem"),
    "write_oem_xml": ("oem", "write_oem_xml"),
    "write_oem_segments": ("oem", "write_oem_segments"),
    "load_ephemeris": ("oem", "load_ephemeris"),
    "read_sp3": ("sp3", "read_sp3"),
    # constellations
    "WalkerShell": ("constellation", "WalkerShell"),
    "generate_constellation": ("constellation", "generate"),
    "generate_preset": ("constellation", "generate_preset"),
    "PRESETS": ("constellation", "PRESETS"),
    "generate_debris": ("debris", "generate_debris"),
    # telemetry
    "load_definitions": ("packets", "load_definitions"),
    "load_example_definitions": ("packets", "load_example_definitions"),
    "PacketSet": ("packets", "PacketSet"),
    "PacketDecoder": ("ccsds", "PacketDecoder"),
    "decode_packets": ("ccsds", "decode"),
    "encode_packets": ("ccsds", "encode_packets"),
    "TELEMETRY_SCHEMA": ("ccsds", "TELEMETRY_SCHEMA"),
    "replay_telemetry": ("transport.replay", "replay"),
    "listen_telemetry": ("transport.udp", "listen"),
    "UdpListener": ("transport.udp", "UdpListener"),
    "TcpListener": ("transport.tcp", "TcpListener"),
    "listen_telemetry_tcp": ("transport.tcp", "listen_tcp"),
    # brokers
    "BrokerReport": ("transport", "BrokerReport"),
    "NatsSubscription": ("transport", "NatsSubscription"),
    "MqttSubscription": ("transport", "MqttSubscription"),
    "subscribe_telemetry": ("transport", "subscribe"),
    "publish_telemetry": ("transport", "publish"),
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
