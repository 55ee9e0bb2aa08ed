"""Everything that produces records: catalogue parsers, generators, decoders, connectors."""

from starbrain._lazy import lazy_exports

_EXPORTS = {
    # records
    "ELEMENTS_SCHEMA": ("starbrain.core.schemas.elements", "ELEMENTS_SCHEMA"),
    "LoadResult": ("records", "LoadResult"),
    "RecordError": ("records", "RecordError"),
    "StarbrainError": ("records", "StarbrainError"),
    # catalogues
    "load_catalog": ("catalogs.catalog", "load_catalog"),
    "parse_catalog_text": ("catalogs.catalog", "parse_catalog_text"),
    "parse_tle": ("catalogs.tle", "parse_tle"),
    "parse_tle_lines": ("catalogs.tle", "parse_tle_lines"),
    "format_tle": ("catalogs.tle", "format_tle"),
    "parse_omm": ("catalogs.omm", "parse_omm"),
    "write_omm": ("catalogs.omm", "write_omm"),
    # precise ephemerides (OEM KVN/XML, SP3)
    "EPHEMERIS_SCHEMA": ("ephemerides.oem", "EPHEMERIS_SCHEMA"),
    "OemSegment": ("ephemerides.oem", "OemSegment"),
    "read_oem": ("ephemerides.oem", "read_oem"),
    "write_oem": ("ephemerides.oem", "write_oem"),
    "write_oem_xml": ("ephemerides.oem", "write_oem_xml"),
    "write_oem_segments": ("ephemerides.oem", "write_oem_segments"),
    "load_ephemeris": ("ephemerides.oem", "load_ephemeris"),
    "read_sp3": ("ephemerides.sp3", "read_sp3"),
    # constellations
    "WalkerShell": ("generators.constellation", "WalkerShell"),
    "generate_constellation": ("generators.constellation", "generate"),
    "generate_preset": ("generators.constellation", "generate_preset"),
    "PRESETS": ("generators.constellation", "PRESETS"),
    "generate_debris": ("generators.debris", "generate_debris"),
    # telemetry
    "load_definitions": ("telemetry.packets", "load_definitions"),
    "load_example_definitions": ("telemetry.packets", "load_example_definitions"),
    "PacketSet": ("telemetry.packets", "PacketSet"),
    "PacketDecoder": ("telemetry.ccsds", "PacketDecoder"),
    "decode_packets": ("telemetry.ccsds", "decode"),
    "encode_packets": ("telemetry.ccsds", "encode_packets"),
    "TELEMETRY_SCHEMA": ("telemetry.ccsds", "TELEMETRY_SCHEMA"),
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
