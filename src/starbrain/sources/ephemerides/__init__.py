"""Precise ephemerides: CCSDS OEM (KVN and XML) read and written, SP3-c/d read, all into the
``ephemeris`` stream."""
